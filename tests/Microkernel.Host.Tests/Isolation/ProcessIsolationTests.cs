using System.Diagnostics;
using System.Text.Json;
using Microkernel.Host.Isolation;
using Microkernel.Host.Running;
using Microkernel.Host.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace Microkernel.Host.Tests.Isolation;

public sealed class ProcessIsolationTests
{
    [Fact]
    public async Task A_process_module_runs_in_a_worker_with_the_same_context_as_in_process()
    {
        using var lab = new PluginLab("Trivial");
        lab.AddFixture("ProcessProbe", "Probe");
        lab.WriteConf(
            """
            [processing]
            analysis_size_limit = 1234

            [trivial]
            enabled = yes
            isolation = in-process

            [probe]
            enabled = yes
            echo = hello
            read = trivial
            report_error = the probe saw something odd
            """
        );

        var result = await lab.RunAsync();

        var probe = Module(result, "ProcessProbe");
        Assert.Equal(ModuleOutcome.Ok, probe.Outcome);
        using var report = JsonDocument.Parse(File.ReadAllBytes(lab.ReportPath));
        var section = report.RootElement.GetProperty("probe");
        Assert.NotEqual(Environment.ProcessId, section.GetProperty("pid").GetInt32());
        Assert.Equal(42, section.GetProperty("task").GetInt32());
        Assert.Equal(lab.AnalysisPath, section.GetProperty("analysis").GetString());
        Assert.True(section.GetProperty("scratch_exists").GetBoolean());
        Assert.Equal("hello", section.GetProperty("option").GetString());
        Assert.Equal("1234", section.GetProperty("processing_option").GetString());
        // The worker reads sections stored before it ran.
        Assert.True(section.GetProperty("earlier").GetProperty("ok").GetBoolean());
        Assert.Contains(
            "ProcessProbe: the probe saw something odd",
            report
                .RootElement.GetProperty("debug")
                .GetProperty("errors")
                .EnumerateArray()
                .Select(e => e.GetString())
        );
        Assert.Empty(result.Unload.Leaked);
        Assert.Equal(2, result.Unload.Contexts);
    }

    [Fact]
    public async Task Modules_of_one_analysis_share_a_worker_and_a_killed_worker_is_replaced()
    {
        using var lab = new PluginLab("IgnoresCancellation");
        lab.AddFixture("ProcessProbe", "ProbeA");
        lab.AddFixture("ProcessProbe", "ProbeB");
        lab.AddFixture("ProcessProbe", "ProbeZ");
        // The probes have order 2: they run after the stuck module's worker was killed.
        lab.WriteConf(
            """
            [ignorescancellation]
            enabled = yes
            timeout = 1

            [probea]
            enabled = yes

            [probeb]
            enabled = yes

            [probez]
            enabled = yes
            """
        );

        var result = await lab.RunAsync(lab.Options(graceSeconds: 1));

        var stuck = Module(result, "IgnoresCancellation");
        Assert.Equal(ModuleOutcome.Timeout, stuck.Outcome);
        Assert.Contains("worker process killed", stuck.Error);
        using var report = JsonDocument.Parse(File.ReadAllBytes(lab.ReportPath));
        var pids = new[] { "probea", "probeb", "probez" }
            .Select(k => report.RootElement.GetProperty(k).GetProperty("pid").GetInt32())
            .Distinct()
            .ToList();
        // The probes ran after the kill, in one replacement worker.
        Assert.Single(pids);
        Assert.NotEqual(Environment.ProcessId, pids[0]);
        Assert.Empty(result.Unload.Leaked);
    }

