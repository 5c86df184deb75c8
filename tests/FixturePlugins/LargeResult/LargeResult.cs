using Microkernel.Contracts;

namespace Fixture.LargeResult;

/// <summary>Returns `megabytes` MB of strings, as a huge behaviour log would.</summary>
public sealed class LargeResult : Processing
{
    public override string Key => "large";

    public override Task<object?> RunAsync(CancellationToken cancellationToken)
    {
        var megabytes = Options.GetInt32("megabytes", 64);
        var line = new string('x', 1000);
        var lines = new List<Row>(megabytes * 1000);
        for (var i = 0; i < megabytes * 1000; i++)
        {
            lines.Add(new Row(i, line));
        }
        return Task.FromResult<object?>(new Payload(lines.Count, lines));
    }

    public sealed record Row(int Index, string Text);

    public sealed record Payload(int Count, List<Row> Rows);
}
