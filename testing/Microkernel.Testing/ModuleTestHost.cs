using System.Globalization;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Text;
using System.Text.Json;
using Microkernel.Host.Configuration;
using Microkernel.Host.Running;
using Microsoft.Extensions.Logging;

namespace Microkernel.Testing;

/// <summary>
/// Runs one plugin, from its build output, through the real Microkernel runner in a throw-away
/// installation (<c>plugins/&lt;Name&gt;/</c> holding a copy of the build output, and
/// <c>conf/processing.conf</c> enabling its section), then reads its result back from the report
/// and checks that the plugin's load context unloaded.
/// </summary>
/// <example>
/// <code>
/// await using var host = new ModuleTestHost(pluginOutputFolder);
/// var result = await host.RunAsync(analysisFolder, new Dictionary&lt;string, string&gt; { ["limit"] = "10" });
/// Assert.Equal(3, result.Section.GetProperty("count").GetInt32());
/// </code>
/// </example>
public sealed class ModuleTestHost : IAsyncDisposable, IDisposable
{
    private readonly string _root;
    private readonly SemaphoreSlim _oneRunAtATime = new(1, 1);
    private int _runs;
    private bool _disposed;

    /// <summary>Installs a plugin for testing.</summary>
    /// <param name="plugin">
    /// The plugin's build output folder (e.g. <c>plugins/Hello/bin/Debug/net10.0</c>) or its main
    /// assembly in that folder. The whole folder is copied, as the host would find it under
    /// <c>plugins/</c>.
    /// </param>
    /// <param name="pluginName">
    /// The plugin's folder name under <c>plugins/</c>, whose lower-case form is its
    /// <c>processing.conf</c> section. Default: the last dot-separated part of the main assembly's
    /// name (<c>Microkernel.Plugins.Hello</c> is <c>Hello</c>, section <c>[hello]</c>).
    /// </param>
    /// <exception cref="ModuleTestException">The folder or assembly does not exist (the plugin is not built).</exception>
    public ModuleTestHost(string plugin, string? pluginName = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(plugin);
        var (folder, mainAssembly) = ResolveBuildOutput(Path.GetFullPath(plugin));
        PluginName = pluginName ?? DefaultPluginName(mainAssembly);
        if (
            PluginName.Length == 0
            || PluginName.IndexOfAny([.. Path.GetInvalidFileNameChars(), '[', ']']) >= 0
        )
        {
            throw new ArgumentException(
                $"'{PluginName}' cannot be a plugin folder name.",
                nameof(pluginName)
            );
        }
        BuildOutput = folder;
        _root = Path.Combine(
            Path.GetTempPath(),
            "microkernel-testing",
            Guid.NewGuid().ToString("N")
        );
        try
        {
            CopyTree(folder, Path.Combine(PluginsPath, PluginName));
            Directory.CreateDirectory(ConfDirectory);
            Directory.CreateDirectory(Path.Combine(_root, "reports"));
        }
        catch
        {
            TryDelete(_root);
            throw;
        }
    }

    /// <summary>The plugin's name: its folder under <c>plugins/</c>.</summary>
    public string PluginName { get; }

    /// <summary>The plugin's <c>processing.conf</c> section: <see cref="PluginName"/> in lower case.</summary>
    public string Section => PluginName.ToLowerInvariant();

    /// <summary>The build output folder the plugin was copied from.</summary>
    public string BuildOutput { get; }

    /// <summary>The installation's <c>plugins/</c> folder (holding only this plugin).</summary>
    public string PluginsPath => Path.Combine(_root, "plugins");

    /// <summary>
    /// The installation's <c>conf/</c> folder (the module's <c>Context.ConfDirectory</c>). The host
    /// writes <c>processing.conf</c> there on every run; put any other file the module reads (say,
    /// <c>memory.conf</c>) there before running.
    /// </summary>
    public string ConfDirectory => Path.Combine(_root, "conf");

