using System.Diagnostics;
using System.IO.Pipes;
using System.Text;
using Microkernel.Host.Results;
using Microkernel.Host.Telemetry;
using Microsoft.Extensions.Logging;

namespace Microkernel.Host.Isolation;

/// <summary>A worker died (or was killed) while the host waited on it.</summary>
internal sealed class WorkerDiedException(string message, bool memoryLimit) : Exception(message)
{
    /// <summary>The resident-memory watchdog killed it.</summary>
    public bool MemoryLimit { get; } = memoryLimit;
}

/// <summary>
/// One <c>microkernel worker</c> process seen from the host: the framed channel on a local pipe,
/// its stdout and stderr drained into the log (a module may write gigabytes there), a
/// resident-memory watchdog, and the cause of its death in words.
/// </summary>
internal sealed class WorkerProcess : IAsyncDisposable
{
    private const int LoggedOutputBytes = 16 << 10;
    private const int KeptStderrBytes = 8 << 10;
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan WatchdogPeriod = TimeSpan.FromMilliseconds(100);

    private readonly Process _process;
    private readonly WorkerChannel _channel;
    private readonly ILogger _logger;
    private readonly ILoggerFactory _loggerFactory;
    private readonly long _residentLimitBytes;
    private readonly StringBuilder _stderrHead = new();
    private readonly TaskCompletionSource _exited = new(
        TaskCreationOptions.RunContinuationsAsynchronously
    );
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _lock = new();
    private Task _reader = Task.CompletedTask;
    private Task _stdout = Task.CompletedTask;
    private Task _stderr = Task.CompletedTask;
    private Task _watchdog = Task.CompletedTask;
    private TaskCompletionSource<WorkerMessage>? _pending;
    private RunSink? _run;
    private string? _killReason;
    private bool _killedForMemory;
    private string? _deathCause;

    private WorkerProcess(
        Process process,
        WorkerChannel channel,
        long residentLimitBytes,
        ILoggerFactory loggerFactory
    )
    {
        _process = process;
        _channel = channel;
        _residentLimitBytes = residentLimitBytes;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger("Microkernel.Worker");
    }

    public int Pid => _process.Id;

    public bool IsAlive => !_exited.Task.IsCompleted;

