using System.Diagnostics;
using Microkernel.Host.Telemetry;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Microkernel.Host.Tests.Telemetry;

public sealed class TelemetryTests
{
    [Fact]
    public async Task A_run_emits_an_analysis_span_with_one_child_span_per_module_and_metrics()
    {
        var spans = new List<Activity>();
        var metrics = new List<Metric>();
        using var tracer = Sdk.CreateTracerProviderBuilder()
            .AddSource(MicrokernelTelemetry.Name)
            .AddInMemoryExporter(spans)
            .Build();
        using var meter = Sdk.CreateMeterProviderBuilder()
            .AddMeter(MicrokernelTelemetry.Name)
            .AddInMemoryExporter(metrics)
            .Build();
        using var lab = new PluginLab("Trivial", "Throws");
        lab.Enable("trivial", "throws");

        await lab.RunAsync();
        tracer.ForceFlush();
        meter.ForceFlush();

        // Listeners are process-wide: pick this run's root span by its analysis path.
        var root = spans.Single(s =>
            s.OperationName == "processing.run"
            && (string?)s.GetTagItem("microkernel.analysis.path") == lab.AnalysisPath
        );
        Assert.Equal(42, root.GetTagItem("microkernel.task.id"));
        Assert.Equal("errors", root.GetTagItem("microkernel.analysis.outcome"));
        Assert.Equal(
            ["plugins.load", "module.execute", "module.execute", "plugins.unload"],
            spans
                .Where(s => s.ParentSpanId == root.SpanId)
                .OrderBy(s => s.StartTimeUtc)
                .Select(s => s.OperationName)
        );
        var children = spans
            .Where(s => s.ParentSpanId == root.SpanId && s.OperationName == "module.execute")
            .ToList();
        Assert.Equal(
            ["Throws", "Trivial"],
            children.Select(c => (string?)c.GetTagItem("microkernel.module.name"))
        );
        Assert.All(children, c => Assert.Equal("module.execute", c.OperationName));

        var failed = children[0];
        Assert.Equal(ActivityStatusCode.Error, failed.Status);
        Assert.Equal("exception", failed.GetTagItem("microkernel.module.outcome"));
        Assert.Equal("System.InvalidOperationException", failed.GetTagItem("error.type"));
        Assert.Contains(failed.Events, e => e.Name == "exception");
        var ok = children[1];
        Assert.Equal(ActivityStatusCode.Unset, ok.Status);
        Assert.Equal("trivial", ok.GetTagItem("microkernel.module.key"));
        Assert.Equal(1, ok.GetTagItem("microkernel.module.order"));

        var outcomes = metrics.Single(m => m.Name == "microkernel.module.outcomes");
        var points = new List<(string Module, string Outcome, long Value)>();
        foreach (ref readonly var point in outcomes.GetMetricPoints())
        {
            string? module = null,
                outcome = null;
            foreach (var tag in point.Tags)
            {
                if (tag.Key == "microkernel.module.name")
                    module = (string?)tag.Value;
                if (tag.Key == "microkernel.module.outcome")
                    outcome = (string?)tag.Value;
            }
            points.Add((module!, outcome!, point.GetSumLong()));
        }
        Assert.Contains(
            points,
            p => p is { Module: "Throws", Outcome: "exception" } && p.Value >= 1
        );
        Assert.Contains(points, p => p is { Module: "Trivial", Outcome: "ok" } && p.Value >= 1);
        var duration = metrics.Single(m => m.Name == "microkernel.module.duration");
        Assert.Equal("s", duration.Unit);
        Assert.Contains(metrics, m => m.Name == "microkernel.analyses.processed");
    }
}
