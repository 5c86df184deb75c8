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
            // Versioned in-process: its worker keeps its context between tasks; Sleepy runs in a worker process.
            // Sleepy runs first and outlasts the reload (debounce + validation) several times over,
            // so Versioned runs after the switch and must still get the task's own snapshot.
            "[sleepy]\nenabled = yes\nmilliseconds = 10000\n[versioned]\nenabled = yes\nisolation = in-process\n"
        );
        await lab.Queue.MigrateAsync();
        // A quiet period far longer than a stall between the copied files: one reload per deploy.
        using var daemon = lab.Serve(workers: 2, "PluginReloadDebounceSeconds=2");
        var slow = lab.NewAnalysis(1);
        await lab.Queue.SubmitAsync(slow, 1);
        // Logged once the task holds its snapshot; a claim alone is seen before that.
        await daemon.WaitForOutputAsync("task 1 attempt 1 (", Patience);

        foreach (var file in Directory.EnumerateFiles(PluginLab.FixtureOutput("VersionedV2")))
        {
            File.Copy(
                file,
                Path.Combine(lab.Lab.PluginsPath, "Versioned", Path.GetFileName(file)),
                true
            );
        }
        await daemon.WaitForOutputAsync("Plugins reloaded", Patience);
        Assert.True(
            (await lab.Queue.CountAsync())[QueueStatus.Reported] == 0,
            "the slow task ended before the reload: the test no longer covers a task running across one"
        );
        // The conf is read at a task's start: only the slow task needs the long sleep.
        lab.Lab.WriteConf(
            "[sleepy]\nenabled = yes\nmilliseconds = 100\n[versioned]\nenabled = yes\nisolation = in-process\n"
        );
        var fresh = lab.NewAnalysis(2);
        await lab.Queue.SubmitAsync(fresh, 1);
        await lab.WaitForAsync(c => c[QueueStatus.Reported] == 2, Patience, lab.AllOutput);

        using (var old = DaemonLab.ReadReport(slow))
        using (var upgraded = DaemonLab.ReadReport(fresh))
        {
            Assert.Equal("1.0.0", VersionIn(old));
            Assert.Equal("2.0.0", VersionIn(upgraded));
            // The worker keeps the in-process context for its next task; the worker process's goes.
            var unload = upgraded.RootElement.GetProperty("statistics").GetProperty("unload");
            Assert.Equal(2, unload.GetProperty("contexts").GetInt32());
            Assert.Equal(1, unload.GetProperty("kept").GetInt32());
            Assert.Equal(1, unload.GetProperty("unloaded").GetInt32());
        }
        // The contexts the slow task kept on 1.0.0 go as soon as their worker looks for work.
        await daemon.WaitForOutputAsync(
            "Kept plugins retired (the plugins were reloaded)",
            Patience
        );
        Assert.Contains("1 of 1 contexts unloaded and verified", daemon.Output);
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
        Assert.Contains("Kept plugins retired (the worker stopped)", daemon.Output);
        Assert.DoesNotContain("contexts not unloaded", daemon.Output);
    }
}
