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

    private static class ThisAssembly
    {
        public static readonly string Version =
            typeof(MicrokernelTelemetry).Assembly.GetName().Version?.ToString() ?? "0.0.0";
    }
}
