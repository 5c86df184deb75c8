using Microkernel.Contracts;

namespace Fixture.Sleepy;

/// <summary>Takes <c>milliseconds</c> (its conf section) to finish, honouring cancellation: a task long enough to kill or stop mid-way.</summary>
public sealed class Sleepy : Processing
{
    public override string Key => "sleepy";

    public override async Task<object?> RunAsync(CancellationToken cancellationToken)
    {
        var milliseconds = Options.GetInt32("milliseconds", 0);
        await Task.Delay(milliseconds, cancellationToken);
        return new Dictionary<string, object?> { ["task"] = TaskInfo.Id, ["slept"] = milliseconds };
    }
}
