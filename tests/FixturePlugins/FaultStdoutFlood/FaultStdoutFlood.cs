using Microkernel.Contracts;

namespace Fixture.FaultStdoutFlood;

/// <summary>
/// Fault matrix: writes <c>megabytes</c> (default 1024) MiB to the process's raw stdout in 1 MiB
/// writes, without a single line break, so a reader that waits for end-of-line never gets one.
/// </summary>
public sealed class FaultStdoutFlood : Processing
{
    public override string Key => "fault_stdout_flood";

    public override Task<object?> RunAsync(CancellationToken cancellationToken)
    {
        var megabytes = Options.GetInt32("megabytes", 1024);
        var chunk = new byte[1 << 20];
        Array.Fill(chunk, (byte)'x');
        using var stdout = Console.OpenStandardOutput();
        for (var i = 0; i < megabytes; i++)
        {
            stdout.Write(chunk);
        }
        stdout.Flush();
        return Task.FromResult<object?>(
            new Dictionary<string, object?> { ["megabytes"] = megabytes }
        );
    }
}
