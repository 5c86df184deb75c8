using System.Text.Json.Nodes;
using Microkernel.Plugins.Memory.Volatility;
using Microkernel.Testing;
using Microkernel.TestSupport;

namespace Microkernel.Plugins.Memory.Tests;

/// <summary>
/// The built plugin folder run by the host's runner (through <see cref="ModuleTestHost"/>) in its
/// own collectible load context against FakeVol: whether Volatility answers or fails (exit code,
/// malformed JSON, a hang killed at its timeout), the context must unload.
/// </summary>
public sealed class PluginUnloadTests
{
    private static string BuildOutput => RepoPaths.BuildOutput("plugins", "Memory");

    private static string Only(params string[] plugins) =>
        string.Join(
            "\n",
            VolatilityPlugins.All.Select(p =>
                $"[{p.Name}]\nenabled = {(plugins.Contains(p.Name) ? "yes" : "no")}"
            )
        );

    [Fact(Timeout = 60_000)]
    public async Task Recorded_replies_unload_the_plugin_context()
    {
        var scenario = RecordedScenario();

        var result = await RunAsync(Only("pslist", "pstree", "dlllist", "netscan"), scenario);

        Assert.Equal("ok", result.Outcome);
        var rows = result.Section.GetProperty("pslist").GetProperty("data");
        Assert.Equal(3, rows.GetArrayLength());
        AssertOneContextUnloaded(result);
    }

    [Fact(Timeout = 60_000)]
    public async Task Failing_volatility_unloads_the_plugin_context()
    {
        var scenario = new JsonObject
        {
            ["windows.pslist.PsList"] = new JsonObject { ["mode"] = "hang" },
            ["windows.psscan.PsScan"] = new JsonObject { ["mode"] = "malformed" },
            ["windows.netscan.NetScan"] = new JsonObject
            {
                ["mode"] = "exit",
                ["code"] = 1,
                ["stderr"] = "Unsatisfied requirement",
            },
        };

        var result = await RunAsync(
            "grace = 1\ntimeout = 2\n" + Only("pslist", "psscan", "netscan"),
            scenario
        );

        var memory = result.Section;
        Assert.Contains(
            "timed out",
            memory.GetProperty("pslist").GetProperty("error").GetString(),
            StringComparison.Ordinal
        );
        Assert.True(memory.GetProperty("psscan").TryGetProperty("error", out _));
        Assert.True(memory.GetProperty("netscan").TryGetProperty("error", out _));
        AssertOneContextUnloaded(result);
    }

    [Fact(Timeout = 120_000)]
    public async Task A_worker_process_gives_the_same_section_as_the_host()
    {
        var scenario = RecordedScenario();
        var conf = Only("pslist", "pstree", "dlllist", "netscan");

        var inProcess = await RunAsync(conf, scenario, ModuleIsolation.InProcess);
        var isolated = await RunAsync(conf, scenario, ModuleIsolation.Process);

        Assert.Equal("ok", isolated.Outcome);
        Assert.True(
            JsonNode.DeepEquals(
                JsonNode.Parse(inProcess.Section.GetRawText()),
                JsonNode.Parse(isolated.Section.GetRawText())
            ),
            "the memory section differs between in-process and process isolation"
        );
    }

    /// <summary>FakeVol answers every recorded plugin with its recorded reply.</summary>
    private static JsonObject RecordedScenario()
    {
        var scenario = new JsonObject();
        foreach (var (plugin, file) in FakeVolatility.Recorded)
        {
            scenario[plugin] = new JsonObject
            {
                ["mode"] = "file",
                ["path"] = Path.Combine(AppContext.BaseDirectory, "Recorded", file + ".json"),
            };
        }
        return scenario;
    }

    /// <summary>Runs the built plugin on an analysis whose memory.dmp is the FakeVol scenario; the kit fails the test if the context leaks.</summary>
    private static async Task<ModuleTestResult> RunAsync(
        string memoryConf,
        JsonObject scenario,
        ModuleIsolation isolation = ModuleIsolation.InProcess
    )
    {
        using var analysis = TempDirectory.Create();
        await File.WriteAllTextAsync(
            analysis.Combine("analysis.conf"),
            "[analysis]\nid = 42\ncategory = file\n"
        );
        await File.WriteAllTextAsync(analysis.Combine("memory.dmp"), scenario.ToJsonString());

        await using var host = new ModuleTestHost(BuildOutput)
        {
            Timeout = TimeSpan.FromSeconds(30),
            CancellationGrace = TimeSpan.FromSeconds(1),
        };
        await File.WriteAllTextAsync(
            Path.Combine(host.ConfDirectory, "memory.conf"),
            $"[basic]\nvolatility = {FakeVolatility.Executable}\n{memoryConf}\n"
        );
        return await host.RunAsync(analysis.Path, isolation: isolation);
    }

    private static void AssertOneContextUnloaded(ModuleTestResult result)
    {
        var unload = result.Report.GetProperty("statistics").GetProperty("unload");
        Assert.Equal(1, unload.GetProperty("contexts").GetInt32());
        Assert.Equal(1, unload.GetProperty("unloaded").GetInt32());
    }
}
