using Microkernel.Contracts;
using Microkernel.Host.Plugins;
using Microkernel.Host.Results;
using Microkernel.Host.Running;
using Microsoft.Extensions.Logging;

namespace Microkernel.Host.Isolation;

/// <summary>A plugin to run out of process, with the memory cap of its section.</summary>
internal sealed record IsolatedPlugin(PluginFolder Folder, long MemoryLimitMiB);

/// <summary>
/// The process-isolated plugins of one run. Plugins with the same memory cap share a worker,
/// which loads them into their own collectible contexts and runs their modules one at a time;
/// a worker that dies or is killed is replaced for the next module, so one module's crash
/// costs only that module. Its modules run through <see cref="ExecuteAsync"/>.
/// </summary>
internal sealed class IsolatedPluginSession : IModuleExecutor, IAsyncDisposable
{
    private static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(60);

    private readonly List<WorkerGroup> _groups;
    private readonly Dictionary<ModuleDescriptor, WorkerGroup> _owners = [];
    private readonly List<ModuleDescriptor> _modules = [];
    private readonly List<PluginLoadFailure> _failures = [];
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;

    private IsolatedPluginSession(List<WorkerGroup> groups, ILoggerFactory loggerFactory)
    {
        _groups = groups;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger("Microkernel.Worker");
    }

    public IReadOnlyList<ModuleDescriptor> Modules => _modules;

    public IReadOnlyList<PluginLoadFailure> Failures => _failures;

    /// <summary>Starts the workers and has them describe their plugins; failures are collected, never thrown.</summary>
    public static async Task<IsolatedPluginSession> LoadAsync(
        IReadOnlyList<IsolatedPlugin> plugins,
        ILoggerFactory loggerFactory,
        CancellationToken cancellationToken
    )
    {
        var groups = plugins
            .GroupBy(p => p.MemoryLimitMiB)
            .Select(g => new WorkerGroup(g.Key, g.Select(p => p.Folder).ToList()))
            .ToList();
        var session = new IsolatedPluginSession(groups, loggerFactory);
        var traceParent = WorkerSpans.CurrentTraceParent();
        var loads = groups
            .Select(g => session.StartAsync(g, traceParent, cancellationToken))
            .ToList();
        foreach (var (group, load) in groups.Zip(loads))
        {
            var reply = await load.ConfigureAwait(false);
            session._failures.AddRange(reply.Failures);
            foreach (var module in reply.Modules)
            {
                session._modules.Add(module);
                session._owners[module] = group;
            }
        }
        return session;
    }

    /// <summary>
    /// Starts a worker for the group and loads its plugins. When that fails the reply holds no
    /// modules, a failure per plugin, and the group has no worker.
    /// </summary>
    private async Task<LoadReply> StartAsync(
        WorkerGroup group,
        string? traceParent,
        CancellationToken cancellationToken
    )
    {
        try
        {
            group.Worker = await WorkerProcess
                .StartAsync(group.MemoryLimitMiB, _loggerFactory, cancellationToken)
                .ConfigureAwait(false);
            return await group
                .Worker.RequestAsync<LoadReply>(
                    new LoadRequest(group.Folders, traceParent),
                    ReplyTimeout
                )
                .ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            _logger.LogError(ex, "A module worker could not be started");
            if (group.Worker is { } worker)
            {
                group.Worker = null;
                worker.Kill("it failed to load its plugins");
                await worker.DisposeAsync().ConfigureAwait(false);
            }
            return new LoadReply(
                [],
                group
                    .Folders.Select(f => new PluginLoadFailure(
                        f.Name,
                        $"its worker process could not be started: {ex.Message}"
                    ))
                    .ToList()
            );
        }
    }

