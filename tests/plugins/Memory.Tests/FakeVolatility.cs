using System.Text.Json.Nodes;
using Microkernel.TestSupport;

namespace Microkernel.Plugins.Memory.Tests;

/// <summary>
/// An analysis folder whose <c>memory.dmp</c> is a FakeVol scenario, with a conf folder whose
/// memory.conf points <c>[basic] volatility</c> at the FakeVol executable.
/// </summary>
internal sealed class FakeVolatility : IDisposable
{
    private readonly TempDirectory _analysis = TempDirectory.Create();
    private readonly TempDirectory _conf = TempDirectory.Create();

    public FakeVolatility()
    {
        Scenario["log"] = ArgsLog;
        foreach (var (plugin, file) in Recorded)
        {
            Scenario[plugin] = new JsonObject
            {
                ["mode"] = "file",
                ["path"] = Path.Combine(AppContext.BaseDirectory, "Recorded", file + ".json"),
            };
        }
    }

    /// <summary>Volatility 3 plugin name → recorded reply (tests/plugins/Memory.Tests/Recorded).</summary>
    public static readonly (string Plugin, string File)[] Recorded =
    [
        ("windows.pslist.PsList", "pslist"),
        ("windows.psscan.PsScan", "psscan"),
        ("windows.pstree.PsTree", "pstree"),
        ("windows.dlllist.DllList", "dlllist"),
        ("windows.handles.Handles", "handles"),
        ("windows.malfind.Malfind", "malfind"),
        ("windows.netscan.NetScan", "netscan"),
        ("windows.svcscan.SvcScan", "svcscan"),
        ("windows.cmdline.CmdLine", "cmdline"),
        ("windows.callbacks.Callbacks", "callbacks"),
        ("windows.modules.Modules", "modules"),
        ("windows.ldrmodules.LdrModules", "ldrmodules"),
        ("windows.devicetree.DeviceTree", "devicetree"),
    ];

    public static string Executable
    {
        get
        {
            var configuration = AppContext.BaseDirectory.Contains(
                $"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}",
                StringComparison.Ordinal
            )
                ? "Release"
                : "Debug";
            var path = RepoPaths.InRepo(
                "tests",
                "FakeVol",
                "bin",
                configuration,
                "net10.0",
                OperatingSystem.IsWindows() ? "FakeVol.exe" : "FakeVol"
            );
            return File.Exists(path)
                ? path
                : throw new InvalidOperationException($"FakeVol was not built: {path}");
        }
    }

    public JsonObject Scenario { get; } = [];

    public string AnalysisPath => _analysis.Path;

    public string ConfDirectory => _conf.Path;

    public string MemoryPath => _analysis.Combine("memory.dmp");

    public string ArgsLog => _analysis.Combine("args.log");

    /// <summary>Lines of memory.conf after [basic]'s volatility line; sections may follow.</summary>
    public string Conf { get; set; } = "";

    public string Combine(string name) => _analysis.Combine(name);

    public async Task<System.Text.Json.JsonDocument?> RunAsync(
        CancellationToken cancellationToken = default
    )
    {
        await File.WriteAllTextAsync(MemoryPath, Scenario.ToJsonString(), cancellationToken);
        await File.WriteAllTextAsync(
            Path.Combine(ConfDirectory, "memory.conf"),
            $"[basic]\nvolatility = {Executable}\n{Conf}\n",
            cancellationToken
        );
        return await ModuleHarness.RunAsync(
            new Memory(),
            AnalysisPath,
            confDirectory: ConfDirectory,
            cancellationToken: cancellationToken
        );
    }

    public void Dispose()
    {
        _analysis.Dispose();
        _conf.Dispose();
    }
}
