using Microsoft.Extensions.Logging;

namespace Microkernel.Contracts;

/// <summary>What the host hands a module for one analysis. Created by the host or a test kit.</summary>
public sealed class ProcessingContext
{
    /// <summary>Creates a context.</summary>
    /// <param name="analysisPath">Absolute path of the analysis folder.</param>
    /// <param name="task">The task, read from <c>analysis.conf</c> or <c>task.json</c>.</param>
    /// <param name="options">The module's configuration section.</param>
    /// <param name="logger">The module's logger.</param>
    /// <param name="results">Sections stored by earlier modules.</param>
    /// <param name="scratchPath">A private folder for temporary files; deleted after the analysis.</param>
    /// <param name="confDirectory">The configuration folder (<c>conf/</c>), for modules with their own files such as <c>memory.conf</c>.</param>
    /// <param name="processingOptions">The <c>[processing]</c> section: limits shared by all modules.</param>
    public ProcessingContext(
        string analysisPath,
        TaskInfo task,
        ModuleOptions options,
        ILogger logger,
        IProcessingResults results,
        string scratchPath,
        string confDirectory,
        ModuleOptions processingOptions
    )
    {
        AnalysisPath = analysisPath;
        Task = task;
        Options = options;
        Logger = logger;
        Results = results;
        ScratchPath = scratchPath;
        ConfDirectory = confDirectory;
        ProcessingOptions = processingOptions;
    }

    /// <summary>Absolute path of the analysis folder.</summary>
    public string AnalysisPath { get; }

    /// <summary>The task being processed.</summary>
    public TaskInfo Task { get; }

    /// <summary>The module's configuration section.</summary>
    public ModuleOptions Options { get; }

    /// <summary>The module's logger.</summary>
    public ILogger Logger { get; }

    /// <summary>Sections stored by modules that ran earlier.</summary>
    public IProcessingResults Results { get; }

    /// <summary>A private folder for temporary files, e.g. a large section for <see cref="JsonSection.FromFile"/>.</summary>
    public string ScratchPath { get; }

    /// <summary>The configuration folder.</summary>
    public string ConfDirectory { get; }

    /// <summary>The <c>[processing]</c> section of <c>processing.conf</c> (e.g. <c>analysis_size_limit</c>).</summary>
    public ModuleOptions ProcessingOptions { get; }
}
