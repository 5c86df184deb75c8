using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microkernel.Contracts;
using Microkernel.Plugins.Behavior.Monitor;
using Microkernel.Plugins.Behavior.Output;
using Microkernel.Plugins.Behavior.Reconstruction;
using Microsoft.Extensions.Logging;

namespace Microkernel.Plugins.Behavior;

/// <summary>
/// Cuckoo 2.0's BehaviorAnalysis (<c>behavior</c>): parses the monitor logs in <c>logs/*.bson</c>
/// into <c>processes</c> (with their calls), <c>processtree</c>, <c>summary</c>, <c>generic</c> and
/// <c>apistats</c>. The section is streamed to a scratch file: a first pass over the logs builds
/// everything but the call lists, a second pass writes each process's calls straight into the
/// report, so memory stays flat however many calls there are.
/// </summary>
/// <remarks>
/// Options (<c>[behavior]</c>): <c>calls</c> (default yes) — no leaves <c>processes[].calls</c> empty
/// (Cuckoo's jsondump <c>calls</c> switch) while summary and apistats stay complete.
/// <c>[processing] analysis_size_limit</c> (default 128 MiB) skips larger logs. Problems with a log
/// (oversize, damage) are logged and listed under the extra key <c>errors</c>.
/// </remarks>
public sealed class BehaviorAnalysis : Processing
{
    /// <summary>Cuckoo's default analysis_size_limit.</summary>
    public const long DefaultSizeLimit = 128L * 1024 * 1024;

    /// <inheritdoc />
    public override string Key => "behavior";

    /// <inheritdoc />
    public override Task<object?> RunAsync(CancellationToken cancellationToken)
    {
        var includeCalls = Options.GetBoolean("calls", true);
        var sizeLimit = Context.ProcessingOptions.GetInt64("analysis_size_limit", DefaultSizeLimit);
        var writerThreadMin = Options.GetInt64("writer_thread_min_bytes", DefaultWriterThreadMin);
        return Task.FromResult(Run(includeCalls, sizeLimit, writerThreadMin, cancellationToken));
    }

    /// <summary>
    /// Logs of at least this many bytes get a writer thread for the section (it overlaps the
    /// disk writes with parsing); smaller ones write on the module's thread, since a thread's
    /// start costs more than their whole output's write and a daemon's other workers want the
    /// other core.
    /// </summary>
    private const long DefaultWriterThreadMin = 1024 * 1024;

    private const int SmallCallBuffer = 64 * 1024;

    private object? Run(
        bool includeCalls,
        long sizeLimit,
        long writerThreadMin,
        CancellationToken cancellationToken
    )
    {
        var state = new AnalysisState();
        var logs = EnumerateLogs(sizeLimit, state);
        var logBytes = logs.Sum(l => l.Size);
        // Small logs compile only the little they use; waiting for the whole warm-up would
        // cost them more than it saves (the shipped sample: its 13 KB of logs).
        var warmUp =
            includeCalls && logBytes >= CallListWarmUp.WorthwhileLogBytes
                ? CallListWarmUp.Start()
                : null;
        try
        {
            return Run(includeCalls, logs, state, logBytes >= writerThreadMin, cancellationToken);
        }
        finally
        {
            warmUp?.Join();
        }
    }

