using System.Diagnostics;
using System.Text;

namespace Microkernel.Host.Tests.Running.Faults;

/// <summary>What a child process wrote to one stream: its size, and its first and last bytes.</summary>
internal sealed record CapturedOutput(long Bytes, string Head, string Tail)
{
    public override string ToString() =>
        Bytes <= HostRun.KeptBytes ? Head : $"{Head}\n[... {Bytes} bytes in all ...]\n{Tail}";
}

/// <summary>How a child process ended.</summary>
internal sealed record HostRunResult(
    int ExitCode,
    TimeSpan Elapsed,
    CapturedOutput Stdout,
    CapturedOutput Stderr
);

/// <summary>
/// Runs a child process to its end under a hard wall-clock limit, draining its stdout and
/// stderr (a fault writes a gigabyte there) while keeping only their first and last bytes.
/// </summary>
internal static class HostRun
{
    internal const int KeptBytes = 8 << 10;

    /// <exception cref="TimeoutException">It overran <paramref name="limit"/>; its process tree was killed.</exception>
    public static async Task<HostRunResult> RunAsync(
        ProcessStartInfo start,
        TimeSpan limit,
        CancellationToken cancellationToken = default
    )
    {
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.RedirectStandardInput = true;
        start.UseShellExecute = false;
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = DrainAsync(process.StandardOutput.BaseStream);
        var stderr = DrainAsync(process.StandardError.BaseStream);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(limit);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
            // A grandchild that inherited the pipes could keep them open forever.
            await Task.WhenAll(stdout, stderr).WaitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            var output = await Task.WhenAll(stdout, stderr).WaitAsync(TimeSpan.FromSeconds(10));
            throw new TimeoutException(
                $"{start.FileName} {string.Join(' ', start.ArgumentList)} did not finish within {limit.TotalSeconds:0} s; its process tree was killed.\nstdout: {output[0]}\nstderr: {output[1]}"
            );
        }
        return new HostRunResult(process.ExitCode, clock.Elapsed, await stdout, await stderr);
    }

    private static async Task<CapturedOutput> DrainAsync(Stream stream)
    {
        var buffer = new byte[1 << 20];
        var head = new byte[KeptBytes];
        var headLength = 0;
        var tail = new byte[KeptBytes];
        var tailLength = 0;
        long total = 0;
        int n;
        while ((n = await stream.ReadAsync(buffer)) > 0)
        {
            total += n;
            if (headLength < KeptBytes)
            {
                var take = Math.Min(n, KeptBytes - headLength);
                Array.Copy(buffer, 0, head, headLength, take);
                headLength += take;
            }
            if (n >= KeptBytes)
            {
                Array.Copy(buffer, n - KeptBytes, tail, 0, KeptBytes);
                tailLength = KeptBytes;
            }
            else
            {
                var keep = Math.Min(tailLength, KeptBytes - n);
                Array.Copy(tail, tailLength - keep, tail, 0, keep);
                Array.Copy(buffer, 0, tail, keep, n);
                tailLength = keep + n;
            }
        }
        return new CapturedOutput(
            total,
            Encoding.UTF8.GetString(head, 0, headLength),
            Encoding.UTF8.GetString(tail, 0, tailLength)
        );
    }
}
