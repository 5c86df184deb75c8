using System.Diagnostics;
using System.Globalization;
using Microkernel.Host.Plugins;
using Microkernel.Host.Telemetry;
using Microsoft.Extensions.Logging;

namespace Microkernel.Host.Daemon;

/// <summary>
/// Hot plugin reload without ever loading a half-deployed plugin. The runner loads plugins per
/// task from a folder, so tasks never load from <c>plugins/</c> itself: they load from an
/// immutable copy (<c>&lt;storage&gt;/plugin-snapshots/&lt;pid&gt;/&lt;n&gt;</c>). When the source settles
/// after a change, a new copy is taken, proven loadable and unloadable, and made current for new
/// tasks; tasks already running keep their copy, which is deleted once the last of them ends.
/// A copy with a plugin that fails to load, where the current one loaded it, is rejected.
/// </summary>
internal sealed class PluginSnapshots : IDisposable
{
    private readonly string _source;
    private readonly string _root;
    private readonly TimeSpan _debounce;
    private readonly int _gcRounds;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _reloading = new(1, 1);
    private readonly Timer _debounceTimer;
    private FileSystemWatcher? _watcher;
    private Snapshot? _current;
    private int _next;
    private bool _disposed;

    public PluginSnapshots(
        string sourcePath,
        string storagePath,
        TimeSpan debounce,
        int gcRounds,
        ILogger logger
    )
    {
        _source = Path.GetFullPath(sourcePath);
        _root = Path.Combine(
            Path.GetFullPath(storagePath),
            "plugin-snapshots",
            Environment.ProcessId.ToString(CultureInfo.InvariantCulture)
        );
        _debounce = debounce;
        _gcRounds = gcRounds;
        _logger = logger;
        _debounceTimer = new Timer(_ => _ = ReloadAsync());
    }

    /// <summary>The snapshot new tasks get.</summary>
    public Snapshot Current =>
        _current ?? throw new InvalidOperationException("Plugin snapshots are not initialised.");

    /// <summary>Why the last reload was refused, or null when the last attempt was applied.</summary>
    public string? LastRejection { get; private set; }

    /// <summary>Reloads that were applied (the first snapshot not counted).</summary>
    public int Reloads { get; private set; }

    /// <summary>Takes the first snapshot (accepted whatever loads: there is nothing older to keep) and starts watching.</summary>
    public void Start(bool watch)
    {
        DeleteOrphans();
        Directory.CreateDirectory(_root);
        var snapshot = Take() ?? throw new IOException($"{_source} could not be copied.");
        var (failures, modules) = Validate(snapshot);
        snapshot.Modules = modules;
        snapshot.Failures = failures;
        _current = snapshot;
        _logger.LogInformation(
            "Plugins from {Source}: snapshot {Number} with {Modules}{Failures}",
            _source,
            snapshot.Number,
            Describe(modules),
            failures.Count == 0 ? "" : "; not loadable: " + string.Join("; ", failures)
        );
        if (watch)
        {
            Watch();
        }
    }

    /// <summary>Pins the current snapshot for one task; disposing the lease lets a retired snapshot go.</summary>
    public SnapshotLease Acquire()
    {
        lock (_lock)
        {
            var snapshot = Current;
            snapshot.Users++;
            return new SnapshotLease(this, snapshot);
        }
    }

    /// <summary>Pins the snapshot of <paramref name="lease"/> once more: a worker keeps plugins loaded from it after the task ends.</summary>
    public SnapshotLease Share(SnapshotLease lease)
    {
        lock (_lock)
        {
            lease.Snapshot.Users++;
            return new SnapshotLease(this, lease.Snapshot);
        }
    }

    private void ReleaseLease(Snapshot snapshot)
    {
        bool delete;
        lock (_lock)
        {
            snapshot.Users--;
            delete = snapshot.Users == 0 && !ReferenceEquals(snapshot, _current);
        }
        if (delete)
        {
            TryDelete(snapshot.Path);
        }
    }

