using Microkernel.Contracts;

namespace Fixture.Trivial;

public sealed class Trivial : Processing
{
    public override string Key => "trivial";

    public override Task<object?> RunAsync(CancellationToken cancellationToken) =>
        Task.FromResult<object?>(
            new Dictionary<string, object?> { ["task"] = TaskInfo.Id, ["ok"] = true }
        );
}