    private object? Run(
        bool includeCalls,
        List<LogFile> logs,
        AnalysisState state,
        bool writerThread,
        CancellationToken cancellationToken
    )
    {
        foreach (var log in logs)
        {
            FirstPass(log, state, cancellationToken);
        }
        WriteRebootFile(state);
        foreach (var action in state.Actions)
        {
            Logger.LogWarning("Monitor action reported: {Action}", action);
        }

        var processes = state.Processes.OrderBy(p => p.FirstSeen).ThenBy(p => p.Sequence).ToList();
        if (processes.Count == 0 && state.Summary.IsEmpty && state.Errors.Count == 0)
        {
            return null;
        }

        // A large section is written by a second thread straight to a scratch file; a small one
        // stays in memory and never touches the disk.
        var outputPath = writerThread ? Path.Combine(Context.ScratchPath, "behavior.json") : null;
        using Stream stream = outputPath is not null
            ? new PipelinedFileStream(outputPath)
            : Context.CreateSectionStream();
        using (var writer = new Utf8JsonWriter(stream, BehaviorJson.WriterOptions))
        {
            writer.WriteStartObject();
            if (processes.Count > 0)
            {
                writer.WriteStartArray("processes");
                foreach (var process in processes)
                {
                    WriteProcess(writer, stream, process, includeCalls, logs, cancellationToken);
                }
                writer.WriteEndArray();
                WriteProcessTree(writer, processes);
            }
            if (!state.Summary.IsEmpty)
            {
                writer.WritePropertyName("summary");
                WriteSummary(writer, state.Summary, state.Values);
            }
            if (state.Generic.Count > 0)
            {
                writer.WriteStartArray("generic");
                foreach (
                    var (process, summary) in state
                        .Generic.Values.OrderBy(g => g.Process.FirstSeen)
                        .ThenBy(g => g.Process.Sequence)
                )
                {
                    writer.WriteStartObject();
                    writer.WriteNumber("pid", process.Pid);
                    WriteNode(writer, "ppid", process.Ppid);
                    writer.WriteString("process_name", process.ProcessName);
                    writer.WriteString("process_path", process.ProcessPath);
                    writer.WriteNumber("first_seen", process.FirstSeen.ToEpochDouble());
                    writer.WritePropertyName("summary");
                    WriteSummary(writer, summary, state.Values);
                    writer.WriteEndObject();
                }
                writer.WriteEndArray();
            }
            if (state.ApiStats.Count > 0)
            {
                writer.WriteStartObject("apistats");
                foreach (var (pid, counts) in state.ApiStats)
                {
                    writer.WriteStartObject(
                        pid.ToString(System.Globalization.CultureInfo.InvariantCulture)
                    );
                    foreach (var (api, count) in counts)
                    {
                        writer.WriteNumber(api, count);
                    }
                    writer.WriteEndObject();
                }
                writer.WriteEndObject();
            }
            if (state.Errors.Count > 0)
            {
                writer.WriteStartArray("errors");
                foreach (var error in state.Errors)
                {
                    writer.WriteStringValue(error);
                }
                writer.WriteEndArray();
            }
            writer.WriteEndObject();
        }
        if (stream is SectionStream section)
        {
            return section.ToSection();
        }
        stream.Dispose();
        return JsonSection.FromFile(outputPath!);
    }