    /// <summary>The module's time budget when its options set no <c>timeout</c>. Default: 60 s.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How long a cancelled module may take to stop. Default: 2 s.</summary>
    public TimeSpan CancellationGrace { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>The <c>[processing]</c> section, shared by all modules (e.g. <c>analysis_size_limit</c>).</summary>
    public IDictionary<string, string> ProcessingOptions { get; } =
        new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Receives every log line as it is written, e.g. xunit's <c>ITestOutputHelper.WriteLine</c>.</summary>
    public Action<string>? LogSink { get; set; }

    /// <summary>
    /// Runs the plugin's modules on <paramref name="analysisPath"/> and returns what they stored.
    /// The analysis folder is only read by the host (the report is written elsewhere); copy it
    /// first if the module writes into it.
    /// </summary>
    /// <param name="analysisPath">The analysis folder (<c>binary</c>, <c>analysis.conf</c>, <c>logs/</c>...).</param>
    /// <param name="options">The module's <c>[section]</c> options (<c>enabled</c> and <c>isolation</c> are set by the kit).</param>
    /// <param name="isolation">Run in the host process or in a worker process.</param>
    /// <param name="cancellationToken">Cancels the run as a host shutdown would.</param>
    /// <exception cref="PluginLeakException">The plugin's load context did not unload.</exception>
    /// <exception cref="ModuleTestException">The host refused the plugin, found no module in it, or could not use the analysis folder.</exception>
    public async Task<ModuleTestResult> RunAsync(
        string analysisPath,
        IReadOnlyDictionary<string, string>? options = null,
        ModuleIsolation isolation = ModuleIsolation.InProcess,
        CancellationToken cancellationToken = default
    )
    {
        ArgumentException.ThrowIfNullOrEmpty(analysisPath);
        ObjectDisposedException.ThrowIf(_disposed, this);
        await _oneRunAtATime.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await RunOnceAsync(
                    Path.GetFullPath(analysisPath),
                    options,
                    isolation,
                    cancellationToken
                )
                .ConfigureAwait(false);
        }
        finally
        {
            _oneRunAtATime.Release();
        }
    }

    private async Task<ModuleTestResult> RunOnceAsync(
        string analysisPath,
        IReadOnlyDictionary<string, string>? options,
        ModuleIsolation isolation,
        CancellationToken cancellationToken
    )
    {
        await File.WriteAllTextAsync(
                Path.Combine(ConfDirectory, "processing.conf"),
                ProcessingConf(options, isolation),
                cancellationToken
            )
            .ConfigureAwait(false);
        var reportPath = Path.Combine(
            _root,
            "reports",
            $"report-{Interlocked.Increment(ref _runs)}.json"
        );
        var log = new LogCollector(LogSink);
        using (var loggerFactory = LoggerFactory.Create(b => b.AddProvider(log)))
        {
            var runner = new AnalysisRunner(
                new MicrokernelOptions
                {
                    PluginsPath = PluginsPath,
                    ConfPath = ConfDirectory,
                    DefaultModuleTimeoutSeconds = Timeout.TotalSeconds,
                    CancellationGraceSeconds = CancellationGrace.TotalSeconds,
                },
                loggerFactory
            );
            try
            {
                await runner
                    .RunAsync(
                        new AnalysisRequest(analysisPath) { OutputPath = reportPath },
                        cancellationToken: cancellationToken
                    )
                    .ConfigureAwait(false);
            }
            catch (UnusableAnalysisException ex)
            {
                throw new ModuleTestException(
                    $"The host could not process {analysisPath}: {ex.Message}",
                    ex
                );
            }
        }
        return ReadReport(reportPath, isolation, log.Lines);
    }

    private string ProcessingConf(
        IReadOnlyDictionary<string, string>? options,
        ModuleIsolation isolation
    )
    {
        var conf = new StringBuilder();
        if (ProcessingOptions.Count > 0)
        {
            conf.Append("[processing]\n");
            foreach (var (key, value) in ProcessingOptions)
            {
                AppendOption(conf, key, value);
            }
            conf.Append('\n');
        }
        conf.Append(CultureInfo.InvariantCulture, $"[{Section}]\nenabled = yes\n");
        conf.Append(
            CultureInfo.InvariantCulture,
            $"isolation = {(isolation == ModuleIsolation.Process ? "process" : "in-process")}\n"
        );
        foreach (var (key, value) in options ?? new Dictionary<string, string>())
        {
            if (
                key.Equals("enabled", StringComparison.OrdinalIgnoreCase)
                || key.Equals("isolation", StringComparison.OrdinalIgnoreCase)
            )
            {
                throw new ArgumentException(
                    $"Option '{key}' is set by ModuleTestHost (the module is always enabled; pass the isolation argument).",
                    nameof(options)
                );
            }
            AppendOption(conf, key, value);
        }
        return conf.ToString();
    }

    private static void AppendOption(StringBuilder conf, string key, string value)
    {
        if (
            key.Length == 0
            || key.AsSpan().IndexOfAny("=:[]\r\n#;") >= 0
            || key.Trim() != key
            || value.AsSpan().IndexOfAny('\r', '\n') >= 0
        )
        {
            throw new ArgumentException(
                $"Option '{key}' = '{value}' cannot be written to processing.conf (keys are plain names; values are one line)."
            );
        }
        conf.Append(CultureInfo.InvariantCulture, $"{key} = {value}\n");
    }

