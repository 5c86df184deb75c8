using Microsoft.Extensions.Logging;

namespace Microkernel.Contracts;

/// <summary>
/// Base class of every processing module, the counterpart of Cuckoo's
/// <c>lib.cuckoo.common.abstracts.Processing</c>. A module turns raw results of one analysis
/// folder into one section of the global container (<c>report.json</c>) under <see cref="Key"/>.
/// </summary>
/// <remarks>
/// The host creates one instance per analysis, calls <see cref="Initialize"/> once, then
/// <see cref="RunAsync"/> once. Modules must not start threads or timers that outlive
/// <see cref="RunAsync"/>, keep static references to host objects, or call
/// <see cref="Environment.Exit(int)"/>: the host unloads the module's assembly afterwards.
/// </remarks>
public abstract class Processing
{
    private ProcessingContext? _context;

    /// <summary>The name of the sub-container the result is stored under (Cuckoo's <c>self.key</c>).</summary>
    public abstract string Key { get; }

    /// <summary>Run order; modules run by <see cref="Order"/>, then by class name (case-insensitive).</summary>
    public virtual int Order => 1;

    /// <summary>A module whose class says <c>false</c> never runs, whatever its configuration says.</summary>
    public virtual bool Enabled => true;

    /// <summary>Everything the host hands the module for this analysis.</summary>
    public ProcessingContext Context =>
        _context
        ?? throw new InvalidOperationException(
            $"{GetType().Name} has not been initialised; the host calls Initialize before RunAsync."
        );

    /// <summary>Path to the analysis folder (Cuckoo's <c>self.analysis_path</c>).</summary>
    public string AnalysisPath => Context.AnalysisPath;

    /// <summary><c>analysis.log</c> (Cuckoo's <c>self.log_path</c>).</summary>
    public string LogPath => Path.Combine(AnalysisPath, "analysis.log");

    /// <summary><c>analysis.conf</c> (Cuckoo's <c>self.conf_path</c>).</summary>
    public string ConfPath => Path.Combine(AnalysisPath, "analysis.conf");

    /// <summary>The analysed file, <c>binary</c> (Cuckoo's <c>self.file_path</c>).</summary>
    public string FilePath => Path.Combine(AnalysisPath, "binary");

    /// <summary>Dropped files, <c>files/</c> (Cuckoo's <c>self.dropped_path</c>).</summary>
    public string DroppedPath => Path.Combine(AnalysisPath, "files");

    /// <summary>Metadata of dropped files, <c>files.json</c> (Cuckoo's <c>self.dropped_meta_path</c>).</summary>
    public string DroppedMetaPath => Path.Combine(AnalysisPath, "files.json");

    /// <summary>Raw behaviour logs, <c>logs/</c> (Cuckoo's <c>self.logs_path</c>).</summary>
    public string LogsPath => Path.Combine(AnalysisPath, "logs");

    /// <summary>Screenshots, <c>shots/</c> (Cuckoo's <c>self.shots_path</c>).</summary>
    public string ShotsPath => Path.Combine(AnalysisPath, "shots");

    /// <summary>Network capture, <c>dump.pcap</c> (Cuckoo's <c>self.pcap_path</c>).</summary>
    public string PcapPath => Path.Combine(AnalysisPath, "dump.pcap");

    /// <summary>Full memory dump, <c>memory.dmp</c> (Cuckoo's <c>self.memory_path</c>).</summary>
    public string MemoryPath => Path.Combine(AnalysisPath, "memory.dmp");

    /// <summary>Process memory dumps, <c>memory/</c> (Cuckoo's <c>self.pmemory_path</c>).</summary>
    public string PMemoryPath => Path.Combine(AnalysisPath, "memory");

    /// <summary>The task this analysis belongs to (Cuckoo's <c>self.task</c>).</summary>
    public TaskInfo TaskInfo => Context.Task;

    /// <summary>This module's <c>[section]</c> of <c>conf/processing.conf</c> (Cuckoo's <c>self.options</c>).</summary>
    public ModuleOptions Options => Context.Options;

    /// <summary>A logger whose category names the module.</summary>
    public ILogger Logger => Context.Logger;

    /// <summary>Read-only view of the sections stored by modules that ran earlier.</summary>
    public IProcessingResults Results => Context.Results;

    /// <summary>Called by the host exactly once, before <see cref="RunAsync"/>.</summary>
    /// <exception cref="InvalidOperationException">The module was already initialised.</exception>
    public void Initialize(ProcessingContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (_context is not null)
        {
            throw new InvalidOperationException($"{GetType().Name} is already initialised.");
        }
        _context = context;
    }

    /// <summary>
    /// Produces the module's data. Return <c>null</c> to store nothing. Any other value is
    /// serialised to JSON by the host: primitives, strings, <see cref="DateTime"/> (as Cuckoo's
    /// epoch-seconds float), byte arrays (as latin-1 text), dictionaries, sequences,
    /// <see cref="System.Text.Json.Nodes.JsonNode"/>, <see cref="System.Text.Json.JsonElement"/>,
    /// plain objects (public properties; <c>[JsonPropertyName]</c> and <c>[JsonIgnore]</c> honoured),
    /// or a <see cref="JsonSection"/> holding ready-made JSON.
    /// </summary>
    /// <param name="cancellationToken">Cancelled when the module's time budget runs out.</param>
    /// <exception cref="ProcessingException">The module failed in a way worth reporting.</exception>
    /// <exception cref="MissingDependencyException">Something the module needs is not installed.</exception>
    public abstract Task<object?> RunAsync(CancellationToken cancellationToken);
}
