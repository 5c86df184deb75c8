namespace Microkernel.Testing.Tests;

/// <summary>
/// The same plugin run in a worker process. Needs the host's process executor (issue 8,
/// "Process isolation"); until it lands the host runs such a module in its own process and these
/// tests fail on the process id, as they should.
/// </summary>
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
}
