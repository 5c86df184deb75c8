using Microkernel.Contracts;

namespace Fixture.FaultExit;

/// <summary>Fault matrix: ends whatever process it runs in.</summary>
public sealed class FaultExit : Processing
{
    public override string Key => "fault_exit";

    public override Task<object?> RunAsync(CancellationToken cancellationToken)
    {
        Environment.Exit(3);
        return Task.FromResult<object?>(null);
    }
}
