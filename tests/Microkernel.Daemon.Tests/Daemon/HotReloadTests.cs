using System.Text.Json;
using Microkernel.Host.Queue;
using Microkernel.Host.Tests;

namespace Microkernel.Daemon.Tests.Daemon;

/// <summary>Replacing a plugin under a running <c>serve</c>.</summary>
public sealed class HotReloadTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(45);

    private static string VersionIn(JsonDocument report) =>
        report.RootElement.GetProperty("versioned").GetProperty("version").GetString()!;

    [Fact]
    public async Task New_tasks_use_the_new_plugin_while_the_running_one_finishes_on_the_old()
    {
        await using var lab = new DaemonLab(null, "Sleepy");
        lab.Lab.AddFixture("VersionedV1", "Versioned");
        lab.Lab.WriteConf(
            "[sleepy]\nenabled = yes\nmilliseconds = 2000\n[versioned]\nenabled = yes\n"
        );
        await lab.Queue.MigrateAsync();
        using var daemon = lab.Serve(workers: 2, "PluginReloadDebounceSeconds=0.3");
        var slow = lab.NewAnalysis(1);
        await lab.Queue.SubmitAsync(slow, 1);
        await lab.WaitForAsync(c => c[QueueStatus.Processing] == 1, Patience, lab.AllOutput);

        foreach (var file in Directory.EnumerateFiles(PluginLab.FixtureOutput("VersionedV2")))
        {
            File.Copy(
                file,
                Path.Combine(lab.Lab.PluginsPath, "Versioned", Path.GetFileName(file)),
                true
            );
        }
        await daemon.WaitForOutputAsync("Plugins reloaded", Patience);
        var fresh = lab.NewAnalysis(2);
        await lab.Queue.SubmitAsync(fresh, 1);
        await lab.WaitForAsync(c => c[QueueStatus.Reported] == 2, Patience, lab.AllOutput);

        using (var old = DaemonLab.ReadReport(slow))
        using (var upgraded = DaemonLab.ReadReport(fresh))
        {
            Assert.Equal("1.0.0", VersionIn(old));
            Assert.Equal("2.0.0", VersionIn(upgraded));
            var unload = upgraded.RootElement.GetProperty("statistics").GetProperty("unload");
            Assert.Equal(
                unload.GetProperty("contexts").GetInt32(),
                unload.GetProperty("unloaded").GetInt32()
            );
        }
        Assert.Single(
            daemon.Output.Split('\n'),
            l => l.Contains("Plugins reloaded", StringComparison.Ordinal)
        );

        // A broken deploy: the daemon keeps 2.0.0 and says why.
        File.WriteAllText(
            Path.Combine(lab.Lab.PluginsPath, "Versioned", "Fixture.Versioned.dll"),
            "garbage"
        );
        await daemon.WaitForOutputAsync("Plugin reload rejected", Patience);
        var after = lab.NewAnalysis(3);
        await lab.Queue.SubmitAsync(after, 1);
        await lab.WaitForAsync(c => c[QueueStatus.Reported] == 3, Patience, lab.AllOutput);
        using (var kept = DaemonLab.ReadReport(after))
        {
            Assert.Equal("2.0.0", VersionIn(kept));
        }
        daemon.Terminate();
        Assert.Equal(0, daemon.WaitForExit(Patience));
    }
}
