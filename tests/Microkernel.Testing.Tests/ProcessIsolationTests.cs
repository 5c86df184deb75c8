namespace Microkernel.Testing.Tests;

/// <summary>The same plugins run in a worker process (<c>isolation = process</c>).</summary>
public sealed class ProcessIsolationTests
{
    [Fact]
    public async Task Process_isolation_runs_the_module_in_another_process_with_the_same_result()
    {
        using var analysis = Fixtures.Analysis();

        await using var host = new ModuleTestHost(Fixtures.Output("ProcessInfo"));
        var result = await host.RunAsync(
            analysis.Path,
            new Dictionary<string, string> { ["greeting"] = "from a worker" },
            ModuleIsolation.Process
        );

        Assert.Equal("ok", result.Outcome);
        Assert.Equal(ModuleIsolation.Process, result.Isolation);
        Assert.NotEqual(Environment.ProcessId, result.Section.GetProperty("pid").GetInt32());
        Assert.True(result.Section.GetProperty("collectible").GetBoolean());
        Assert.Equal("from a worker", result.Section.GetProperty("greeting").GetString());
    }

    [Fact]
    public async Task Trivial_gives_the_same_section_in_both_modes()
    {
        using var analysis = Fixtures.Analysis();

        await using var host = new ModuleTestHost(Fixtures.Output("Trivial"));
        var inProcess = await host.RunAsync(analysis.Path, isolation: ModuleIsolation.InProcess);
        var worker = await host.RunAsync(analysis.Path, isolation: ModuleIsolation.Process);

        Assert.Equal(inProcess.Section.GetRawText(), worker.Section.GetRawText());
        Assert.Equal(inProcess.Outcome, worker.Outcome);
    }

    [Fact]
    public async Task A_plugin_that_does_not_unload_in_its_worker_fails_with_the_leak()
    {
        using var analysis = Fixtures.Analysis();

        await using var host = new ModuleTestHost(Fixtures.Output("LeaksViaEvent"));
        var leak = await Assert.ThrowsAsync<PluginLeakException>(() =>
            host.RunAsync(analysis.Path, isolation: ModuleIsolation.Process)
        );

        Assert.Contains(
            "Plugin LeaksViaEvent's load context did not unload",
            leak.Message,
            StringComparison.Ordinal
        );
        Assert.True(leak.Result!.Section.GetProperty("subscribed").GetBoolean());
        Assert.Equal(ModuleIsolation.Process, leak.Result.Isolation);
    }
}
