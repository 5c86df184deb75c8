using System.Diagnostics;
using System.Globalization;
using Microkernel.Host.Configuration;
using Microkernel.Host.Queue;
using Microkernel.Host.Results;
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
        // The previous task's report commit and status write, which overlap this task's run.
        Task settling = Task.CompletedTask;
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
                    var settle = await ProcessAsync(worker, task, plugins).ConfigureAwait(false);
                    // One task settles while the next runs, never more: the disk and the queue
                    // get no backlog, and a stopping worker has at most one to wait for.
                    await settling.ConfigureAwait(false);
                    settling = settle;
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
            await settling.ConfigureAwait(false);
            health.WorkerStopped();
        }
    }

    /// <summary>
    /// Runs the task's analysis, then hands its settling (the report's flush to disk and rename,
    /// and the final status) to the thread pool and returns it: the flush is a wait on the
    /// device, and with two workers it cost each about a millisecond per task of idle core.
    /// </summary>
    /// <returns>The settling, which never throws.</returns>
    private async Task<Task> ProcessAsync(int worker, QueueTask task, ReusablePlugins plugins)
    {
        MicrokernelTelemetry.TasksClaimed.Add(1);
        MicrokernelTelemetry.TasksInFlight.Add(1);
        var started = Stopwatch.GetTimestamp();
        var activity = MicrokernelTelemetry.Source.StartActivity("task.process");
        activity?.SetTag("microkernel.task.id", task.Id);
        activity?.SetTag("microkernel.task.attempt", task.Attempts);
        activity?.SetTag("microkernel.node", Node);
        var renewing = new CancellationTokenSource();
        var renewal = RenewLoopAsync(task, renewing.Token);
        Settlement settlement;
        try
        {
            using var lease = snapshots.Acquire();
            _logger.LogInformation(
                "Worker {Worker}: task {Id} attempt {Attempt} ({Path}) on plugin snapshot {Snapshot}",
                worker,
                task.Id,
                task.Attempts,
                task.AnalysisPath,
                lease.Snapshot.Number
            );
            settlement = await RunAsync(task, lease, plugins).ConfigureAwait(false);
        }
        catch
        {
            await EndAsync(renewing, renewal).ConfigureAwait(false);
            activity?.Dispose();
            throw;
        }
        return Task.Run(async () =>
        {
            string result;
            try
            {
                result = await SettleAsync(task, settlement).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // The lease runs out and another node redoes the task.
                _logger.LogError(ex, "Task {Id}: its outcome could not be written", task.Id);
                result = "lost";
            }
            finally
            {
                await EndAsync(renewing, renewal).ConfigureAwait(false);
            }
            var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
            var tag = new KeyValuePair<string, object?>("microkernel.task.result", result);
            MicrokernelTelemetry.TasksFinished.Add(1, tag);
            MicrokernelTelemetry.TaskDuration.Record(elapsed, tag);
            activity?.SetTag("microkernel.task.result", result);
            activity?.Dispose();
            _logger.LogInformation(
                "Worker {Worker}: task {Id} {Result} in {Seconds:0.000} s",
                worker,
                task.Id,
                result,
                elapsed
            );
        });
    }

    /// <summary>Stops renewing the task's lease; the task is no longer in flight.</summary>
    private static async Task EndAsync(CancellationTokenSource renewing, Task renewal)
    {
        await renewing.CancelAsync().ConfigureAwait(false);
        await renewal.ConfigureAwait(false);
        renewing.Dispose();
        MicrokernelTelemetry.TasksInFlight.Add(-1);
    }

    /// <summary>What a run leaves its task to write.</summary>
    private abstract record Settlement
    {
        public static readonly Settlement Release = new Released();
    }

    /// <param name="Report">The run's report, written but not yet committed.</param>
    private sealed record Finished(string Status, string? Error, PendingReport? Report)
        : Settlement;

    private sealed record Retried(string Reason) : Settlement;

    private sealed record Released : Settlement;

    /// <summary>Runs the analysis; decides the task's outcome without writing it.</summary>
    private async Task<Settlement> RunAsync(
        QueueTask task,
        PluginSnapshots.SnapshotLease lease,
        ReusablePlugins plugins
    )
    {
        try
        {
            var runner = new AnalysisRunner(
                options.WithPluginsPath(lease.Snapshot.Path),
                loggerFactory,
                plugins,
                () => snapshots.Share(lease)
            );
            var result = await runner
                .RunAsync(
                    new AnalysisRequest(task.AnalysisPath) { DeferReportCommit = true },
                    null,
                    _processing.Token
                )
                .ConfigureAwait(false);
            if (_processing.IsCancellationRequested)
            {
                result.PendingReport?.Dispose();
                return Settlement.Release;
            }
            // Module errors are part of a report (debug.errors), as in Cuckoo: the task is reported.
            return new Finished(
                QueueStatus.Reported,
                result.Errors.Count == 0 ? null : string.Join("; ", result.Errors),
                result.PendingReport
            );
        }
        catch (OperationCanceledException) when (_processing.IsCancellationRequested)
        {
            return Settlement.Release;
        }
        catch (UnusableAnalysisException ex)
        {
            // The folder or the configuration is wrong: another attempt would fail the same way.
            return new Finished(QueueStatus.FailedProcessing, ex.Message, null);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return Failed(task, ex);
        }
    }

    /// <summary>An attempt failed: another one, or <c>failed_processing</c> when none are left.</summary>
    private Settlement Failed(QueueTask task, Exception ex)
    {
        _logger.LogError(ex, "Task {Id} attempt {Attempt} failed", task.Id, task.Attempts);
        var reason = $"attempt {task.Attempts}: {ex.GetType().Name}: {ex.Message}";
        return task.Attempts < options.MaxAttempts
            ? new Retried(reason)
            : new Finished(
                QueueStatus.FailedProcessing,
                $"{reason} (gave up after {task.Attempts} attempts)",
                null
            );
    }

    /// <summary>Commits the report, then writes the task's status; returns the result for metrics.</summary>
    private async Task<string> SettleAsync(QueueTask task, Settlement settlement)
    {
        if (settlement is Finished { Report: { } report })
        {
            try
            {
                using (report)
                {
                    report.Commit();
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                settlement = Failed(task, ex);
            }
        }
        switch (settlement)
        {
            case Retried retried:
                var requeued = await WriteAsync(() =>
                        queue.RetryAsync(task, retried.Reason, CancellationToken.None)
                    )
                    .ConfigureAwait(false);
                return requeued ? "retry" : "lost";
            case Finished finished:
                var written = await WriteAsync(() =>
                        queue.FinishAsync(
                            task,
                            finished.Status,
                            finished.Error,
                            CancellationToken.None
                        )
                    )
                    .ConfigureAwait(false);
                if (!written)
                {
                    _logger.LogWarning(
                        "Task {Id}: the claim was lost (lease expired and taken back); status {Status} not written",
                        task.Id,
                        finished.Status
                    );
                    return "lost";
                }
                return finished.Status;
            default:
                return await ReleaseAsync(task).ConfigureAwait(false);
        }
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
