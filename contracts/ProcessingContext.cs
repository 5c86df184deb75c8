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
    /// <param name="scratchPath">A private folder for temporary files, created on first use; deleted after the analysis.</param>
    /// <param name="confDirectory">The configuration folder (<c>conf/</c>), for modules with their own files such as <c>memory.conf</c>.</param>
    /// <param name="processingOptions">The <c>[processing]</c> section: limits shared by all modules.</param>
    /// <param name="errorSink">Receives <see cref="ReportError"/> messages; the host lists them in <c>debug.errors</c>.</param>
    public ProcessingContext(
        string analysisPath,
        TaskInfo task,
        ModuleOptions options,
        ILogger logger,
        IProcessingResults results,
        string scratchPath,
        string confDirectory,
        ModuleOptions processingOptions,
        Action<string>? errorSink = null
    )
    {
        AnalysisPath = analysisPath;
        Task = task;
        Options = options;
        Logger = logger;
        Results = results;
        _scratchPath = scratchPath;
        ConfDirectory = confDirectory;
        ProcessingOptions = processingOptions;
        _errorSink = errorSink;
    }

    private readonly Action<string>? _errorSink;

    /// <summary>
    /// Records a non-fatal problem (a damaged log, a skipped oversize file, a refused path) in
    /// <c>debug.errors</c> while the module goes on. Cuckoo only logs these; every limit that drops
    /// data should be reported here. Name the file and what is wrong.
    /// </summary>
    public void ReportError(string message)
    {
        ArgumentException.ThrowIfNullOrEmpty(message);
        _errorSink?.Invoke(message);
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

    private readonly string _scratchPath;
    private bool _scratchCreated;

    /// <summary>
    /// A private folder for temporary files, e.g. a large section for <see cref="JsonSection.FromFile"/>.
    /// Created on first use: most modules never write one, and on some file systems every folder
    /// created and deleted per analysis costs a synchronous disk command.
    /// </summary>
    public string ScratchPath
    {
        get
        {
            if (!_scratchCreated)
            {
                Directory.CreateDirectory(_scratchPath);
                _scratchCreated = true;
            }
            return _scratchPath;
        }
    }

    /// <summary>
    /// A stream for this module's section JSON: kept in memory up to 1 MiB, moved to a file in
    /// <see cref="ScratchPath"/> beyond that. Return its <see cref="SectionStream.ToSection"/>.
    /// </summary>
    public SectionStream CreateSectionStream() =>
        new(() => Path.Combine(ScratchPath, $"section-{Guid.NewGuid():N}.json"));

    /// <summary>The configuration folder.</summary>
    public string ConfDirectory { get; }

    /// <summary>The <c>[processing]</c> section of <c>processing.conf</c> (e.g. <c>analysis_size_limit</c>).</summary>
    public ModuleOptions ProcessingOptions { get; }
}
