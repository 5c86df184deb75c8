using Microkernel.Contracts;
using Microkernel.Host.Plugins;
using Microkernel.Host.Results;

namespace Microkernel.Host.Running;

/// <summary>Outcome names as they appear in reports, logs, spans and metrics.</summary>
internal static class ModuleOutcome
{
    public const string Ok = "ok";
    public const string Empty = "empty";
    public const string ProcessingError = "processing_error";
    public const string MissingDependency = "missing_dependency";
    public const string Exception = "exception";
    public const string Timeout = "timeout";
    public const string Abandoned = "abandoned";
    public const string Cancelled = "cancelled";
    public const string DuplicateKey = "duplicate_key";
    public const string Skipped = "skipped";
    public const string WorkerDied = "worker_died";
    public const string MemoryLimit = "memory_limit";

    public static bool IsFailure(string outcome) => outcome is not (Ok or Empty or Skipped);

    /// <summary>
    /// The module ended and left nothing running or half-done in its context, so the context
    /// may serve another run: not one that timed out, was cancelled or abandoned, threw, or whose
    /// worker died.
    /// </summary>
    public static bool LeavesContextReusable(string outcome) =>
        outcome is Ok or Empty or Skipped or ProcessingError or MissingDependency or DuplicateKey;
}

/// <summary>Everything a module run needs besides the module itself.</summary>
/// <param name="SectionPath">Where the section goes when it is written to a file.</param>
/// <param name="Store">Where a worker sends the result instead of <paramref name="SectionPath"/>.</param>
internal sealed record ModuleInvocation(
    ProcessingContext Context,
    string SectionPath,
    TimeSpan Timeout,
    TimeSpan Grace,
    Action<object>? Store = null
);

/// <summary>The result of one module run, free of plugin types.</summary>
/// <param name="Outcome">One of <see cref="ModuleOutcome"/>.</param>
/// <param name="Section">The section when the module stored something.</param>
/// <param name="ErrorType">Exception type name, or <c>timeout</c>.</param>
/// <param name="ErrorMessage">One line for <c>debug.errors</c>.</param>
/// <param name="ErrorDetail">Stack trace or other detail for the log.</param>
internal sealed record ModuleExecution(
    string Outcome,
    SectionContent? Section = null,
    string? ErrorType = null,
    string? ErrorMessage = null,
    string? ErrorDetail = null
);

/// <summary>
/// Runs one module under a time budget. The in-process executor abandons a module that ignores
/// cancellation; an out-of-process executor can kill its worker instead, behind the same seam.
/// </summary>
internal interface IModuleExecutor
{
    Task<ModuleExecution> ExecuteAsync(
        ModuleDescriptor module,
        ModuleInvocation invocation,
        CancellationToken cancellationToken
    );
}
