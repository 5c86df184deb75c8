using Microkernel.Contracts;

namespace Fixture.FaultOutOfMemory;

/// <summary>Fault matrix: allocates and touches memory until the runtime gives up.</summary>
public sealed class FaultOutOfMemory : Processing
{
    public override string Key => "fault_out_of_memory";

    public override Task<object?> RunAsync(CancellationToken cancellationToken)
    {
        var hoard = new List<byte[]>();
        while (true)
        {
            var chunk = new byte[16 << 20];
            // Touch every page so the memory is really resident, not just reserved.
            for (var i = 0; i < chunk.Length; i += 4096)
            {
                chunk[i] = 1;
            }
            hoard.Add(chunk);
        }
    }
}