    private List<LogFile> EnumerateLogs(long sizeLimit, AnalysisState state)
    {
        var result = new List<LogFile>();
        if (!Directory.Exists(LogsPath))
        {
            Logger.LogWarning("Analysis results folder does not exist at path {Path}.", LogsPath);
            return result;
        }
        var files = Directory.GetFileSystemEntries(LogsPath).Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0)
        {
            Logger.LogWarning("Analysis results folder does not contain any behavior log files.");
        }
        foreach (var path in files)
        {
            var displayName = "logs/" + Path.GetFileName(path);
            if (!File.Exists(path))
            {
                Logger.LogWarning("Behavior log file {File} is not a file.", displayName);
                continue;
            }
            var size = new FileInfo(path).Length;
            if (sizeLimit > 0 && size > sizeLimit)
            {
                state.AddError(
                    this,
                    $"{displayName}: behavior log of {size} bytes is over analysis_size_limit ({sizeLimit} bytes); skipped at byte offset 0"
                );
                continue;
            }
            if (!path.EndsWith(".bson", StringComparison.Ordinal))
            {
                Logger.LogDebug("No parser for behavior log {File}; ignored.", displayName);
                continue;
            }
            result.Add(new LogFile(path, displayName, size));
        }
        return result;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void FirstPass(LogFile log, AnalysisState state, CancellationToken cancellationToken)
    {
        using var parser = new MonitorLogParser(
            log.Path,
            log.DisplayName,
            Path.Combine(AnalysisPath, "buffer"),
            Logger
        )
        {
            NextProcessSequence = state.Processes.Count,
        };
        var view = new CallView(parser, state.Values);
        MonitorProcess? current = null;
        BehaviorReconstructor? reconstructor = null;
        SummarySink? summarySink = null;
        var apiCounts = new ApiCounter(state.ApiStats);
        try
        {
            while (true)
            {
                var kind = parser.Next(cancellationToken);
                if (kind == MonitorEventKind.End)
                {
                    break;
                }
                if (kind == MonitorEventKind.Action)
                {
                    if (
                        parser.ActionValue is JsonValue action
                        && action.TryGetValue<string>(out var text)
                    )
                    {
                        state.Actions.Add(text);
                    }
                    continue;
                }
                if (kind == MonitorEventKind.Process)
                {
                    current = parser.Process!;
                    apiCounts.StartProcess(current.Pid);
                    state.Processes.Add(current);
                    reconstructor = new BehaviorReconstructor();
                    state.Reconstructors[current.Pid] = reconstructor;
                    if (!state.Generic.ContainsKey(current.Pid))
                    {
                        state.Generic[current.Pid] = (current, new SummarySet());
                    }
                    else
                    {
                        Logger.LogWarning(
                            "Found the same process identifier {Pid} twice.",
                            current.Pid
                        );
                    }
                    summarySink = new SummarySink(
                        state.Summary,
                        state.Generic[current.Pid].Summary
                    );
                    continue;
                }

                // An API call of the current process.
                var info = parser.Info;
                apiCounts.Count(info);
                if (info.Handler == ApiHandler.None)
                {
                    continue;
                }
                try
                {
                    reconstructor!.Process(view, summarySink!);
                    if (info.Handler is ApiHandler.RegkeyWritten or ApiHandler.RegkeyDeleted)
                    {
                        RebootReconstructor.Process(
                            view,
                            current!.FirstSeen.AddMilliseconds(parser.TimeMilliseconds).DayOfMonth,
                            state.Reboot
                        );
                    }
                }
                catch (MissingArgumentException missing)
                {
                    parser.Problems.Add(
                        parser.DocumentOffset,
                        $"call of {info.Name} lacks argument '{missing.ArgumentName}'; left out of the summary"
                    );
                }
            }
        }
        catch (IOException io)
        {
            parser.Problems.Add(parser.DocumentOffset, $"read error: {io.Message}");
        }
        finally
        {
            apiCounts.EndProcess();
        }
        if (parser.Problems.Summary is { } problem)
        {
            state.AddError(this, problem);
        }
    }

