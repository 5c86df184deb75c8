using System.Text.Json.Serialization;
using Microkernel.Contracts;
using Microkernel.Host.Plugins;

namespace Microkernel.Host.Isolation;

/// <summary>
/// The messages between the host and a module worker. Source-generated serialisation keeps the
/// host's own types out of reflection caches and costs no start-up time in the worker.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(LoadRequest), "load")]
[JsonDerivedType(typeof(LoadReply), "loaded")]
[JsonDerivedType(typeof(RunRequest), "run")]
[JsonDerivedType(typeof(CancelRequest), "cancel")]
[JsonDerivedType(typeof(RunReply), "done")]
[JsonDerivedType(typeof(LogRecord), "log")]
[JsonDerivedType(typeof(ErrorRecord), "error")]
[JsonDerivedType(typeof(SpanRecord), "span")]
[JsonDerivedType(typeof(UnloadRequest), "unload")]
[JsonDerivedType(typeof(UnloadReply), "unloaded")]
internal abstract record WorkerMessage;

/// <summary>Load these plugin folders, each into its own collectible context, and describe their modules.</summary>
internal sealed record LoadRequest(IReadOnlyList<PluginFolder> Plugins, string? TraceParent)
    : WorkerMessage;

internal sealed record LoadReply(
    IReadOnlyList<ModuleDescriptor> Modules,
    IReadOnlyList<PluginLoadFailure> Failures
) : WorkerMessage;

/// <summary>Run one loaded module; the result comes back as chunk frames, then a <see cref="RunReply"/>.</summary>
internal sealed record RunRequest(
    string Plugin,
    string ClassName,
    RunContext Context,
    double GraceSeconds,
    string? TraceParent
) : WorkerMessage;

/// <summary>What the worker needs to rebuild the module's <see cref="ProcessingContext"/>.</summary>
internal sealed record RunContext(
    string AnalysisPath,
    TaskInfo Task,
    string Section,
    IReadOnlyDictionary<string, string> Options,
    string? OptionsSource,
    IReadOnlyDictionary<string, string> ProcessingOptions,
    string ScratchPath,
    string ConfDirectory,
    IReadOnlyDictionary<string, string> Sections
);

internal sealed record CancelRequest : WorkerMessage;

internal sealed record RunReply(
    string Outcome,
    string? ErrorType,
    string? ErrorMessage,
    string? ErrorDetail,
    long ResultBytes
) : WorkerMessage;

/// <summary>A log record of the module or the worker, already formatted.</summary>
internal sealed record LogRecord(int Level, string Category, int EventId, string Text)
    : WorkerMessage;

/// <summary>A <see cref="ProcessingContext.ReportError"/> call.</summary>
internal sealed record ErrorRecord(string Text) : WorkerMessage;

/// <summary>A finished span of the worker, re-emitted by the host under the same parent.</summary>
internal sealed record SpanRecord(
    string Name,
    string TraceId,
    string ParentSpanId,
    DateTime StartUtc,
    DateTime EndUtc,
    int Status,
    string? StatusDescription,
    IReadOnlyDictionary<string, string?> Tags
) : WorkerMessage;

internal sealed record UnloadRequest(int GcRounds, string? TraceParent) : WorkerMessage;

internal sealed record UnloadReply(
    int Contexts,
    int Unloaded,
    IReadOnlyList<string> Leaked,
    int GcRounds,
    double ElapsedMilliseconds
) : WorkerMessage;

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull
)]
[JsonSerializable(typeof(WorkerMessage))]
internal sealed partial class WorkerJson : JsonSerializerContext;
