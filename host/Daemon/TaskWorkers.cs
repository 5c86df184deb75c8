using System.Diagnostics;
using System.Globalization;
using Microkernel.Host.Configuration;
using Microkernel.Host.Queue;
using Microkernel.Host.Running;
using Microkernel.Host.Telemetry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Microkernel.Host.Daemon;

/// <summary>
/// The workers of <c>microkernel serve</c>: each claims a task, runs it with the core runner on
/// the current plugin snapshot while renewing its lease, and writes the final status. A failing
/// task, module or database call is logged and counted, never allowed to stop the host. On stop,
/// claiming ends at once, in-flight tasks get <see cref="MicrokernelOptions.ShutdownTimeout"/> to
/// finish, and whatever is still running then is cancelled and released back to <c>pending</c>.
/// </summary>
internal sealed class TaskWorkers(
    ITaskQueue queue,
    PluginSnapshots snapshots,
    MicrokernelOptions options,
    DaemonHealth health,
    ILoggerFactory loggerFactory
) : IHostedService, IDisposable
{
    private readonly ILogger _logger = loggerFactory.CreateLogger("Microkernel.Daemon");
    private readonly CancellationTokenSource _claiming = new();
    private readonly CancellationTokenSource _processing = new();
    private readonly List<Task> _loops = [];
    private IReadOnlyDictionary<string, long> _depth = new Dictionary<string, long>();

    /// <summary>This process in the queue: unique per run, so a restarted daemon never mistakes an old claim for its own.</summary>
    public string Node { get; } =
        string.Create(
            CultureInfo.InvariantCulture,
            $"{options.NodeName ?? Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid().ToString("N")[..6]}"
        );

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var workers = options.ResolveWorkers();
        health.WorkersExpected = workers;
        MicrokernelTelemetry.ObserveQueueDepth(() => Volatile.Read(ref _depth));
        for (var i = 0; i < workers; i++)
        {
            var worker = i + 1;
            _loops.Add(Task.Run(() => WorkerLoopAsync(worker), CancellationToken.None));
        }
        _loops.Add(Task.Run(MaintenanceLoopAsync, CancellationToken.None));
        _logger.LogWarning(
            "Serving {Queue} as node {Node} with {Workers} workers (lease {Lease} s, {Attempts} attempts)",
            queue.Description,
            Node,
            workers,
            options.LeaseSeconds,
            options.MaxAttempts
        );
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        health.Stopping = true;
        await _claiming.CancelAsync().ConfigureAwait(false);
        var all = Task.WhenAll(_loops);
        var finished = await Task.WhenAny(
                all,
                Task.Delay(options.ShutdownTimeout, CancellationToken.None)
            )
            .ConfigureAwait(false);
        if (finished != all)
        {
            _logger.LogWarning(
                "Tasks still running after the {Seconds} s shutdown timeout: cancelling and releasing them",
                options.ShutdownTimeoutSeconds
            );
            await _processing.CancelAsync().ConfigureAwait(false);
            // Modules get their cancellation grace; the release is a single short write.
            await Task.WhenAny(
                    all,
                    Task.Delay(
                        options.CancellationGrace + TimeSpan.FromSeconds(10),
                        CancellationToken.None
                    )
                )
                .ConfigureAwait(false);
        }
        MicrokernelTelemetry.ObserveQueueDepth(null);
        _logger.LogWarning("Node {Node} stopped", Node);
    }

    private async Task WorkerLoopAsync(int worker)
    {
        health.WorkerStarted();
        using var plugins = new ReusablePlugins(
            options.PluginReuseRuns,
            options.UnloadGcRounds,
            _logger
        );
        try
        {
            while (!_claiming.IsCancellationRequested)
            {
                try
                {
                    // Never cancelled half-way: a claim committed but not seen would sit until its lease ran out.
                    var task = await queue
                        .ClaimAsync(Node, options.Lease, CancellationToken.None)
                        .ConfigureAwait(false);
                    health.QueueReachable();
                    if (task is null)
                    {
                        // An idle worker lets go of plugins a reload replaced, so their unload
                        // does not wait for its next task.
                        if (plugins.PluginsPath is { } kept && kept != snapshots.Current.Path)
                        {
                            plugins.Retire("the plugins were reloaded");
                        }
                        await Task.Delay(options.PollInterval, _claiming.Token)
                            .ConfigureAwait(false);
                        continue;
                    }
                    await ProcessAsync(worker, task, plugins).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (_claiming.IsCancellationRequested)
                {
                    break;
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    if (ex is QueueUnavailableException or System.Data.Common.DbException)
                    {
                        health.QueueUnreachable(ex.Message);
                    }
                    _logger.LogError(ex, "Worker {Worker}: {Error}", worker, ex.Message);
                    await DelayQuietly(options.PollInterval).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            health.WorkerStopped();
        }
    }

    private async Task ProcessAsync(int worker, QueueTask task, ReusablePlugins plugins)
    {
        MicrokernelTelemetry.TasksClaimed.Add(1);
        MicrokernelTelemetry.TasksInFlight.Add(1);
        var started = Stopwatch.GetTimestamp();
        using var activity = MicrokernelTelemetry.Source.StartActivity("task.process");
        activity?.SetTag("microkernel.task.id", task.Id);
        activity?.SetTag("microkernel.task.attempt", task.Attempts);
        activity?.SetTag("microkernel.node", Node);
        using var lease = snapshots.Acquire();
        using var renewing = new CancellationTokenSource();
        var renewal = RenewLoopAsync(task, renewing.Token);
        string result;
        try
        {
            _logger.LogInformation(
                "Worker {Worker}: task {Id} attempt {Attempt} ({Path}) on plugin snapshot {Snapshot}",
                worker,
                task.Id,
                task.Attempts,
                task.AnalysisPath,
                lease.Snapshot.Number
            );
            result = await RunAsync(task, lease, plugins).ConfigureAwait(false);
        }
        finally
        {
            await renewing.CancelAsync().ConfigureAwait(false);
            await renewal.ConfigureAwait(false);
            MicrokernelTelemetry.TasksInFlight.Add(-1);
        }
        var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var tag = new KeyValuePair<string, object?>("microkernel.task.result", result);
        MicrokernelTelemetry.TasksFinished.Add(1, tag);
        MicrokernelTelemetry.TaskDuration.Record(elapsed, tag);
        activity?.SetTag("microkernel.task.result", result);
        _logger.LogInformation(
            "Worker {Worker}: task {Id} {Result} in {Seconds:0.000} s",
            worker,
            task.Id,
            result,
            elapsed
        );
    }

    /// <summary>Runs the analysis and records the outcome; returns the result for metrics.</summary>
    private async Task<string> RunAsync(
        QueueTask task,
        PluginSnapshots.SnapshotLease lease,
        ReusablePlugins plugins
    )
    {
        string status;
        string? error;
        try
        {
            var runner = new AnalysisRunner(
                options.WithPluginsPath(lease.Snapshot.Path),
                loggerFactory,
                plugins,
                () => snapshots.Share(lease)
            );
            var result = await runner
                .RunAsync(new AnalysisRequest(task.AnalysisPath), null, _processing.Token)
                .ConfigureAwait(false);
            if (_processing.IsCancellationRequested)
            {
                return await ReleaseAsync(task).ConfigureAwait(false);
            }
            // Module errors are part of a report (debug.errors), as in Cuckoo: the task is reported.
            status = QueueStatus.Reported;
            error = result.Errors.Count == 0 ? null : string.Join("; ", result.Errors);
        }
        catch (OperationCanceledException) when (_processing.IsCancellationRequested)
        {
            return await ReleaseAsync(task).ConfigureAwait(false);
        }
        catch (UnusableAnalysisException ex)
        {
            // The folder or the configuration is wrong: another attempt would fail the same way.
            status = QueueStatus.FailedProcessing;
            error = ex.Message;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            _logger.LogError(ex, "Task {Id} attempt {Attempt} failed", task.Id, task.Attempts);
            var reason = $"attempt {task.Attempts}: {ex.GetType().Name}: {ex.Message}";
            if (task.Attempts < options.MaxAttempts)
            {
                var retried = await WriteAsync(() =>
                        queue.RetryAsync(task, reason, CancellationToken.None)
                    )
                    .ConfigureAwait(false);
                return retried ? "retry" : "lost";
            }
            status = QueueStatus.FailedProcessing;
            error = $"{reason} (gave up after {task.Attempts} attempts)";
        }
        var written = await WriteAsync(() =>
                queue.FinishAsync(task, status, error, CancellationToken.None)
            )
            .ConfigureAwait(false);
        if (!written)
        {
            _logger.LogWarning(
                "Task {Id}: the claim was lost (lease expired and taken back); status {Status} not written",
                task.Id,
                status
            );
            return "lost";
        }
        return status;
    }

    private async Task<string> ReleaseAsync(QueueTask task)
    {
        var released = await WriteAsync(() => queue.ReleaseAsync(task, CancellationToken.None))
            .ConfigureAwait(false);
        _logger.LogWarning("Task {Id} released unfinished for another node", task.Id);
        return released ? "released" : "lost";
    }

    /// <summary>A status write survives a short database outage; if it never lands the lease runs out and another node redoes the task.</summary>
    private async Task<bool> WriteAsync(Func<Task<bool>> write)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var written = await write().ConfigureAwait(false);
                health.QueueReachable();
                return written;
            }
            catch (Exception ex)
                when (ex is QueueUnavailableException or System.Data.Common.DbException
                    && attempt < 5
                )
            {
                health.QueueUnreachable(ex.Message);
                _logger.LogWarning(
                    "Queue write failed (attempt {Attempt}): {Error}",
                    attempt,
                    ex.Message
                );
                await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt)).ConfigureAwait(false);
            }
        }
    }

    private async Task RenewLoopAsync(QueueTask task, CancellationToken cancellationToken)
    {
        var period = options.Lease / 3;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(period, cancellationToken).ConfigureAwait(false);
                if (
                    !await queue
                        .RenewAsync(task, options.Lease, cancellationToken)
                        .ConfigureAwait(false)
                )
                {
                    _logger.LogWarning(
                        "Task {Id}: lease lost (it expired and another node took the task back); finishing without writing its status",
                        task.Id
                    );
                    return;
                }
                health.QueueReachable();
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                health.QueueUnreachable(ex.Message);
                _logger.LogWarning("Task {Id}: lease renewal failed: {Error}", task.Id, ex.Message);
            }
        }
    }

    /// <summary>Takes back expired leases (dead nodes) and refreshes the queue depth for metrics and health.</summary>
    private async Task MaintenanceLoopAsync()
    {
        while (!_claiming.IsCancellationRequested)
        {
            try
            {
                foreach (
                    var reclaimed in await queue
                        .ReclaimExpiredAsync(options.MaxAttempts)
                        .ConfigureAwait(false)
                )
                {
                    MicrokernelTelemetry.TasksReclaimed.Add(
                        1,
                        new KeyValuePair<string, object?>(
                            "microkernel.task.status",
                            reclaimed.Status
                        )
                    );
                    _logger.LogWarning("Task {Id}: {Reason}", reclaimed.Id, reclaimed.Reason);
                }
                Volatile.Write(ref _depth, await queue.CountAsync().ConfigureAwait(false));
                health.QueueReachable();
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                health.QueueUnreachable(ex.Message);
                _logger.LogError("Queue maintenance failed: {Error}", ex.Message);
            }
            await DelayQuietly(options.PollInterval).ConfigureAwait(false);
        }
    }

    private async Task DelayQuietly(TimeSpan delay)
    {
        try
        {
            await Task.Delay(delay, _claiming.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) { }
    }

    public void Dispose()
    {
        _claiming.Dispose();
        _processing.Dispose();
    }
}
