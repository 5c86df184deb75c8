using System.Runtime.InteropServices;
using Microkernel.Contracts;

namespace Fixture.FaultNativeMemory;

/// <summary>
/// Fault matrix: allocates and touches native memory, which no GC heap limit sees, as a leaking
/// native library would. Stops by itself at <c>max_megabytes</c> (default 4096) so that a
/// watchdog that fails to act cannot take the whole machine.
/// </summary>
public sealed class FaultNativeMemory : Processing
{
    public override string Key => "fault_native_memory";

    public override unsafe Task<object?> RunAsync(CancellationToken cancellationToken)
    {
        const int Chunk = 16 << 20;
        var max = Options.GetInt32("max_megabytes", 4096);
        var chunks = new List<IntPtr>();
        try
        {
            while (chunks.Count * 16 < max)
            {
                var memory = NativeMemory.Alloc(Chunk);
                chunks.Add((IntPtr)memory);
                // Written, so resident.
                NativeMemory.Fill(memory, Chunk, 1);
            }
            return Task.FromResult<object?>(
                new Dictionary<string, object?> { ["megabytes"] = chunks.Count * 16 }
            );
        }
        finally
        {
            foreach (var memory in chunks)
            {
                NativeMemory.Free((void*)memory);
            }
        }
    }
}
