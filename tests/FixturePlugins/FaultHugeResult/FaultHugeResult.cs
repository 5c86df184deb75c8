using Microkernel.Contracts;

namespace Fixture.FaultHugeResult;

/// <summary>
/// Fault matrix: returns <c>lines</c> (default 500,000) strings of 1,000 characters, a 500 MB
/// section, produced lazily while the host serialises it so the module itself stays small.
/// </summary>
public sealed class FaultHugeResult : Processing
{
    public const int LineLength = 1000;

    public override string Key => "fault_huge_result";

    public override Task<object?> RunAsync(CancellationToken cancellationToken) =>
        Task.FromResult<object?>(Lines(Options.GetInt32("lines", 500_000)));

    private static IEnumerable<string> Lines(int count)
    {
        var line = new string('x', LineLength);
        for (var i = 0; i < count; i++)
        {
            yield return line;
        }
    }
}
