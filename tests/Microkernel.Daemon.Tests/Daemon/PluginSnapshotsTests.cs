using Microkernel.Host.Daemon;
using Microkernel.Host.Tests;
using Microkernel.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace Microkernel.Daemon.Tests.Daemon;

/// <summary>Hot reload in-process: the watcher, the debounce, validation, and snapshot lifetimes.</summary>
public sealed class PluginSnapshotsTests : IDisposable
{
    private readonly PluginLab _lab = new();
    private readonly TempDirectory _storage = TempDirectory.Create();
    private readonly PluginSnapshots _snapshots;

    public PluginSnapshotsTests()
    {
        _lab.AddFixture("VersionedV1", "Versioned");
        _snapshots = new PluginSnapshots(
            _lab.PluginsPath,
            _storage.Path,
            TimeSpan.FromMilliseconds(300),
            gcRounds: 5,
            NullLogger.Instance
        );
        _snapshots.Start(watch: true);
    }

    private async Task<PluginSnapshots.Snapshot> NextSnapshotAsync(int after)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (_snapshots.Current.Number == after || _snapshots.Current.Modules.Count == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "no reload within 20 s");
            await Task.Delay(50);
        }
        return _snapshots.Current;
    }

    [Fact]
    public async Task A_changed_plugin_is_reloaded_once_while_running_tasks_keep_their_snapshot_until_they_end()
    {
        var first = _snapshots.Current;
        Assert.Equal(["Versioned/Versioned 1.0.0"], first.Modules);
        var inFlight = _snapshots.Acquire();

        // A deploy writes files one by one; the quiet period makes it one reload.
        foreach (var file in Directory.EnumerateFiles(PluginLab.FixtureOutput("VersionedV2")))
        {
            File.Copy(
                file,
                Path.Combine(_lab.PluginsPath, "Versioned", Path.GetFileName(file)),
                true
            );
            await Task.Delay(50);
        }
        var second = await NextSnapshotAsync(first.Number);

        Assert.Equal(["Versioned/Versioned 2.0.0"], second.Modules);
        Assert.Equal(1, _snapshots.Reloads);
        Assert.True(Directory.Exists(first.Path), "a running task's snapshot must stay");
        inFlight.Dispose();
        Assert.False(Directory.Exists(first.Path), "an unused old snapshot must go");
    }

    [Fact]
    public async Task A_new_version_that_fails_to_load_is_rejected_and_the_old_one_kept()
    {
        var first = _snapshots.Current;

        File.WriteAllText(
            Path.Combine(_lab.PluginsPath, "Versioned", "Fixture.Versioned.dll"),
            "not a PE file"
        );
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (_snapshots.LastRejection is null)
        {
            Assert.True(DateTime.UtcNow < deadline, "no rejection within 20 s");
            await Task.Delay(50);
        }

        Assert.StartsWith("Versioned: ", _snapshots.LastRejection);
        Assert.Same(first, _snapshots.Current);
        Assert.True(Directory.Exists(first.Path));
        Assert.Equal(0, _snapshots.Reloads);
    }

    [Fact]
    public async Task Added_renamed_into_place_and_removed_plugins_are_picked_up()
    {
        var first = _snapshots.Current;
        // The usual safe deploy: copy under a hidden name, then rename into place.
        _lab.AddFixture("Trivial", ".Trivial.partial");
        Directory.Move(
            Path.Combine(_lab.PluginsPath, ".Trivial.partial"),
            Path.Combine(_lab.PluginsPath, "Trivial")
        );
        var added = await NextSnapshotAsync(first.Number);
        Assert.Contains(
            added.Modules,
            m => m.StartsWith("Trivial/Trivial 0.1.0", StringComparison.Ordinal)
        );

        Directory.Delete(Path.Combine(_lab.PluginsPath, "Versioned"), recursive: true);
        var removed = await NextSnapshotAsync(added.Number);

        Assert.StartsWith("Trivial/Trivial 0.1.0", Assert.Single(removed.Modules));
    }

    public void Dispose()
    {
        _snapshots.Dispose();
        _storage.Dispose();
        _lab.Dispose();
    }
}