    /// <summary>Starts a worker whose GC heap is capped at <paramref name="memoryLimitMiB"/>.</summary>
    public static async Task<WorkerProcess> StartAsync(
        long memoryLimitMiB,
        ILoggerFactory loggerFactory,
        CancellationToken cancellationToken
    )
    {
        var pipeName = $"mk-{Environment.ProcessId}-{Guid.NewGuid():N}"[..24];
        var server = new NamedPipeServerStream(
            pipeName,
            PipeDirection.InOut,
            1,
            PipeTransmissionMode.Byte,
            PipeOptions.Asynchronous
        );
        var startInfo = WorkerLauncher.StartInfo(pipeName);
        var limitBytes = memoryLimitMiB << 20;
        startInfo.Environment["DOTNET_GCHeapHardLimit"] = $"0x{limitBytes:X}";
        startInfo.Environment.Remove("DOTNET_gcServer");
        Process process;
        try
        {
            process =
                Process.Start(startInfo)
                ?? throw new InvalidOperationException($"{startInfo.FileName} did not start");
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        // Resident memory includes the runtime and native buffers on top of the GC heap.
        var worker = new WorkerProcess(
            process,
            new WorkerChannel(server),
            limitBytes + (256L << 20),
            loggerFactory
        );
        worker._stdout = worker.DrainAsync(process.StandardOutput.BaseStream, "stdout", null);
        worker._stderr = worker.DrainAsync(
            process.StandardError.BaseStream,
            "stderr",
            worker._stderrHead
        );
        process.StandardInput.Close();
        try
        {
            using var connect = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            connect.CancelAfter(ConnectTimeout);
            var connected = server.WaitForConnectionAsync(connect.Token);
            var exited = process.WaitForExitAsync(connect.Token);
            if (await Task.WhenAny(connected, exited).ConfigureAwait(false) != connected)
            {
                await worker._stderr.WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
                throw new InvalidOperationException(
                    $"the worker exited with code {process.ExitCode} before connecting{worker.StderrSummary()}"
                );
            }
            await connected.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            worker.Kill("it failed to start");
            await worker.DisposeAsync().ConfigureAwait(false);
            throw ex is OperationCanceledException && !cancellationToken.IsCancellationRequested
                ? new TimeoutException(
                    $"the worker did not connect within {ConnectTimeout.TotalSeconds:0} s"
                )
                : ex;
        }
        worker._reader = worker.ReadLoopAsync();
        worker._watchdog = worker.WatchAsync();
        return worker;
    }

    /// <summary>Sends a request and waits for its reply.</summary>
    /// <exception cref="WorkerDiedException">The worker died first.</exception>
    public async Task<TReply> RequestAsync<TReply>(
        WorkerMessage request,
        TimeSpan timeout,
        RunSink? sink = null
    )
        where TReply : WorkerMessage
    {
        var pending = new TaskCompletionSource<WorkerMessage>(
            TaskCreationOptions.RunContinuationsAsynchronously
        );
        lock (_lock)
        {
            if (!IsAlive)
            {
                throw new WorkerDiedException(DeathCause(), _killedForMemory);
            }
            _pending = pending;
            _run = sink;
        }
        try
        {
            _channel.Send(request);
        }
        catch (IOException)
        {
            await _exited.Task.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        var reply = await pending.Task.WaitAsync(timeout).ConfigureAwait(false);
        return reply as TReply
            ?? throw new InvalidDataException(
                $"expected a {typeof(TReply).Name}, got {reply.GetType().Name}"
            );
    }

    /// <summary>The run's reply, once it comes (see <see cref="RequestAsync"/>).</summary>
    public Task<RunReply> RunAsync(RunRequest request, RunSink sink) =>
        RequestAsync<RunReply>(request, Timeout.InfiniteTimeSpan, sink);

    /// <summary>Asks the running module to stop; fire and forget.</summary>
    public void Cancel()
    {
        try
        {
            _channel.Send(new CancelRequest());
        }
        catch (IOException) { }
        catch (ObjectDisposedException) { }
    }

    /// <summary>Kills the worker's whole process tree.</summary>
    public void Kill(string reason)
    {
        lock (_lock)
        {
            _killReason ??= reason;
        }
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException) { }
        catch (System.ComponentModel.Win32Exception) { }
    }

    /// <summary>Waits for the worker to be gone, killing it after <paramref name="wait"/>.</summary>
    public async Task WaitForExitAsync(TimeSpan wait)
    {
        try
        {
            await _process.WaitForExitAsync().WaitAsync(wait).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Kill("it did not exit when asked");
            await _process.WaitForExitAsync().ConfigureAwait(false);
        }
        await _exited.Task.ConfigureAwait(false);
    }

    private async Task ReadLoopAsync()
    {
        Exception? failure = null;
        try
        {
            while (await _channel.ReadAsync(_stop.Token).ConfigureAwait(false) is { } frame)
            {
                using (frame)
                {
                    Dispatch(frame);
                }
            }
        }
        catch (Exception ex)
            when (ex
                    is IOException
                        or InvalidDataException
                        or System.Text.Json.JsonException
                        or ObjectDisposedException
                        or OperationCanceledException
            )
        {
            failure = ex;
        }
        await _stop.CancelAsync().ConfigureAwait(false);
        if (failure is InvalidDataException or System.Text.Json.JsonException)
        {
            Kill($"it broke the protocol ({failure.Message})");
        }
        try
        {
            await _process
                .WaitForExitAsync()
                .WaitAsync(TimeSpan.FromSeconds(5))
                .ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Kill("it closed its channel but did not exit");
            await _process.WaitForExitAsync().ConfigureAwait(false);
        }
        await Task.WhenAll(_stdout, _stderr)
            .WaitAsync(TimeSpan.FromSeconds(5))
            .ConfigureAwait(false);
        string cause;
        lock (_lock)
        {
            _deathCause = Describe();
            cause = _deathCause;
            _pending?.TrySetException(new WorkerDiedException(cause, _killedForMemory));
            _pending = null;
        }
        _logger.LogDebug("Worker {Pid} is gone: {Cause}", Pid, cause);
        _exited.TrySetResult();
    }

    private void Dispatch(Frame frame)
    {
        if (frame.Kind == FrameKind.ResultChunk)
        {
            var run = _run ?? throw new InvalidDataException("a result chunk outside a run");
            run.Write(frame.Payload);
            return;
        }
        var message = frame.ToMessage();
        switch (message)
        {
            case LogRecord log:
                _loggerFactory
                    .CreateLogger(log.Category)
                    .Log((LogLevel)log.Level, new EventId(log.EventId), "{Message}", log.Text);
                break;
            case ErrorRecord error:
                (
                    _run ?? throw new InvalidDataException("an error report outside a run")
                ).ReportError(error.Text);
                break;
            case SpanRecord span:
                WorkerSpans.Emit(span, Pid);
                break;
            case LoadReply or RunReply or UnloadReply:
                TaskCompletionSource<WorkerMessage>? pending;
                lock (_lock)
                {
                    pending = _pending;
                    _pending = null;
                    _run = null;
                }
                (
                    pending ?? throw new InvalidDataException("a reply nobody asked for")
                ).TrySetResult(message);
                break;
            default:
                throw new InvalidDataException("a message only the host may send");
        }
    }

    private async Task WatchAsync()
    {
        using var timer = new PeriodicTimer(WatchdogPeriod);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                _process.Refresh();
                var resident = _process.WorkingSet64;
                if (resident > _residentLimitBytes)
                {
                    lock (_lock)
                    {
                        _killedForMemory = true;
                    }
                    Kill(
                        $"its resident memory reached {resident >> 20} MiB, over the {_residentLimitBytes >> 20} MiB cap (memory_limit + 256 MiB)"
                    );
                    return;
                }
            }
        }
        catch (OperationCanceledException) { }
        catch (InvalidOperationException) { }
    }

    private async Task DrainAsync(Stream output, string name, StringBuilder? keep)
    {
        var buffer = new byte[1 << 16];
        long total = 0;
        var logged = 0;
        try
        {
            int n;
            while ((n = await output.ReadAsync(buffer).ConfigureAwait(false)) > 0)
            {
                total += n;
                if (logged < LoggedOutputBytes)
                {
                    var take = Math.Min(n, LoggedOutputBytes - logged);
                    var text = Encoding.UTF8.GetString(buffer, 0, take);
                    logged += take;
                    if (keep is not null)
                    {
                        lock (keep)
                        {
                            keep.Append(
                                text,
                                0,
                                Math.Min(text.Length, KeptStderrBytes - keep.Length)
                            );
                        }
                    }
                    foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
                    {
                        _logger.LogWarning(
                            "Worker {Pid} {Stream}: {Line}",
                            Pid,
                            name,
                            line.TrimEnd('\r')
                        );
                    }
                }
            }
        }
        catch (IOException) { }
        catch (ObjectDisposedException) { }
        if (total > logged)
        {
            _logger.LogWarning(
                "Worker {Pid} wrote {Bytes} bytes to {Stream}; the first {Logged} were logged, the rest discarded",
                Pid,
                total,
                name,
                logged
            );
        }
    }

    private string DeathCause()
    {
        lock (_lock)
        {
            return _deathCause ?? "the worker process is gone";
        }
    }

    private string Describe()
    {
        if (_killReason is not null)
        {
            return $"worker process killed: {_killReason}";
        }
        var code = _process.ExitCode;
        var what =
            code > 128 && code < 160
                ? $"worker process crashed with {SignalName(code - 128)} (exit code {code})"
                : $"worker process exited with code {code}";
        return what + StderrSummary();
    }

    private string StderrSummary()
    {
        string head;
        lock (_stderrHead)
        {
            head = _stderrHead.ToString();
        }
        head = string.Join(
            ' ',
            head.Split((char[])['\n', '\r', '\t', ' '], StringSplitOptions.RemoveEmptyEntries)
        );
        return head.Length == 0 ? "" : ": " + (head.Length > 300 ? head[..300] + "..." : head);
    }

    private static string SignalName(int signal) =>
        signal switch
        {
            4 => "SIGILL",
            6 => "SIGABRT",
            7 => "SIGBUS",
            8 => "SIGFPE",
            9 => "SIGKILL",
            11 => "SIGSEGV",
            15 => "SIGTERM",
            _ => $"signal {signal}",
        };

    /// <summary>Closes the channel: the worker's signal to exit.</summary>
    public ValueTask DisposeChannelAsync()
    {
        _channel.Dispose();
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        if (IsAlive)
        {
            Kill("the host is done with it");
        }
        try
        {
            await _reader.ConfigureAwait(false);
            await _watchdog.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException) { }
        _channel.Dispose();
        _stop.Dispose();
        _process.Dispose();
    }
}

/// <summary>Where one run's result chunks and error reports go on the host side.</summary>
internal sealed class RunSink(string sectionPath, Action<string> reportError) : IDisposable
{
    private FileStream? _file;

    public string SectionPath { get; } = sectionPath;

    public long Bytes { get; private set; }

    public void Write(ReadOnlySpan<byte> chunk)
    {
        if (_file is null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(SectionPath)!);
        }
        _file ??= new FileStream(
            SectionPath,
            FileMode.CreateNew,
            FileAccess.Write,
            FileShare.None,
            1 << 16
        );
        _file.Write(chunk);
        Bytes += chunk.Length;
    }

    public void ReportError(string text) => reportError(text);

    /// <summary>Closes the section file; true when something was written.</summary>
    public bool Complete()
    {
        var wrote = _file is not null;
        _file?.Dispose();
        _file = null;
        return wrote;
    }

    public void Discard()
    {
        Complete();
        SectionStore.TryDelete(SectionPath);
    }

    public void Dispose() => _file?.Dispose();
}
