using System.Text.Json;
using System.Text.Json.Nodes;
using Microkernel.Host.Configuration;
using Microkernel.Host.Running;
using Microkernel.Plugins.Memory.Volatility;
using Microkernel.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace Microkernel.Plugins.Memory.Tests;

/// <summary>
/// The built plugin folder run by the host's <see cref="AnalysisRunner"/> in its own collectible
/// load context against FakeVol: whether Volatility answers or fails (exit code, malformed JSON,
/// a hang killed at its timeout), the context must unload.
/// </summary>
public sealed class PluginUnloadTests
{
#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

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
        using var lab = new HostLab(Only("pslist", "pstree", "dlllist", "netscan"));
        foreach (var (plugin, file) in FakeVolatility.Recorded)
        {
            lab.Scenario[plugin] = new JsonObject
            {
                ["mode"] = "file",
                ["path"] = Path.Combine(AppContext.BaseDirectory, "Recorded", file + ".json"),
            };
        }

        var result = await lab.RunAsync();

        var module = Assert.Single(result.Modules);
        Assert.Equal("ok", module.Outcome);
        using var report = JsonDocument.Parse(await File.ReadAllBytesAsync(result.ReportPath!));
        var rows = report
            .RootElement.GetProperty("memory")
            .GetProperty("pslist")
            .GetProperty("data");
        Assert.Equal(3, rows.GetArrayLength());
        Assert.Equal(1, result.Unload.Contexts);
        Assert.Empty(result.Unload.Leaked);
    }

    [Fact(Timeout = 60_000)]
    public async Task Failing_volatility_unloads_the_plugin_context()
    {
        using var lab = new HostLab(
            "grace = 1\ntimeout = 2\n" + Only("pslist", "psscan", "netscan")
        );
        lab.Scenario["windows.pslist.PsList"] = new JsonObject { ["mode"] = "hang" };
        lab.Scenario["windows.psscan.PsScan"] = new JsonObject { ["mode"] = "malformed" };
        lab.Scenario["windows.netscan.NetScan"] = new JsonObject
        {
            ["mode"] = "exit",
            ["code"] = 1,
            ["stderr"] = "Unsatisfied requirement",
        };

        var result = await lab.RunAsync();

        Assert.Single(result.Modules);
        using var report = JsonDocument.Parse(await File.ReadAllBytesAsync(result.ReportPath!));
        var memory = report.RootElement.GetProperty("memory");
        Assert.Contains(
            "timed out",
            memory.GetProperty("pslist").GetProperty("error").GetString(),
            StringComparison.Ordinal
        );
        Assert.True(memory.GetProperty("psscan").TryGetProperty("error", out _));
        Assert.True(memory.GetProperty("netscan").TryGetProperty("error", out _));
        Assert.Equal(1, result.Unload.Contexts);
        Assert.Empty(result.Unload.Leaked);
    }

    /// <summary>A plugins folder holding only the built Memory plugin, a conf and an analysis with a FakeVol scenario as memory.dmp.</summary>
    private sealed class HostLab : IDisposable
    {
        private readonly TempDirectory _root = TempDirectory.Create();
        private readonly string _memoryConf;

        public HostLab(string memoryConf)
        {
            _memoryConf = memoryConf;
            var built = RepoPaths.InRepo("plugins", "Memory", "bin", Configuration, "net10.0");
            if (!File.Exists(Path.Combine(built, "Microkernel.Plugins.Memory.dll")))
            {
                throw new InvalidOperationException($"The Memory plugin is not built at {built}.");
            }
            TempDirectory.CopyTree(built, _root.Combine("plugins", "Memory"));
            Directory.CreateDirectory(_root.Combine("conf"));
            Directory.CreateDirectory(AnalysisPath);
            File.WriteAllText(
                Path.Combine(AnalysisPath, "analysis.conf"),
                "[analysis]\nid = 42\ncategory = file\n"
            );
        }

        public JsonObject Scenario { get; } = [];

        private string AnalysisPath => _root.Combine("analyses", "42");

        public async Task<AnalysisResult> RunAsync()
        {
            await File.WriteAllTextAsync(
                _root.Combine("conf", "processing.conf"),
                "[memory]\nenabled = yes\n"
            );
            await File.WriteAllTextAsync(
                _root.Combine("conf", "memory.conf"),
                $"[basic]\nvolatility = {FakeVolatility.Executable}\n{_memoryConf}\n"
            );
            await File.WriteAllTextAsync(
                Path.Combine(AnalysisPath, "memory.dmp"),
                Scenario.ToJsonString()
            );
            return await new AnalysisRunner(
                new MicrokernelOptions
                {
                    PluginsPath = _root.Combine("plugins"),
                    ConfPath = _root.Combine("conf"),
                    DefaultModuleTimeoutSeconds = 30,
                    CancellationGraceSeconds = 1,
                },
                NullLoggerFactory.Instance
            ).RunAsync(new AnalysisRequest(AnalysisPath));
        }

        public void Dispose() => _root.Dispose();
    }
}