    private void WriteProcess(
        Utf8JsonWriter writer,
        Stream stream,
        MonitorProcess process,
        bool includeCalls,
        List<LogFile> logs,
        CancellationToken cancellationToken
    )
    {
        writer.WriteStartObject();
        writer.WriteString("type", "process");
        WriteNode(writer, "tid", process.Tid);
        writer.WriteNumber("time", process.Time);
        writer.WriteNumber("pid", process.Pid);
        WriteNode(writer, "ppid", process.Ppid);
        writer.WriteNumber("first_seen", process.FirstSeen.ToEpochDouble());
        writer.WriteString("process_path", process.ProcessPath);
        writer.WriteString("process_name", process.ProcessName);
        WriteNode(writer, "command_line", process.CommandLine);
        writer.WriteBoolean("track", process.Track);
        WriteNode(writer, "modules", process.Modules);
        writer.WriteStartArray("calls");
        if (includeCalls && process.HasCalls)
        {
            // The items go to the stream directly, between the writer's '[' and ']'.
            writer.Flush();
            WriteCalls(
                stream,
                process,
                logs.First(l => l.DisplayName == process.LogPath),
                cancellationToken
            );
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    /// <summary>Second pass: re-reads the process's log and writes its calls as they come.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WriteCalls(
        Stream stream,
        MonitorProcess process,
        LogFile log,
        CancellationToken cancellationToken
    )
    {
        using var parser = new MonitorLogParser(
            log.Path,
            log.DisplayName,
            bufferDirectory: null,
            logger: null
        );
        // Full buffers change hands with a pipelined stream: fill them to near their size. The
        // plain stream serves small logs: a buffer under the large object heap's 85,000 bytes,
        // since each large one a task allocates brings the next full (gen2) collection closer.
        var (flushAt, capacity) = stream is PipelinedFileStream pipelined
            ? (pipelined.BufferSize - pipelined.BufferSize / 16, pipelined.BufferSize)
            : (SmallCallBuffer - SmallCallBuffer / 16, SmallCallBuffer);
        var buffer =
            stream is PipelinedFileStream ? new Utf8Buffer(capacity) : Utf8Buffer.Rented(capacity);
        var calls = new CallWriter(process, buffer);
        var active = false;
        try
        {
            while (true)
            {
                var kind = parser.Next(cancellationToken);
                if (kind == MonitorEventKind.End)
                {
                    break;
                }
                if (kind == MonitorEventKind.Process)
                {
                    if (active)
                    {
                        break;
                    }
                    active = parser.ProcessOrdinal == process.OrdinalInLog;
                    continue;
                }
                if (kind == MonitorEventKind.Call && active)
                {
                    calls.Write(parser);
                    if (calls.PendingBytes > flushAt)
                    {
                        calls.CopyTo(stream);
                    }
                }
            }
        }
        catch (IOException)
        {
            // Already reported by the first pass; keep what was written.
        }
        try
        {
            calls.CopyTo(stream);
        }
        finally
        {
            buffer.Return();
        }
    }

    private static void WriteProcessTree(Utf8JsonWriter writer, List<MonitorProcess> processes)
    {
        // C2 ProcessTree: one node per pid (first seen wins), a parent only if it appeared earlier.
        var nodes = new Dictionary<long, (MonitorProcess Process, List<long> Children)>();
        var roots = new List<long>();
        var seen = new HashSet<long>();
        foreach (var process in processes)
        {
            if (nodes.ContainsKey(process.Pid))
            {
                continue;
            }
            nodes[process.Pid] = (process, []);
        }
        foreach (
            var (process, _) in nodes
                .Values.OrderBy(n => n.Process.FirstSeen)
                .ThenBy(n => n.Process.Sequence)
                .ToList()
        )
        {
            if (
                process.Ppid is JsonValue ppidValue
                && ppidValue.TryGetValue<long>(out var ppid)
                && seen.Contains(ppid)
            )
            {
                nodes[ppid].Children.Add(process.Pid);
            }
            else
            {
                roots.Add(process.Pid);
            }
            seen.Add(process.Pid);
        }

        void WriteNodeOf(long pid, int depth)
        {
            var (process, children) = nodes[pid];
            writer.WriteStartObject();
            writer.WriteNumber("pid", process.Pid);
            WriteNode(writer, "ppid", process.Ppid);
            writer.WriteString("process_name", process.ProcessName);
            WriteNode(writer, "command_line", process.CommandLine);
            writer.WriteNumber("first_seen", process.FirstSeen.ToEpochDouble());
            writer.WriteStartArray("children");
            foreach (var child in children)
            {
                WriteNodeOf(child, depth + 1);
            }
            writer.WriteEndArray();
            writer.WriteBoolean("track", process.Track);
            writer.WriteEndObject();
        }

        writer.WriteStartArray("processtree");
        foreach (var root in roots)
        {
            WriteNodeOf(root, 0);
        }
        writer.WriteEndArray();
    }

    private static void WriteSummary(
        Utf8JsonWriter writer,
        SummarySet summary,
        SummaryValues values
    )
    {
        writer.WriteStartObject();
        foreach (var category in summary.Categories)
        {
            writer.WriteStartArray(SummaryCategories.JsonNames[(int)category]);
            foreach (var id in summary.ValuesOf(category))
            {
                writer.WriteRawValue(values[id], skipInputValidation: true);
            }
            writer.WriteEndArray();
        }
        writer.WriteEndObject();
    }

    private static void WriteNode(Utf8JsonWriter writer, string name, JsonNode? node)
    {
        writer.WritePropertyName(name);
        if (node is null)
        {
            writer.WriteNullValue();
        }
        else
        {
            node.WriteTo(writer);
        }
    }

    /// <summary>
    /// Rewrites <c>reboot.json</c> as C2's RebootInformation does (JSON lines, sorted by the
    /// day-of-month "time" it stores, Q9 kept): empty when the logs hold no reboot events.
    /// </summary>
    private void WriteRebootFile(AnalysisState state)
    {
        var path = Path.Combine(AnalysisPath, "reboot.json");
        try
        {
            using var stream = new FileStream(
                path,
                FileMode.Create,
                FileAccess.Write,
                FileShare.None
            );
            foreach (var reboot in state.Reboot.OrderBy(r => r.Day))
            {
                using (var writer = new Utf8JsonWriter(stream, BehaviorJson.WriterOptions))
                {
                    writer.WriteStartObject();
                    writer.WriteString("type", "reboot");
                    writer.WriteString("category", reboot.Category);
                    writer.WritePropertyName("args");
                    writer.WriteRawValue(reboot.ArgsJson, skipInputValidation: true);
                    writer.WriteNumber("time", reboot.Day);
                    writer.WriteEndObject();
                }
                stream.WriteByte((byte)'\n');
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Logger.LogError(e, "Could not write {Path}.", path);
        }
    }

    private sealed record LogFile(string Path, string DisplayName, long Size);

    /// <summary>
    /// Counts calls per API for <c>apistats</c> on the <see cref="ApiInfo"/> itself (no name
    /// lookup per call) and folds them into the pid's counts when the process's calls end, in
    /// the order the APIs were first called.
    /// </summary>
    private sealed class ApiCounter(Dictionary<long, Dictionary<string, long>> apiStats)
    {
        private readonly List<ApiInfo> _called = [];
        private long _pid;
        private int _segment;

        public void StartProcess(long pid)
        {
            EndProcess();
            _pid = pid;
            _segment++;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Count(ApiInfo info)
        {
            if (info.CountSegment != _segment)
            {
                info.CountSegment = _segment;
                info.CallCount = 0;
                _called.Add(info);
            }
            info.CallCount++;
        }

        public void EndProcess()
        {
            if (_called.Count == 0)
            {
                return;
            }
            if (!apiStats.TryGetValue(_pid, out var counts))
            {
                counts = new Dictionary<string, long>(StringComparer.Ordinal);
                apiStats[_pid] = counts;
            }
            foreach (var info in _called)
            {
                System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(
                    counts,
                    info.Name,
                    out _
                ) += info.CallCount;
            }
            _called.Clear();
        }
    }

    private sealed class AnalysisState
    {
        public List<MonitorProcess> Processes { get; } = [];

        public Dictionary<long, BehaviorReconstructor> Reconstructors { get; } = [];

        public Dictionary<long, (MonitorProcess Process, SummarySet Summary)> Generic { get; } = [];

        public Dictionary<long, Dictionary<string, long>> ApiStats { get; } = [];

        public SummaryValues Values { get; } = new();

        public SummarySet Summary { get; } = new();

        public List<RebootEvent> Reboot { get; } = [];

        public List<string> Actions { get; } = [];

        public List<string> Errors { get; } = [];

        public void AddError(Processing module, string error)
        {
            module.Logger.LogError("{Error}", error);
            module.Context.ReportError(error);
            Errors.Add(error);
        }
    }
}