    [Fact]
    public async Task Worker_logs_reach_the_host_logger_and_worker_spans_join_the_host_trace()
    {
        var spans = new List<Activity>();
        using var tracer = Sdk.CreateTracerProviderBuilder()
            .AddSource(MicrokernelTelemetry.Name)
            .AddInMemoryExporter(spans)
            .Build();
        using var logs = new FakeLoggerProvider();
        using var loggerFactory = LoggerFactory.Create(b =>
            b.SetMinimumLevel(LogLevel.Debug).AddProvider(logs)
        );
        using var lab = new PluginLab();
        lab.AddFixture("ProcessProbe", "Probe");
        lab.WriteConf("[probe]\nenabled = yes\n");

        await new AnalysisRunner(lab.Options(), loggerFactory).RunAsync(
            new AnalysisRequest(lab.AnalysisPath)
        );
        tracer.ForceFlush();

        Assert.Contains(
            logs.Collector.GetSnapshot(),
            r =>
                r.Category == "Microkernel.Modules.ProcessProbe"
                && r.Level == LogLevel.Information
                && r.Message.StartsWith("probe probe running in process ", StringComparison.Ordinal)
                && !r.Message.EndsWith($" {Environment.ProcessId}", StringComparison.Ordinal)
        );
        var execute = spans.Single(s =>
            s.OperationName == "module.execute"
            && (string?)s.GetTagItem("microkernel.module.name") == "ProcessProbe"
            && spans.Any(r =>
                r.SpanId == s.ParentSpanId
                && (string?)r.GetTagItem("microkernel.analysis.path") == lab.AnalysisPath
            )
        );
        Assert.Equal("process", execute.GetTagItem("microkernel.module.isolation"));
        var inWorker = spans.Single(s =>
            s.OperationName == "worker.module.run" && s.ParentSpanId == execute.SpanId
        );
        Assert.Equal(execute.TraceId, inWorker.TraceId);
        Assert.Equal("ok", inWorker.GetTagItem("microkernel.module.outcome"));
        Assert.NotEqual(Environment.ProcessId, inWorker.GetTagItem("microkernel.worker.pid"));
        Assert.InRange(
            inWorker.StartTimeUtc,
            execute.StartTimeUtc,
            execute.StartTimeUtc + execute.Duration
        );
        Assert.Contains(
            spans,
            s => s.OperationName == "worker.plugins.load" && s.TraceId == execute.TraceId
        );
        Assert.Contains(
            spans,
            s => s.OperationName == "worker.plugins.unload" && s.TraceId == execute.TraceId
        );
    }

    [Fact]
    public async Task The_resident_memory_watchdog_kills_a_worker_over_its_cap_and_the_run_goes_on()
    {
        using var lab = new PluginLab();
        lab.AddFixture("ProcessProbe", "Hog");
        lab.AddFixture("ProcessProbe", "Probe");
        // memory_limit 64 MiB: GC heap capped at 64, resident memory at 64 + 256 MiB.
        lab.WriteConf(
            "[hog]\nenabled = yes\nmemory_limit = 64\nnative_megabytes = 1024\n[probe]\nenabled = yes\n"
        );

        var result = await lab.RunAsync();

        var records = result.Modules.ToDictionary(m => m.Module.Key);
        Assert.Equal(ModuleOutcome.MemoryLimit, records["hog"].Outcome);
        Assert.Matches(
            @"worker process killed: its resident memory reached \d+ MiB, over the 320 MiB cap",
            records["hog"].Error
        );
        Assert.Equal(ModuleOutcome.Ok, records["probe"].Outcome);
        Assert.True(File.Exists(lab.ReportPath));
    }

    [Fact]
    public async Task A_bad_isolation_value_is_a_load_failure_naming_the_file_and_section()
    {
        using var lab = new PluginLab("Trivial");
        lab.WriteConf("[trivial]\nenabled = yes\nisolation = sandboxed\n");

        var result = await lab.RunAsync();

        var failure = Assert.Single(result.LoadFailures);
        Assert.Equal("Trivial", failure.Plugin);
        Assert.Contains("processing.conf [trivial] isolation = 'sandboxed'", failure.Reason);
        Assert.Contains("expected 'in-process' or 'process'", failure.Reason);
        Assert.Empty(result.Modules);
    }

    private static ModuleRunRecord Module(AnalysisResult result, string name) =>
        result.Modules.Single(m => m.Module.ClassName == name);
}