    private void Watch()
    {
        if (!Directory.Exists(_source))
        {
            _logger.LogWarning(
                "Plugins folder {Source} does not exist: not watching for reloads",
                _source
            );
            return;
        }
        _watcher = new FileSystemWatcher(_source)
        {
            IncludeSubdirectories = true,
            InternalBufferSize = 64 * 1024,
            NotifyFilter =
                NotifyFilters.FileName
                | NotifyFilters.DirectoryName
                | NotifyFilters.LastWrite
                | NotifyFilters.Size
                | NotifyFilters.CreationTime,
        };
        _watcher.Created += (_, _) => Poke();
        _watcher.Changed += (_, _) => Poke();
        _watcher.Deleted += (_, _) => Poke();
        _watcher.Renamed += (_, _) => Poke();
        // An overflowed buffer lost events: the fingerprint comparison still finds what changed.
        _watcher.Error += (_, e) =>
        {
            _logger.LogWarning(e.GetException(), "Plugin watcher error; rescanning");
            Poke();
        };
        _watcher.EnableRaisingEvents = true;
    }

    /// <summary>Every event restarts the quiet period: a plugin copied in many writes reloads once.</summary>
    private void Poke()
    {
        if (!_disposed)
        {
            _debounceTimer.Change(_debounce, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>Snapshots the source if it changed, validates the copy and switches to it.</summary>
    public async Task<string> ReloadAsync()
    {
        await _reloading.WaitAsync().ConfigureAwait(false);
        try
        {
            return Reload();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Files still being written or locked: try again after another quiet period.
            _logger.LogWarning("Plugin reload postponed: {Reason}", ex.Message);
            Poke();
            return "postponed";
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            _logger.LogError(ex, "Plugin reload failed");
            return "failed";
        }
        finally
        {
            _reloading.Release();
        }
    }

    private string Reload()
    {
        if (_disposed || _current is null)
        {
            return "stopped";
        }
        var current = _current;
        if (Fingerprint(_source) == current.Fingerprint)
        {
            return "unchanged";
        }
        using var activity = MicrokernelTelemetry.Source.StartActivity("plugins.reload");
        var stopwatch = Stopwatch.StartNew();
        var snapshot = Take();
        if (snapshot is null)
        {
            Poke();
            return "postponed";
        }
        activity?.SetTag("microkernel.plugins.snapshot", snapshot.Number);
        var (failures, modules) = Validate(snapshot);
        // Only plugins that loaded before and no longer do block the switch; one that was already broken stays reported in each report.
        var brokenBefore = current.Failures.Select(PluginOf).ToHashSet(StringComparer.Ordinal);
        var newFailures = failures.Where(f => !brokenBefore.Contains(PluginOf(f))).ToList();
        if (newFailures.Count > 0)
        {
            TryDelete(snapshot.Path);
            LastRejection = string.Join("; ", newFailures);
            activity?.SetTag("microkernel.plugins.reload.outcome", "rejected");
            activity?.SetStatus(ActivityStatusCode.Error, LastRejection);
            MicrokernelTelemetry.PluginReloads.Add(
                1,
                new KeyValuePair<string, object?>("microkernel.outcome", "rejected")
            );
            _logger.LogError(
                "Plugin reload rejected, keeping snapshot {Current}: {Reason}",
                current.Number,
                LastRejection
            );
            return "rejected";
        }
        snapshot.Modules = modules;
        snapshot.Failures = failures;
        bool deleteOld;
        lock (_lock)
        {
            _current = snapshot;
            deleteOld = current.Users == 0;
        }
        if (deleteOld)
        {
            TryDelete(current.Path);
        }
        LastRejection = null;
        Reloads++;
        activity?.SetTag("microkernel.plugins.reload.outcome", "applied");
        MicrokernelTelemetry.PluginReloads.Add(
            1,
            new KeyValuePair<string, object?>("microkernel.outcome", "applied")
        );
        _logger.LogWarning(
            "Plugins reloaded in {Seconds:0.000} s: snapshot {Old} -> {New}; now {Modules}; tasks already running finish on the old plugins",
            stopwatch.Elapsed.TotalSeconds,
            current.Number,
            snapshot.Number,
            Describe(modules)
        );
        return "applied";
    }

    /// <summary>Copies the source; null when it changed while being copied (a deploy is still going on).</summary>
    private Snapshot? Take()
    {
        var before = Fingerprint(_source);
        var number = Interlocked.Increment(ref _next);
        var path = Path.Combine(_root, number.ToString(CultureInfo.InvariantCulture));
        if (Directory.Exists(_source))
        {
            CopyTree(_source, path);
        }
        else
        {
            Directory.CreateDirectory(path);
        }
        if (Fingerprint(_source) != before)
        {
            TryDelete(path);
            return null;
        }
        return new Snapshot(number, path, before);
    }

    /// <summary>Loads every plugin of the snapshot into fresh contexts, then unloads them and checks they went.</summary>
    private (IReadOnlyList<string> Failures, IReadOnlyList<string> Modules) Validate(
        Snapshot snapshot
    )
    {
        var session = InProcessPluginSession.Load(PluginCatalog.Scan(snapshot.Path), _logger);
        var failures = session.Failures.Select(f => $"{f.Plugin}: {f.Reason}").ToList();
        var modules = session
            .Modules.Select(m => $"{m.Plugin}/{m.ClassName} {m.Version}")
            .Order(StringComparer.Ordinal)
            .ToList();
        var unload = session.UnloadAndVerify(_gcRounds);
        if (unload.Leaked.Count > 0)
        {
            MicrokernelTelemetry.UnloadFailures.Add(unload.Leaked.Count);
            _logger.LogError(
                "Validating plugin snapshot {Number}: contexts not unloaded: {Plugins}",
                snapshot.Number,
                string.Join(", ", unload.Leaked)
            );
        }
        return (failures, modules);
    }

    private static string PluginOf(string failure) => failure.Split(": ", 2)[0];

    private static string Describe(IReadOnlyList<string> modules) =>
        modules.Count == 0 ? "no modules" : string.Join(", ", modules);

    /// <summary>Names, sizes and write times of every file: cheap, and enough to tell a deploy happened.</summary>
    private static string Fingerprint(string directory)
    {
        if (!Directory.Exists(directory))
        {
            return "";
        }
        var lines = new DirectoryInfo(directory)
            .EnumerateFiles("*", SearchOption.AllDirectories)
            .Select(f =>
                string.Create(
                    CultureInfo.InvariantCulture,
                    $"{Path.GetRelativePath(directory, f.FullName)}|{f.Length}|{f.LastWriteTimeUtc.Ticks}"
                )
            )
            .Order(StringComparer.Ordinal);
        return string.Join("\n", lines);
    }

    private static void CopyTree(string source, string target)
    {
        Directory.CreateDirectory(target);
        foreach (
            var dir in Directory.EnumerateDirectories(source, "*", SearchOption.AllDirectories)
        )
        {
            Directory.CreateDirectory(Path.Combine(target, Path.GetRelativePath(source, dir)));
        }
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            File.Copy(file, Path.Combine(target, Path.GetRelativePath(source, file)), true);
        }
    }

    /// <summary>Snapshot folders of daemons that no longer run (killed before they could clean up).</summary>
    private void DeleteOrphans()
    {
        var parent = Path.GetDirectoryName(_root)!;
        if (!Directory.Exists(parent))
        {
            return;
        }
        foreach (var dir in Directory.EnumerateDirectories(parent))
        {
            if (
                int.TryParse(Path.GetFileName(dir), CultureInfo.InvariantCulture, out var pid)
                && (pid == Environment.ProcessId || !IsRunning(pid))
            )
            {
                TryDelete(dir);
            }
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private void TryDelete(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _logger.LogWarning(
                "Could not delete plugin snapshot {Path}: {Reason}",
                path,
                ex.Message
            );
        }
    }

    public void Dispose()
    {
        _disposed = true;
        _watcher?.Dispose();
        _debounceTimer.Dispose();
        TryDelete(_root);
        _reloading.Dispose();
    }

    /// <summary>One immutable copy of the plugins folder.</summary>
    internal sealed class Snapshot(int number, string path, string fingerprint)
    {
        public int Number { get; } = number;

        public string Path { get; } = path;

        public string Fingerprint { get; } = fingerprint;

        public IReadOnlyList<string> Modules { get; set; } = [];

        public IReadOnlyList<string> Failures { get; set; } = [];

        /// <summary>Tasks running on it; guarded by the owner's lock.</summary>
        public int Users { get; set; }
    }

    /// <summary>A task's hold on a snapshot.</summary>
    internal sealed class SnapshotLease(PluginSnapshots owner, Snapshot snapshot) : IDisposable
    {
        private int _released;

        public Snapshot Snapshot { get; } = snapshot;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                owner.ReleaseLease(Snapshot);
            }
        }
    }
}
