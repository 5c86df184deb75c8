using System.Diagnostics;
using System.Text;
using System.Text.Json;
using CliWrap;

namespace Microkernel.Plugins.Memory.Volatility;

/// <summary>How one plugin run ended.</summary>
internal enum PluginOutcome
{
    Succeeded,
    NonZeroExit,
    MalformedOutput,
    OutputLimit,
    TimedOut,
    FailedToStart,
}

/// <summary>What one <c>vol</c> invocation produced besides its rows.</summary>
internal sealed record PluginRun(
    PluginOutcome Outcome,
    int? ExitCode,
    string? Error,
    long Rows,
    long OutputBytes,
    TimeSpan Duration
);

/// <summary>
/// Runs one Volatility 3 plugin through CliWrap and streams its JSON rows into a mapper as they
/// arrive. A timeout interrupts the tool (SIGINT / Ctrl+C) and, after the grace period, kills its
/// process tree. Every failure is returned, never thrown, except the caller's own cancellation.
/// </summary>
internal static class VolatilityRunner
{
    private const int StderrTailBytes = 4096;

    public static async Task<PluginRun> RunAsync(
        string volatility,
        IReadOnlyList<string> arguments,
        string workingDirectory,
        TimeSpan timeout,
        TimeSpan grace,
        int maxRowBytes,
        long maxOutputBytes,
        Action<RawRow> onRow,
        CancellationToken cancellationToken
    )
    {
        var stopwatch = Stopwatch.StartNew();
        // Reads as large as the raised pipe capacity (PipeCapacity): fewer async round trips.
        var reader = new JsonRowReader(maxRowBytes, maxOutputBytes, PipeCapacity.Preferred);
        var stderr = new TailBuffer(StderrTailBytes);
        ToolOutputException? outputError = null;

        using var graceful = new CancellationTokenSource();
        using var forceful = new CancellationTokenSource();
        graceful.CancelAfter(timeout);
        forceful.CancelAfter(timeout + grace);
        using var callerRegistration = cancellationToken.Register(() =>
        {
            graceful.Cancel();
            forceful.CancelAfter(grace);
        });

        var stdout = PipeTarget.Create(
            async (stream, ct) =>
            {
                // A pipe target must not throw (CliWrap#212) and must keep reading, or the tool
                // blocks on a full pipe: record the problem, then drain.
                PipeCapacity.TryRaise(stream);
                try
                {
                    await reader.ReadRowsAsync(stream, onRow, ct).ConfigureAwait(false);
                }
                catch (ToolOutputException ex)
                {
                    outputError = ex;
                    if (ex.Offset >= maxOutputBytes)
                    {
                        // A tool that floods its output is stopped like a timed-out one.
                        await graceful.CancelAsync().ConfigureAwait(false);
                        forceful.CancelAfter(grace);
                    }
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                try
                {
                    await stream.CopyToAsync(Stream.Null, ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException) { }
                catch (IOException) { }
            }
        );

        var command = Cli.Wrap(volatility)
            .WithArguments(arguments)
            .WithWorkingDirectory(workingDirectory)
            .WithValidation(CommandResultValidation.None)
            .WithStandardOutputPipe(stdout)
            .WithStandardErrorPipe(PipeTarget.Create(stderr.ConsumeAsync));

        int? exitCode = null;
        try
        {
            var result = await command
                .ExecuteAsync(forceful.Token, graceful.Token)
                .ConfigureAwait(false);
            exitCode = result.ExitCode;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (OperationCanceledException)
        {
            var limit = outputError is not null && outputError.Offset >= maxOutputBytes;
            return new PluginRun(
                limit ? PluginOutcome.OutputLimit : PluginOutcome.TimedOut,
                null,
                limit
                    ? $"stopped: {outputError!.Message}"
                    : $"timed out after {timeout.TotalSeconds:0.###} s and was stopped{StderrSuffix(stderr)}",
                reader.Rows,
                reader.BytesRead,
                stopwatch.Elapsed
            );
        }
        catch (Exception ex)
            when (ex
                    is InvalidOperationException
                        or System.ComponentModel.Win32Exception
                        or TimeoutException
            )
        {
            return new PluginRun(
                ex is TimeoutException ? PluginOutcome.TimedOut : PluginOutcome.FailedToStart,
                null,
                ex.Message,
                reader.Rows,
                reader.BytesRead,
                stopwatch.Elapsed
            );
        }

        if (exitCode != 0)
        {
            return new PluginRun(
                PluginOutcome.NonZeroExit,
                exitCode,
                $"exited with code {exitCode}{StderrSuffix(stderr)}",
                reader.Rows,
                reader.BytesRead,
                stopwatch.Elapsed
            );
        }
        if (outputError is not null)
        {
            return new PluginRun(
                PluginOutcome.MalformedOutput,
                exitCode,
                $"unreadable output at byte {outputError.Offset}: {outputError.Message}",
                reader.Rows,
                reader.BytesRead,
                stopwatch.Elapsed
            );
        }
        return new PluginRun(
            PluginOutcome.Succeeded,
            exitCode,
            null,
            reader.Rows,
            reader.BytesRead,
            stopwatch.Elapsed
        );
    }

    private static string StderrSuffix(TailBuffer stderr)
    {
        var text = stderr.ToString().Trim();
        return text.Length == 0 ? "" : $"; stderr: {text}";
    }

    /// <summary>Keeps the last bytes of a stream: enough to explain a failure, never the whole stream.</summary>
    private sealed class TailBuffer(int capacity)
    {
        private readonly byte[] _ring = new byte[capacity];
        private long _total;

        public async Task ConsumeAsync(Stream stream, CancellationToken cancellationToken)
        {
            var chunk = new byte[4096];
            try
            {
                int read;
                while (
                    (read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false))
                    > 0
                )
                {
                    for (var i = 0; i < read; i++)
                    {
                        _ring[(_total + i) % _ring.Length] = chunk[i];
                    }
                    _total += read;
                }
            }
            catch (OperationCanceledException) { }
            catch (IOException) { }
        }

        public override string ToString()
        {
            var length = (int)Math.Min(_total, _ring.Length);
            var bytes = new byte[length];
            for (var i = 0; i < length; i++)
            {
                bytes[i] = _ring[(_total - length + i) % _ring.Length];
            }
            return Encoding.UTF8.GetString(bytes);
        }
    }
}
