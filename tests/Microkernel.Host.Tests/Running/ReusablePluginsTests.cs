using System.Text.Json;
using Microkernel.Host.Configuration;
using Microkernel.Host.Running;
using Microsoft.Extensions.Logging.Abstractions;

namespace Microkernel.Host.Tests.Running;

/// <summary>A daemon worker's kept plugin contexts, run through the real runner.</summary>
public sealed class ReusablePluginsTests
{
    private static async Task<(AnalysisResult Result, JsonElement Info)> RunAsync(
        PluginLab lab,
        ReusablePlugins reuse,
        MicrokernelOptions? options = null
    )
    {
        var result = await new AnalysisRunner(
            options ?? lab.Options(),
            NullLoggerFactory.Instance,
            reuse
        ).RunAsync(new AnalysisRequest(lab.AnalysisPath));
        using var report = JsonDocument.Parse(File.ReadAllBytes(lab.ReportPath));
        return (result, report.RootElement.GetProperty("process_info").Clone());
    }

    // Fixture plugins are not shipped ones: without this they would run in worker processes,
    // which are not kept.
    private const string InProcess = "[processinfo]\nenabled = yes\nisolation = in-process\n";

    private static int RunsInContext(JsonElement info) =>
        info.GetProperty("runs_in_context").GetInt32();

    [Fact]
    public async Task Kept_contexts_serve_later_runs_with_new_instances_until_the_run_limit()
    {
        using var lab = new PluginLab("ProcessInfo", "Trivial");
        lab.WriteConf(
            "[processinfo]\nenabled = yes\nisolation = in-process\n[trivial]\nenabled = yes\nisolation = in-process\n"
        );
        using var reuse = new ReusablePlugins(maxRuns: 3, gcRounds: 20, NullLogger.Instance);

        var runs = new List<(AnalysisResult Result, JsonElement Info)>();
        for (var i = 0; i < 4; i++)
        {
            runs.Add(await RunAsync(lab, reuse));
        }

        Assert.Equal([1, 2, 3, 1], runs.Select(r => RunsInContext(r.Info)));
        // Each run gets its own module instance, as Cuckoo makes one per task.
        Assert.All(runs, r => Assert.Equal(1, r.Info.GetProperty("runs_of_instance").GetInt32()));
        Assert.All(
            runs,
            r =>
            {
                Assert.Equal(2, r.Result.Unload.Contexts);
                Assert.Equal(2, r.Result.Unload.Kept);
                Assert.Equal(0, r.Result.Unload.Unloaded);
            }
        );
        using var report = JsonDocument.Parse(File.ReadAllBytes(lab.ReportPath));
        Assert.Equal(
            2,
            report
                .RootElement.GetProperty("statistics")
                .GetProperty("unload")
                .GetProperty("kept")
                .GetInt32()
        );

        var retired = reuse.Retire("the test ends");
        Assert.Equal(2, retired.Contexts);
        Assert.Equal(2, retired.Unloaded);
        Assert.Empty(retired.Leaked);
        Assert.Null(reuse.PluginsPath);
    }

    [Fact]
    public async Task A_changed_processing_conf_retires_the_kept_contexts()
    {
        using var lab = new PluginLab("ProcessInfo");
        lab.WriteConf(InProcess);
        using var reuse = new ReusablePlugins(maxRuns: 100, gcRounds: 20, NullLogger.Instance);

        var first = await RunAsync(lab, reuse);
        var same = await RunAsync(lab, reuse);
        lab.WriteConf(InProcess + "greeting = hi\n");
        var changed = await RunAsync(lab, reuse);

        Assert.Equal(1, RunsInContext(first.Info));
        Assert.Equal(2, RunsInContext(same.Info));
        Assert.Equal(1, RunsInContext(changed.Info));
        Assert.Equal("hi", changed.Info.GetProperty("greeting").GetString());
    }

    [Fact]
    public async Task A_run_with_a_failed_module_unloads_its_contexts_instead_of_keeping_them()
    {
        using var lab = new PluginLab("ProcessInfo", "Throws");
        lab.WriteConf(InProcess + "[throws]\nenabled = yes\nisolation = in-process\n");
        using var reuse = new ReusablePlugins(maxRuns: 100, gcRounds: 20, NullLogger.Instance);

        var (result, info) = await RunAsync(lab, reuse);
        var (_, next) = await RunAsync(lab, reuse);

        Assert.Equal(
            ModuleOutcome.Exception,
            result.Modules.Single(m => m.Module.Key == "throws").Outcome
        );
        Assert.Equal(0, result.Unload.Kept);
        Assert.Equal(2, result.Unload.Unloaded);
        Assert.Empty(result.Unload.Leaked);
        Assert.Null(reuse.PluginsPath);
        Assert.Equal(1, RunsInContext(info));
        Assert.Equal(1, RunsInContext(next));
    }

    [Fact]
    public async Task Plugins_in_worker_processes_are_not_kept()
    {
        using var lab = new PluginLab("ProcessInfo");
        lab.Enable("processinfo");
        using var reuse = new ReusablePlugins(maxRuns: 100, gcRounds: 20, NullLogger.Instance);

        var (first, info) = await RunAsync(lab, reuse);
        var (_, next) = await RunAsync(lab, reuse);

        Assert.Equal("process", first.Modules.Single().Isolation);
        Assert.NotEqual(Environment.ProcessId, info.GetProperty("pid").GetInt32());
        Assert.Equal(0, first.Unload.Kept);
        Assert.Null(reuse.PluginsPath);
        Assert.Equal(1, RunsInContext(next));
    }

    [Fact]
    public async Task A_run_limit_of_one_loads_and_unloads_every_run_as_process_does()
    {
        using var lab = new PluginLab("ProcessInfo");
        lab.WriteConf(InProcess);
        using var reuse = new ReusablePlugins(maxRuns: 1, gcRounds: 20, NullLogger.Instance);

        var (first, _) = await RunAsync(lab, reuse);
        var (_, second) = await RunAsync(lab, reuse);

        Assert.Equal(0, first.Unload.Kept);
        Assert.Equal(1, first.Unload.Unloaded);
        Assert.Equal(1, RunsInContext(second));
    }
}