    private ModuleTestResult ReadReport(
        string reportPath,
        ModuleIsolation isolation,
        IReadOnlyList<string> log
    )
    {
        if (!File.Exists(reportPath))
        {
            throw new ModuleTestException(
                $"The host wrote no report at {reportPath}. Log:\n{string.Join('\n', log)}"
            );
        }
        JsonElement report;
        using (var document = JsonDocument.Parse(File.ReadAllBytes(reportPath)))
        {
            report = document.RootElement.Clone();
        }
        var statistics = report.GetProperty("statistics");

        var refusals = statistics
            .GetProperty("load_failures")
            .EnumerateArray()
            .Select(f => f.GetProperty("reason").GetString())
            .ToList();
        if (refusals.Count > 0)
        {
            throw new ModuleTestException(
                $"The host refused plugin {PluginName} ({BuildOutput}): {string.Join("; ", refusals)}"
            );
        }

        var modules = statistics
            .GetProperty("processing")
            .EnumerateArray()
            .Where(m => m.GetProperty("plugin").GetString() == PluginName)
            .Select(m => new ModuleRun(
                m.GetProperty("name").GetString()!,
                m.GetProperty("key").GetString()!,
                m.GetProperty("outcome").GetString()!,
                m.TryGetProperty("error", out var error) ? error.GetString() : null,
                TimeSpan.FromSeconds(m.GetProperty("time").GetDouble())
            ))
            .ToList();
        if (modules.Count == 0)
        {
            throw new ModuleTestException(
                $"Plugin {PluginName} ({BuildOutput}) holds no processing module: no public class deriving from Microkernel.Contracts.Processing with a public parameterless constructor."
            );
        }

        var errors =
            report.TryGetProperty("debug", out var debug)
            && debug.TryGetProperty("errors", out var list)
                ? list.EnumerateArray().Select(e => e.ToString()).ToList()
                : [];

        var result = new ModuleTestResult(report, modules, errors, log, isolation);
        var leaked = statistics
            .GetProperty("unload")
            .GetProperty("leaked")
            .EnumerateArray()
            .Select(e => e.GetString())
            .ToList();
        if (leaked.Count > 0)
        {
            var rounds = statistics.GetProperty("unload").GetProperty("gc_rounds").GetInt32();
            throw new PluginLeakException(
                $"Plugin {PluginName}'s load context did not unload after {rounds} garbage collections: something outside the plugin still references its code. "
                    + "Usual causes: an event subscription on a static or host object (AppDomain, Console, TaskScheduler...), a timer or thread still running after RunAsync, "
                    + "a static holding host objects, reflection-based System.Text.Json serialisation of the plugin's own types, or a module that ignored cancellation (outcome 'abandoned'). "
                    + $"Outcomes: {string.Join(", ", modules.Select(m => $"{m.Name}: {m.Outcome}"))}. See docs/writing-a-module.md.",
                result
            );
        }
        return result;
    }

    private static (string Folder, string MainAssembly) ResolveBuildOutput(string plugin)
    {
        if (File.Exists(plugin))
        {
            return (Path.GetDirectoryName(plugin)!, plugin);
        }
        if (!Directory.Exists(plugin))
        {
            throw new ModuleTestException(
                $"{plugin} does not exist: build the plugin project first (reference it from the test project with ReferenceOutputAssembly=\"false\" so that it is built before the tests)."
            );
        }
        // What the host looks for: the one assembly with a .deps.json beside it.
        var candidates = Directory
            .EnumerateFiles(plugin, "*.deps.json")
            .Select(d => d[..^".deps.json".Length] + ".dll")
            .Where(File.Exists)
            .ToList();
        return candidates.Count == 1
            ? (plugin, candidates[0])
            : throw new ModuleTestException(
                candidates.Count == 0
                    ? $"{plugin} holds no plugin build output (no *.deps.json with its .dll): build the plugin project first."
                    : $"{plugin} holds several assemblies with a .deps.json ({string.Join(", ", candidates.Select(Path.GetFileName))}): pass the plugin's main assembly instead of the folder."
            );
    }

    private static string DefaultPluginName(string mainAssembly)
    {
        string name;
        try
        {
            using var stream = File.OpenRead(mainAssembly);
            using var pe = new PEReader(stream);
            var metadata = pe.GetMetadataReader();
            name = metadata.GetString(metadata.GetAssemblyDefinition().Name);
        }
        catch (Exception ex) when (ex is BadImageFormatException or InvalidOperationException)
        {
            throw new ModuleTestException(
                $"{mainAssembly} is not a .NET assembly: {ex.Message}",
                ex
            );
        }
        var dot = name.LastIndexOf('.');
        return dot < 0 ? name : name[(dot + 1)..];
    }

    private static void CopyTree(string source, string target)
    {
        Directory.CreateDirectory(target);
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var copy = Path.Combine(target, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
            File.Copy(file, copy);
            File.SetAttributes(copy, FileAttributes.Normal);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>Deletes the installation.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        _oneRunAtATime.Dispose();
        TryDelete(_root);
    }

    /// <summary>Deletes the installation.</summary>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
