using System.Text.Json;

namespace Microkernel.Testing;

/// <summary>One module of the plugin as the run recorded it in <c>statistics.processing</c>.</summary>
/// <param name="Name">The module's class name.</param>
/// <param name="Key">The section it stores its result under.</param>
/// <param name="Outcome">
/// <c>ok</c>, <c>empty</c> (returned null), <c>skipped</c>, or a failure: <c>processing_error</c>,
/// <c>missing_dependency</c>, <c>exception</c>, <c>timeout</c>, <c>abandoned</c>, <c>cancelled</c>,
/// <c>duplicate_key</c>, and in process isolation <c>worker_died</c> and <c>memory_limit</c>.
/// </param>
/// <param name="Error">The error line (<c>"&lt;outcome&gt;: &lt;message&gt;"</c>), or null.</param>
/// <param name="Elapsed">How long the module ran, as the host measured it.</param>
public sealed record ModuleRun(
    string Name,
    string Key,
    string Outcome,
    string? Error,
    TimeSpan Elapsed
);

/// <summary>
/// What one <see cref="ModuleTestHost.RunAsync"/> produced, read back from the report the host
/// wrote: the module's section, its outcome, the <c>debug.errors</c> lines and the log.
/// </summary>
public sealed class ModuleTestResult
{
    internal ModuleTestResult(
        JsonElement report,
        IReadOnlyList<ModuleRun> modules,
        IReadOnlyList<string> errors,
        IReadOnlyList<string> log,
        ModuleIsolation isolation
    )
    {
        Report = report;
        Modules = modules;
        Errors = errors;
        Log = log;
        Isolation = isolation;
    }

    /// <summary>The whole report (<c>report.json</c>), including <c>statistics</c> and <c>debug</c>.</summary>
    public JsonElement Report { get; }

    /// <summary>Every module class of the plugin, in the order they ran.</summary>
    public IReadOnlyList<ModuleRun> Modules { get; }

    /// <summary>The <c>debug.errors</c> lines: errors the module reported with <c>Context.ReportError</c> and the host's lines about failed modules.</summary>
    public IReadOnlyList<string> Errors { get; }

    /// <summary>Log lines of the run (host and module), as <c>"level category: message"</c>.</summary>
    public IReadOnlyList<string> Log { get; }

    /// <summary>How the module was run.</summary>
    public ModuleIsolation Isolation { get; }

    /// <summary>The plugin's only module.</summary>
    /// <exception cref="ModuleTestException">The plugin holds several modules; use <see cref="Modules"/> and <see cref="GetSection"/>.</exception>
    public ModuleRun Module =>
        Modules.Count == 1
            ? Modules[0]
            : throw new ModuleTestException(
                $"The plugin holds {Modules.Count} modules ({string.Join(", ", Modules.Select(m => m.Name))}); pick one from Modules and read its section with GetSection(key)."
            );

    /// <summary>The outcome of the plugin's only module (<c>ok</c>, <c>empty</c>, <c>processing_error</c>...).</summary>
    public string Outcome => Module.Outcome;

    /// <summary>The error line of the plugin's only module, or null.</summary>
    public string? Error => Module.Error;

    /// <summary>The section the plugin's only module stored under its key.</summary>
    /// <exception cref="ModuleTestException">It stored nothing; the message says why (outcome and error).</exception>
    public JsonElement Section => GetSection(Module.Key);

    /// <summary>The section stored under <paramref name="key"/>.</summary>
    /// <exception cref="ModuleTestException">Nothing is stored under that key; the message gives the outcomes and errors.</exception>
    public JsonElement GetSection(string key)
    {
        if (TryGetSection(key, out var section))
        {
            return section;
        }
        var runs = string.Join(
            "; ",
            Modules.Select(m => $"{m.Name} ({m.Key}): {m.Error ?? m.Outcome}")
        );
        throw new ModuleTestException($"The report holds no '{key}' section. Modules: {runs}.");
    }

    /// <summary>The section stored under <paramref name="key"/>, if any.</summary>
    public bool TryGetSection(string key, out JsonElement section)
    {
        ArgumentNullException.ThrowIfNull(key);
        return Report.TryGetProperty(key, out section);
    }
}
