using Microkernel.Contracts;

namespace Fixture.FaultCpuLoop;

/// <summary>Fault matrix: spins on a core forever and never looks at its token.</summary>
public sealed class FaultCpuLoop : Processing
{
    private static long s_spins;

    public override string Key => "fault_cpu_loop";

    public override Task<object?> RunAsync(CancellationToken cancellationToken)
    {
        // Volatile so the JIT cannot prove the loop has no effect.
        while (true)
        {
            Volatile.Write(ref s_spins, Volatile.Read(ref s_spins) + 1);
        }
    }
}