    public async Task<ModuleExecution> ExecuteAsync(
        ModuleDescriptor module,
        ModuleInvocation invocation,
        CancellationToken cancellationToken
    )
    {
        var group = _owners[module];
        if (group.Worker is not { IsAlive: true })
        {
            await Retire(group).ConfigureAwait(false);
            // The replacement describes the same folders; only this module's run matters now.
            await StartAsync(group, WorkerSpans.CurrentTraceParent(), cancellationToken)
                .ConfigureAwait(false);
            if (group.Worker is null)
            {
                return new ModuleExecution(
                    ModuleOutcome.WorkerDied,
                    ErrorType: ModuleOutcome.WorkerDied,
                    ErrorMessage: "its worker process could not be restarted (see the log)"
                );
            }
        }
        var worker = group.Worker!;
        using var sink = new RunSink(invocation.SectionPath, invocation.Context.ReportError);
        var request = new RunRequest(
            module.Plugin,
            module.ClassName,
            Describe(invocation.Context),
            invocation.Grace.TotalSeconds + 1,
            WorkerSpans.CurrentTraceParent()
        );
        var run = worker.RunAsync(request, sink);
        try
        {
            try
            {
                var reply = await run.WaitAsync(invocation.Timeout, cancellationToken)
                    .ConfigureAwait(false);
                return await Finish(group, reply, sink).ConfigureAwait(false);
            }
            catch (TimeoutException) { }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested) { }

            var cancelled = cancellationToken.IsCancellationRequested;
            var reason = cancelled
                ? "cancelled: the host is shutting down"
                : $"timed out after {invocation.Timeout.TotalSeconds:0.###} s";
            var outcome = cancelled ? ModuleOutcome.Cancelled : ModuleOutcome.Timeout;
            worker.Cancel();
            try
            {
                var late = await run.WaitAsync(invocation.Grace, CancellationToken.None)
                    .ConfigureAwait(false);
                sink.Discard();
                if (late.Outcome != ModuleOutcome.Abandoned)
                {
                    return new ModuleExecution(outcome, ErrorType: "timeout", ErrorMessage: reason);
                }
            }
            catch (TimeoutException) { }
            worker.Kill("its module ignored cancellation");
            await Retire(group).ConfigureAwait(false);
            sink.Discard();
            return new ModuleExecution(
                outcome,
                ErrorType: "timeout",
                ErrorMessage: $"{reason} and ignored cancellation for {invocation.Grace.TotalSeconds:0.###} s; worker process killed"
            );
        }
        catch (WorkerDiedException ex)
        {
            await Retire(group).ConfigureAwait(false);
            sink.Discard();
            return new ModuleExecution(
                ex.MemoryLimit ? ModuleOutcome.MemoryLimit : ModuleOutcome.WorkerDied,
                ErrorType: ex.MemoryLimit ? ModuleOutcome.MemoryLimit : ModuleOutcome.WorkerDied,
                ErrorMessage: ex.Message
            );
        }
    }

    private async Task<ModuleExecution> Finish(WorkerGroup group, RunReply reply, RunSink sink)
    {
        if (reply.ErrorType == typeof(OutOfMemoryException).FullName)
        {
            // The heap is at its cap and the plugin may hold what it allocated: start afresh.
            group.Worker?.Kill("its module ran out of memory");
            await Retire(group).ConfigureAwait(false);
        }
        var execution = new ModuleExecution(
            reply.Outcome,
            ErrorType: reply.ErrorType,
            ErrorMessage: reply.ErrorMessage,
            ErrorDetail: reply.ErrorDetail
        );
        var wrote = sink.Complete();
        if (reply.Outcome != ModuleOutcome.Ok)
        {
            sink.Discard();
            return execution;
        }
        if (!wrote || sink.Bytes != reply.ResultBytes)
        {
            sink.Discard();
            return new ModuleExecution(
                ModuleOutcome.Exception,
                ErrorType: "protocol",
                ErrorMessage: $"the worker announced {reply.ResultBytes} result bytes but sent {sink.Bytes}"
            );
        }
        try
        {
            // The worker is not trusted to send well-formed JSON: the report must stay valid.
            using var check = File.OpenRead(sink.SectionPath);
            JsonValidator.Validate(check);
        }
        catch (System.Text.Json.JsonException ex)
        {
            sink.Discard();
            return new ModuleExecution(
                ModuleOutcome.ProcessingError,
                ErrorType: typeof(ProcessingException).FullName,
                ErrorMessage: $"The module returned malformed JSON: {ex.Message}"
            );
        }
        return execution with { Section = SectionContent.OfFile(sink.SectionPath) };
    }

    private static RunContext Describe(ProcessingContext context)
    {
        var sections = new Dictionary<string, string>(StringComparer.Ordinal);
        if (context.Results is SectionStore store)
        {
            foreach (var key in store.Keys)
            {
                if (store.FileOf(key) is { } path)
                {
                    sections[key] = path;
                }
            }
        }
        return new RunContext(
            context.AnalysisPath,
            context.Task,
            context.Options.Section,
            context.Options.Values,
            context.Options.Source,
            context.ProcessingOptions.Values,
            context.ScratchPath,
            context.ConfDirectory,
            sections
        );
    }

    /// <summary>Forgets a dead or killed worker once it has fully exited.</summary>
    private static async Task Retire(WorkerGroup group)
    {
        if (group.Worker is not { } worker)
        {
            return;
        }
        group.Worker = null;
        if (worker.IsAlive)
        {
            worker.Kill("it is being replaced");
        }
        await worker.WaitForExitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        await worker.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Has each live worker unload its contexts and prove it, then lets it exit.</summary>
    public async Task<UnloadReport> UnloadAsync(int gcRounds)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        int contexts = 0,
            unloaded = 0,
            rounds = 0;
        var leaked = new List<string>();
        var traceParent = WorkerSpans.CurrentTraceParent();
        foreach (var group in _groups)
        {
            if (group.Worker is not { IsAlive: true } worker)
            {
                continue;
            }
            try
            {
                var reply = await worker
                    .RequestAsync<UnloadReply>(
                        new UnloadRequest(gcRounds, traceParent),
                        ReplyTimeout
                    )
                    .ConfigureAwait(false);
                contexts += reply.Contexts;
                unloaded += reply.Unloaded;
                rounds = Math.Max(rounds, reply.GcRounds);
                leaked.AddRange(reply.Leaked);
            }
            catch (Exception ex) when (ex is WorkerDiedException or TimeoutException or IOException)
            {
                _logger.LogWarning(
                    "Worker {Pid} could not unload its plugins: {Error}",
                    worker.Pid,
                    ex.Message
                );
            }
        }
        await DisposeAsync().ConfigureAwait(false);
        return new UnloadReport(
            contexts,
            unloaded,
            leaked,
            rounds,
            System.Diagnostics.Stopwatch.GetElapsedTime(started)
        );
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var group in _groups)
        {
            if (group.Worker is { } worker)
            {
                group.Worker = null;
                // Closing the channel is the worker's signal to exit.
                await worker.DisposeChannelAsync().ConfigureAwait(false);
                await worker.WaitForExitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
                await worker.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private sealed class WorkerGroup(long memoryLimitMiB, List<PluginFolder> folders)
    {
        public long MemoryLimitMiB { get; } = memoryLimitMiB;

        public List<PluginFolder> Folders { get; } = folders;

        public WorkerProcess? Worker { get; set; }
    }
}
