using Microkernel.Contracts;

namespace Fixture.Trivial;

public sealed class Trivial : Processing
{
    public override string Key => "trivial";

    public override Task<object?> RunAsync(CancellationToken cancellationToken)
    {
        // A non-fatal problem the module reports and then carries on from.
        if (Options.GetString("report_error") is { } problem)
        {
            Context.ReportError(problem);
        }
        return Task.FromResult<object?>(
            new Dictionary<string, object?> { ["task"] = TaskInfo.Id, ["ok"] = true }
        );
    }
}
