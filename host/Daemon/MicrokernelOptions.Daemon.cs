namespace Microkernel.Host.Configuration;

/// <summary>The settings of <c>microkernel serve</c> and of the task queue (same binding: <c>--set Workers=4</c>).</summary>
internal sealed partial class MicrokernelOptions
{
    /// <summary>
    /// Where the task queue lives. Empty: a SQLite file <c>queue.db</c> under <see cref="StoragePath"/>.
    /// <c>Data Source=...</c> or a <c>.db</c> path: SQLite. <c>Host=...</c> or <c>postgres://</c>: PostgreSQL (shared by many nodes).
    /// </summary>
    public string? QueueConnectionString { get; set; }

    /// <summary>Concurrent workers of <c>serve</c>; 0 means one per core.</summary>
    public int Workers { get; set; }

    /// <summary>How long a claim holds a task before another node may take it back, in seconds (renewed every third of it).</summary>
    public double LeaseSeconds { get; set; } = 60;

    /// <summary>How often an idle worker looks for work and the daemon reclaims expired leases, in seconds.</summary>
    public double PollIntervalSeconds { get; set; } = 1;

    /// <summary>Claims a task gets before it is marked <c>failed_processing</c>.</summary>
    public int MaxAttempts { get; set; } = 3;

    /// <summary>How long in-flight tasks may finish after SIGTERM before they are cancelled and released, in seconds.</summary>
    public double ShutdownTimeoutSeconds { get; set; } = 30;

    /// <summary>Loopback port of <c>/health/live</c> and <c>/health/ready</c>; 0 disables.</summary>
    public int HealthPort { get; set; } = 8765;

    /// <summary>Loopback port of the Prometheus scrape endpoint <c>/metrics</c>; 0 disables.</summary>
    public int MetricsPort { get; set; } = 9464;

    /// <summary>Watch the plugins folder and reload changed plugins for new tasks.</summary>
    public bool WatchPlugins { get; set; } = true;

    /// <summary>Quiet time after the last change in the plugins folder before a reload, in seconds.</summary>
    public double PluginReloadDebounceSeconds { get; set; } = 2;

    /// <summary>
    /// Tasks a worker runs on the same in-process plugin contexts before it unloads them and
    /// loads fresh ones (1: load and unload for every task, as <c>process</c> does). Kept
    /// contexts are also unloaded, and the unload verified, after a hot reload, a change of
    /// processing.conf, a task whose module timed out, threw or was cancelled, and at shutdown.
    /// </summary>
    public int PluginReuseRuns { get; set; } = 1000;

    /// <summary>How this daemon names itself in the queue (the process id is appended). Default: the machine name.</summary>
    public string? NodeName { get; set; }

    public TimeSpan Lease => TimeSpan.FromSeconds(LeaseSeconds);

    public TimeSpan PollInterval => TimeSpan.FromSeconds(PollIntervalSeconds);

    public TimeSpan ShutdownTimeout => TimeSpan.FromSeconds(ShutdownTimeoutSeconds);

    public TimeSpan PluginReloadDebounce => TimeSpan.FromSeconds(PluginReloadDebounceSeconds);

    public int ResolveWorkers() => Workers > 0 ? Workers : Environment.ProcessorCount;

    public string ResolveStoragePath() => Path.GetFullPath(StoragePath);

    /// <summary>The same settings with another plugins folder: each task runs on the plugin snapshot it started with.</summary>
    public MicrokernelOptions WithPluginsPath(string pluginsPath)
    {
        var copy = (MicrokernelOptions)MemberwiseClone();
        copy.PluginsPath = pluginsPath;
        return copy;
    }
}
