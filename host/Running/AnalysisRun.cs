using Microkernel.Host.Plugins;
using Microkernel.Host.Results;

namespace Microkernel.Host.Running;

/// <summary>What the caller asks of one analysis run.</summary>
internal sealed record AnalysisRequest(string AnalysisPath)
{
    /// <summary>Where to write the report; null for <c>&lt;analysis&gt;/reports/report.json</c>; <c>-</c> for stdout.</summary>
    public string? OutputPath { get; init; }

    /// <summary>Run only these modules (class, plugin, section or key names), if set.</summary>
    public IReadOnlySet<string>? Only { get; init; }

    /// <summary>Never run these modules (class, plugin, section or key names).</summary>
    public IReadOnlySet<string> Skip { get; init; } = new HashSet<string>();

    /// <summary>
    /// Leave the report written but uncommitted in <see cref="AnalysisResult.PendingReport"/>:
    /// the caller commits it (the daemon does so while its worker starts the next task).
    /// </summary>
    public bool DeferReportCommit { get; init; }
}

/// <summary>One module's line in the run summary and in <c>statistics.processing</c>.</summary>
internal sealed record ModuleRunRecord(
    ModuleDescriptor Module,
    string Outcome,
    TimeSpan Elapsed,
    string? Error = null,
    string Isolation = "in-process"
);

/// <summary>The whole run, as the CLI and the daemon see it.</summary>
internal sealed record AnalysisResult(
    string AnalysisPath,
    string? ReportPath,
    IReadOnlyList<ModuleRunRecord> Modules,
    IReadOnlyList<PluginLoadFailure> LoadFailures,
    IReadOnlyList<string> Errors,
    UnloadReport Unload,
    TimeSpan Elapsed
)
{
    /// <summary>The report still to commit, when the request deferred it; the caller owns it.</summary>
    public PendingReport? PendingReport { get; init; }

    public bool HasModuleErrors =>
        Modules.Any(m => ModuleOutcome.IsFailure(m.Outcome)) || LoadFailures.Count > 0;
}

/// <summary>The analysis folder or configuration cannot be used; nothing was written.</summary>
internal sealed class UnusableAnalysisException(string message, Exception? inner = null)
    : Exception(message, inner);
