using System.Diagnostics;
using System.Text.Json;
using Microkernel.Contracts;
using Microkernel.Host.Configuration;
using Microkernel.Host.Isolation;
using Microkernel.Host.Plugins;
using Microkernel.Host.Results;
using Microkernel.Host.Tasks;
using Microkernel.Host.Telemetry;
using Microsoft.Extensions.Logging;

namespace Microkernel.Host.Running;

/// <summary>
/// Processes one analysis folder: loads the plugins into fresh load contexts, runs the enabled
/// modules in Cuckoo's order, each under its own time budget, writes the report atomically and
/// proves that every plugin context unloaded.
/// </summary>
/// <param name="reuse">A daemon worker's kept plugins: in-process contexts are taken from and left to it instead of being loaded and unloaded per run.</param>
/// <param name="pinPlugins">Keeps the plugins folder in place while <paramref name="reuse"/> holds contexts loaded from it.</param>
internal sealed class AnalysisRunner(
    MicrokernelOptions options,
    ILoggerFactory loggerFactory,
    ReusablePlugins? reuse = null,
    Func<IDisposable?>? pinPlugins = null
)
{
    private readonly ILogger _logger = loggerFactory.CreateLogger("Microkernel.Runner");

    /// <exception cref="UnusableAnalysisException">The folder or the configuration cannot be used; nothing was written.</exception>
    public async Task<AnalysisResult> RunAsync(
        AnalysisRequest request,
        IProgress<ModuleRunRecord>? progress = null,
        CancellationToken cancellationToken = default
    )
    {
        var started = Stopwatch.GetTimestamp();
        var analysisPath = Path.GetFullPath(request.AnalysisPath);
        if (!Directory.Exists(analysisPath))
        {
            throw new UnusableAnalysisException($"{analysisPath}: no such analysis folder.");
        }
        var confDirectory = options.ResolveConfPath();
        var (conf, confFingerprint) = LoadConf(confDirectory);
        TaskInfo task;
        try
        {
            task = TaskInfoReader.Read(analysisPath);
        }
        catch (InvalidDataException ex)
        {
            throw new UnusableAnalysisException(ex.Message, ex);
        }

        using var activity = MicrokernelTelemetry.Source.StartActivity("processing.run");
        activity?.SetTag("microkernel.analysis.path", analysisPath);
        activity?.SetTag("microkernel.task.id", task.Id);

        // Created by the first file written below it: a small analysis writes none (sections
        // stay in memory), and every folder created and deleted costs disk commands.
        var scratch = Path.Combine(Path.GetTempPath(), "microkernel", Guid.NewGuid().ToString("N"));
        try
        {
            using var store = new SectionStore(Path.Combine(scratch, "sections"));
            var records = new List<ModuleRunRecord>();
            var errors = new List<string>();
            var (loadFailures, unload) = await RunModulesAsync(
                    analysisPath,
                    task,
                    conf,
                    confFingerprint,
                    confDirectory,
                    scratch,
                    store,
                    request,
                    records,
                    errors,
                    progress,
                    cancellationToken
                )
                .ConfigureAwait(false);

            if (unload.Leaked.Count > 0)
            {
                MicrokernelTelemetry.UnloadFailures.Add(unload.Leaked.Count);
                _logger.LogError(
                    "Plugin contexts not unloaded after {Rounds} collections: {Plugins}",
                    unload.GcRounds,
                    string.Join(", ", unload.Leaked)
                );
                errors.Add(
                    $"Plugin contexts could not be unloaded: {string.Join(", ", unload.Leaked)}"
                );
            }

            ReportWriter.MergeDebugErrors(store, errors);
            var statistics = Statistics(records, loadFailures, unload);
            var (reportPath, pending) = WriteReport(request, analysisPath, store, statistics);

            var elapsed = Stopwatch.GetElapsedTime(started);
            var result = new AnalysisResult(
                analysisPath,
                reportPath,
                records,
                loadFailures,
                errors,
                unload,
                elapsed
            )
            {
                PendingReport = pending,
            };
            var outcome = result.HasModuleErrors ? "errors" : "ok";
            activity?.SetTag("microkernel.analysis.outcome", outcome);
            MicrokernelTelemetry.AnalysesProcessed.Add(
                1,
                new KeyValuePair<string, object?>("microkernel.outcome", outcome)
            );
            MicrokernelTelemetry.AnalysisDuration.Record(
                elapsed.TotalSeconds,
                new KeyValuePair<string, object?>("microkernel.outcome", outcome)
            );
            return result;
        }
        finally
        {
            TryDeleteDirectory(scratch);
        }
    }

    /// <returns>The configuration and a fingerprint of its text (kept plugins depend on it: it decides which plugins load in-process).</returns>
    private static (ConfFile Conf, string Fingerprint) LoadConf(string confDirectory)
    {
        var path = Path.Combine(confDirectory, "processing.conf");
        try
        {
            var lines = File.ReadAllLines(path);
            return (ConfFile.Parse(path, lines), string.Join('\n', lines));
        }
        catch (ConfFileException ex)
        {
            throw new UnusableAnalysisException(ex.Message, ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new UnusableAnalysisException(
                $"{path}: cannot be read ({ex.Message}). Pass --conf <folder>.",
                ex
            );
        }
    }

    private async Task<(IReadOnlyList<PluginLoadFailure>, UnloadReport)> RunModulesAsync(
        string analysisPath,
        TaskInfo task,
        ConfFile conf,
        string confFingerprint,
        string confDirectory,
        string scratch,
        SectionStore store,
        AnalysisRequest request,
        List<ModuleRunRecord> records,
        List<string> errors,
        IProgress<ModuleRunRecord>? progress,
        CancellationToken cancellationToken
    )
    {
        PluginSet plugins;
        var pluginsPath = options.ResolvePluginsPath();
        using (var loading = MicrokernelTelemetry.Source.StartActivity("plugins.load"))
        {
            var kept = reuse?.Take(pluginsPath, confFingerprint);
            loading?.SetTag("microkernel.plugins.reused", kept is not null);
            plugins = await PluginSet
                .LoadAsync(
                    pluginsPath,
                    conf,
                    includeDisabled: false,
                    loggerFactory,
                    _logger,
                    cancellationToken,
                    kept,
                    reuse?.Catalog(pluginsPath)
                )
                .ConfigureAwait(false);
            loading?.SetTag(
                "microkernel.plugins.modules",
                plugins.Modules.Count(m => m.Executor is not null)
            );
            loading?.SetTag("microkernel.plugins.failures", plugins.Failures.Count);
        }
        var unload = UnloadReport.None;
        try
        {
            foreach (var failure in plugins.Failures)
            {
                errors.Add($"Plugin {failure.Plugin} could not be loaded: {failure.Reason}");
            }
            var processingOptions =
                conf.GetSection("processing") ?? ModuleOptions.Empty("processing");
            foreach (var (module, executor, isolation) in plugins.Modules)
            {
                ModuleRunRecord record;
                var skip = cancellationToken.IsCancellationRequested
                    ? "not started: the host is shutting down"
                    : SkipReason(module, conf, request);
                if (skip is not null || executor is null)
                {
                    record = new ModuleRunRecord(
                        module,
                        ModuleOutcome.Skipped,
                        TimeSpan.Zero,
                        skip ?? "not loaded: its section is missing or disabled",
                        isolation
                    );
                }
                else
                {
                    var section = conf.GetSection(module.Section)!;
                    var context = new ProcessingContext(
                        analysisPath,
                        task,
                        section,
                        loggerFactory.CreateLogger($"Microkernel.Modules.{module.ClassName}"),
                        store,
                        Path.Combine(scratch, module.ClassName),
                        confDirectory,
                        processingOptions,
                        message =>
                        {
                            lock (errors)
                            {
                                errors.Add($"{module.ClassName}: {message}");
                            }
                        }
                    );
                    record = await RunModuleAsync(
                            executor,
                            isolation,
                            module,
                            context,
                            store,
                            cancellationToken
                        )
                        .ConfigureAwait(false);
                    if (record.Error is not null)
                    {
                        errors.Add($"{module.ClassName}: {record.Error}");
                    }
                }
                records.Add(record);
                progress?.Report(record);
            }
        }
        finally
        {
            using var unloading = MicrokernelTelemetry.Source.StartActivity("plugins.unload");
            var clean =
                !cancellationToken.IsCancellationRequested
                && records.TrueForAll(r => ModuleOutcome.LeavesContextReusable(r.Outcome));
            unload = await plugins
                .UnloadAsync(
                    options.UnloadGcRounds,
                    reuse is null
                        ? null
                        : session =>
                            reuse.Release(
                                session,
                                pluginsPath,
                                confFingerprint,
                                clean,
                                pinPlugins ?? (() => null)
                            )
                )
                .ConfigureAwait(false);
            unloading?.SetTag("microkernel.plugins.kept", unload.Kept);
            unloading?.SetTag("microkernel.plugins.contexts", unload.Contexts);
            unloading?.SetTag("microkernel.plugins.leaked", unload.Leaked.Count);
            unloading?.SetTag("microkernel.plugins.gc_rounds", unload.GcRounds);
        }
        return (plugins.Failures, unload);
    }

    private string? SkipReason(ModuleDescriptor module, ConfFile conf, AnalysisRequest request)
    {
        bool Named(IReadOnlySet<string> names) =>
            names.Contains(module.ClassName)
            || names.Contains(module.Plugin)
            || names.Contains(module.Section)
            || names.Contains(module.Key);
        if (request.Only is { } only && !Named(only))
        {
            return "not selected (--only)";
        }
        if (Named(request.Skip))
        {
            return "skipped (--skip)";
        }
        var section = conf.GetSection(module.Section);
        if (section is null)
        {
            _logger.LogWarning(
                "Module {Module} skipped: {Conf} has no [{Section}] section; add one with 'enabled = yes' to run it",
                module.ClassName,
                conf.Path,
                module.Section
            );
            return $"no [{module.Section}] section in {conf.Path}; add '[{module.Section}]' with 'enabled = yes'";
        }
        var raw = section.GetString("enabled", "no")!;
        if (!ModuleOptions.TryParseBoolean(raw, out var enabled))
        {
            return $"{conf.Path} [{module.Section}] enabled = '{raw}' is not a boolean";
        }
        if (!enabled)
        {
            return "disabled in configuration";
        }
        return module.ClassEnabled ? null : "disabled by its class (Enabled = false)";
    }

    private async Task<ModuleRunRecord> RunModuleAsync(
        IModuleExecutor executor,
        string isolation,
        ModuleDescriptor module,
        ProcessingContext context,
        SectionStore store,
        CancellationToken cancellationToken
    )
    {
        using var activity = MicrokernelTelemetry.Source.StartActivity("module.execute");
        activity?.SetTag("microkernel.module.name", module.ClassName);
        activity?.SetTag("microkernel.module.plugin", module.Plugin);
        activity?.SetTag("microkernel.module.key", module.Key);
        activity?.SetTag("microkernel.module.order", module.Order);
        activity?.SetTag("microkernel.module.version", module.Version);
        activity?.SetTag("microkernel.module.isolation", isolation);

        var started = Stopwatch.GetTimestamp();
        ModuleExecution execution;
        TimeSpan timeout;
        try
        {
            timeout = context.Options.GetSeconds("timeout", options.DefaultModuleTimeout);
            var invocation = new ModuleInvocation(
                context,
                store.NewSectionPath(module.ClassName),
                timeout,
                options.CancellationGrace
            );
            execution = await executor
                .ExecuteAsync(module, invocation, cancellationToken)
                .ConfigureAwait(false);
        }
        catch (ProcessingException ex)
        {
            execution = new ModuleExecution(
                ModuleOutcome.ProcessingError,
                ErrorType: ex.GetType().FullName,
                ErrorMessage: ex.Message
            );
        }
        var elapsed = Stopwatch.GetElapsedTime(started);

        var outcome = execution.Outcome;
        var error = execution.ErrorMessage is null ? null : $"{outcome}: {execution.ErrorMessage}";
        if (
            outcome == ModuleOutcome.Ok
            && execution.Section is { } section
            && !store.TryAdd(module.Key, section, module.ClassName)
        )
        {
            section.Delete();
            outcome = ModuleOutcome.DuplicateKey;
            error =
                $"{outcome}: key '{module.Key}' is already stored by {store.OwnerOf(module.Key)}; this module's result was discarded";
            execution = execution with { ErrorType = "duplicate_key" };
        }

        activity?.SetTag("microkernel.module.outcome", outcome);
        if (ModuleOutcome.IsFailure(outcome))
        {
            activity?.SetStatus(ActivityStatusCode.Error, error);
            activity?.SetTag("error.type", execution.ErrorType ?? outcome);
            activity?.AddEvent(
                new ActivityEvent(
                    "exception",
                    tags: new ActivityTagsCollection
                    {
                        ["exception.type"] = execution.ErrorType ?? outcome,
                        ["exception.message"] = execution.ErrorMessage,
                        ["exception.stacktrace"] = execution.ErrorDetail,
                    }
                )
            );
            _logger.LogError(
                "Module {Module} ({Key}) failed after {Seconds:0.000} s: {Error}{Detail}",
                module.ClassName,
                module.Key,
                elapsed.TotalSeconds,
                error,
                execution.ErrorDetail is null ? "" : Environment.NewLine + execution.ErrorDetail
            );
        }
        else
        {
            _logger.LogDebug(
                "Module {Module} ({Key}) {Outcome} in {Seconds:0.000} s",
                module.ClassName,
                module.Key,
                outcome,
                elapsed.TotalSeconds
            );
        }
        var tags = new TagList
        {
            { "microkernel.module.name", module.ClassName },
            { "microkernel.module.outcome", outcome },
        };
        MicrokernelTelemetry.ModuleDuration.Record(elapsed.TotalSeconds, tags);
        MicrokernelTelemetry.ModuleOutcomes.Add(1, tags);
        return new ModuleRunRecord(module, outcome, elapsed, error, isolation);
    }

    private static byte[] Statistics(
        IReadOnlyList<ModuleRunRecord> records,
        IReadOnlyList<PluginLoadFailure> loadFailures,
        UnloadReport unload
    )
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteStartArray("processing");
            foreach (var record in records)
            {
                writer.WriteStartObject();
                writer.WriteString("name", record.Module.ClassName);
                writer.WriteString("plugin", record.Module.Plugin);
                writer.WriteString("key", record.Module.Key);
                writer.WriteString("version", record.Module.Version);
                writer.WriteNumber("time", Math.Round(record.Elapsed.TotalSeconds, 3));
                writer.WriteString("outcome", record.Outcome);
                writer.WriteString("isolation", record.Isolation);
                if (record.Error is not null)
                {
                    writer.WriteString("error", record.Error);
                }
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WriteStartArray("load_failures");
            foreach (var failure in loadFailures)
            {
                writer.WriteStartObject();
                writer.WriteString("plugin", failure.Plugin);
                writer.WriteString("reason", failure.Reason);
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WriteStartObject("unload");
            writer.WriteNumber("contexts", unload.Contexts);
            writer.WriteNumber("unloaded", unload.Unloaded);
            writer.WriteStartArray("leaked");
            foreach (var plugin in unload.Leaked)
            {
                writer.WriteStringValue(plugin);
            }
            writer.WriteEndArray();
            writer.WriteNumber("gc_rounds", unload.GcRounds);
            writer.WriteNumber("time", Math.Round(unload.Elapsed.TotalSeconds, 3));
            writer.WriteNumber("kept", unload.Kept);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        return buffer.ToArray();
    }

    private static (string? Path, PendingReport? Pending) WriteReport(
        AnalysisRequest request,
        string analysisPath,
        SectionStore store,
        byte[] statistics
    )
    {
        if (request.OutputPath == "-")
        {
            using var stdout = Console.OpenStandardOutput();
            ReportWriter.Write(store, statistics, stdout);
            return (null, null);
        }
        var reportPath = request.OutputPath is null
            ? Path.Combine(analysisPath, "reports", "report.json")
            : Path.GetFullPath(request.OutputPath);
        if (request.DeferReportCommit)
        {
            return (reportPath, ReportWriter.WritePending(store, statistics, reportPath));
        }
        ReportWriter.WriteAtomically(store, statistics, reportPath);
        return (reportPath, null);
    }

    private static void TryDeleteDirectory(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
