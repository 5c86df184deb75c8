using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Microkernel.Host.Telemetry;

/// <summary>
/// The host's one ActivitySource and one Meter. Modules never create their own: a plugin-owned
/// source or meter would pin its load context.
/// </summary>
internal static class MicrokernelTelemetry
{
    public const string Name = "Microkernel.Host";

    /// <summary>Seconds-shaped buckets: modules run from milliseconds to many minutes.</summary>
    private static readonly double[] DurationBuckets =
    [
        0.001,
        0.0025,
        0.005,
        0.01,
        0.025,
        0.05,
        0.1,
        0.25,
        0.5,
        1,
        2.5,
        5,
        10,
        30,
        60,
        120,
        300,
        600,
        1800,
    ];

    public static readonly ActivitySource Source = new(Name, ThisAssembly.Version);

    public static readonly Meter Meter = new(Name, ThisAssembly.Version);

    public static readonly Histogram<double> ModuleDuration = Meter.CreateHistogram(
        "microkernel.module.duration",
        unit: "s",
        description: "Wall time of one processing module run.",
        tags: null,
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets }
    );

    public static readonly Counter<long> ModuleOutcomes = Meter.CreateCounter<long>(
        "microkernel.module.outcomes",
        unit: "{run}",
        description: "Processing module runs by outcome."
    );

    public static readonly Counter<long> AnalysesProcessed = Meter.CreateCounter<long>(
        "microkernel.analyses.processed",
        unit: "{analysis}",
        description: "Analyses processed, by outcome."
    );

    public static readonly Histogram<double> AnalysisDuration = Meter.CreateHistogram(
        "microkernel.analysis.duration",
        unit: "s",
        description: "Wall time of one analysis, all modules and the report.",
        tags: null,
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets }
    );

    public static readonly Counter<long> UnloadFailures = Meter.CreateCounter<long>(
        "microkernel.plugin.unload.failures",
        unit: "{context}",
        description: "Plugin load contexts that did not unload when asked to."
    );

    public static readonly Counter<long> PluginLoadFailures = Meter.CreateCounter<long>(
        "microkernel.plugin.load.failures",
        unit: "{plugin}",
        description: "Plugins that could not be loaded."
    );

    // The daemon's instruments (microkernel serve).

    private static Func<IReadOnlyDictionary<string, long>>? s_queueDepth;

    /// <summary>Where <c>microkernel.queue.depth</c> reads from: the daemon's last count (never a query per scrape).</summary>
    public static void ObserveQueueDepth(Func<IReadOnlyDictionary<string, long>>? source) =>
        s_queueDepth = source;

    public static readonly ObservableGauge<long> QueueDepth = Meter.CreateObservableGauge(
        "microkernel.queue.depth",
        () =>
            s_queueDepth?.Invoke() is { } counts
                ? counts.Select(c => new Measurement<long>(
                    c.Value,
                    new KeyValuePair<string, object?>("microkernel.task.status", c.Key)
                ))
                : [],
        unit: "{task}",
        description: "Tasks in the queue, by status."
    );

    public static readonly Counter<long> TasksClaimed = Meter.CreateCounter<long>(
        "microkernel.tasks.claimed",
        unit: "{task}",
        description: "Tasks claimed by this node."
    );

    public static readonly Counter<long> TasksFinished = Meter.CreateCounter<long>(
        "microkernel.tasks.finished",
        unit: "{task}",
        description: "Claims this node ended, by result: reported, failed_processing, retry, released, lost."
    );

    public static readonly Counter<long> TasksReclaimed = Meter.CreateCounter<long>(
        "microkernel.tasks.reclaimed",
        unit: "{task}",
        description: "Expired leases taken back by this node, by new status."
    );

    public static readonly UpDownCounter<long> TasksInFlight = Meter.CreateUpDownCounter<long>(
        "microkernel.tasks.in_flight",
        unit: "{task}",
        description: "Tasks this node is processing now."
    );

    public static readonly Histogram<double> TaskDuration = Meter.CreateHistogram(
        "microkernel.task.duration",
        unit: "s",
        description: "Wall time from claim to final status of one task, by result.",
        tags: null,
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets }
    );

    public static readonly Counter<long> PluginReloads = Meter.CreateCounter<long>(
        "microkernel.plugin.reloads",
        unit: "{reload}",
        description: "Plugin folder reloads, by outcome: applied, rejected."
    );

    private static class ThisAssembly
    {
        public static readonly string Version =
            typeof(MicrokernelTelemetry).Assembly.GetName().Version?.ToString() ?? "0.0.0";
    }
}
