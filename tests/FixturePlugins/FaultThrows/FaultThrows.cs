using Microkernel.Contracts;

namespace Fixture.FaultThrows;

/// <summary>Fault matrix: a plain bug.</summary>
public sealed class FaultThrows : Processing
{
    public override string Key => "fault_throws";

    public override Task<object?> RunAsync(CancellationToken cancellationToken) =>
        throw new InvalidOperationException("fault fixture: thrown on purpose");
}
