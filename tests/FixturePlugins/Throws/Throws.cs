using Microkernel.Contracts;

namespace Fixture.Throws;

public sealed class Throws : Processing
{
    public override string Key => "throws";

    public override Task<object?> RunAsync(CancellationToken cancellationToken) =>
        throw new InvalidOperationException("fixture bug: index out of patience");
}
