using Microkernel.Testing;
using Microkernel.TestSupport;

namespace Microkernel.Plugins.Behavior.Tests;

/// <summary>
/// The built plugin run by the host's runner in its own collectible load context: the section
/// writer thread and the call-list warm-up thread must be gone and leave nothing that keeps the
/// context alive.
/// </summary>
public sealed class PluginUnloadTests
{
    [Fact(Timeout = 120_000)]
    public async Task Writing_the_call_lists_unloads_the_plugin_context()
    {
        using var analysis = TempDirectory.Create();
        await File.WriteAllTextAsync(
            analysis.Combine("analysis.conf"),
            "[analysis]\nid = 42\ncategory = file\n"
        );
        Directory.CreateDirectory(analysis.Combine("logs"));
        // Three calls each: several MiB of calls, many buffers handed over, and logs big enough
        // for the warm-up thread to start.
        const int Files = 15000;
        using (var log = MonitorLogWriter.Create(analysis.Combine("logs", "1000.bson")))
        {
            log.WriteProcess(1000, 500, @"C:\t\app.exe", "app.exe --run", new DateTime(2024, 5, 1));
            MonitorScenario.DeclareApis(log);
            var data = new byte[64];
            for (var i = 0; i < Files; i++)
            {
                MonitorScenario.WriteFile(
                    log,
                    1001,
                    i / 3,
                    0x100 + (i % 64) * 4,
                    $@"C:\Users\test\file{i}.txt",
                    data,
                    create: i % 2 == 0
                );
            }
        }

        Assert.True(
            new FileInfo(analysis.Combine("logs", "1000.bson")).Length
                >= Behavior.Output.CallListWarmUp.WorthwhileLogBytes,
            "the log is too small to start the warm-up thread"
        );

        await using var host = new ModuleTestHost(RepoPaths.BuildOutput("plugins", "Behavior"));
        var result = await host.RunAsync(
            analysis.Path,
            new Dictionary<string, string> { ["calls"] = "yes" }
        );

        Assert.Equal("ok", result.Outcome);
        var calls = result.Section.GetProperty("processes")[0].GetProperty("calls");
        Assert.Equal(Files * 3, calls.GetArrayLength());
        Assert.Equal(
            $@"C:\Users\test\file{Files - 1}.txt",
            calls[(Files * 3) - 3].GetProperty("arguments").GetProperty("filepath").GetString()
        );
        var unload = result.Report.GetProperty("statistics").GetProperty("unload");
        Assert.Equal(1, unload.GetProperty("contexts").GetInt32());
        Assert.Equal(1, unload.GetProperty("unloaded").GetInt32());
    }
}
