using Microkernel.Host.Configuration;
using Microkernel.Host.Daemon;
using Microkernel.Host.Tests;
using Microkernel.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace Microkernel.Daemon.Tests.Daemon;

/// <summary>Hot reload in-process: the watcher, the debounce, validation, and snapshot lifetimes.</summary>
public sealed class PluginSnapshotsTests : IDisposable
{
    private static readonly TimeSpan ShortDebounce = TimeSpan.FromMilliseconds(300);

    private readonly PluginLab _lab = new();
    private readonly TempDirectory _storage = TempDirectory.Create();
    private PluginSnapshots? _watching;

    public PluginSnapshotsTests() => _lab.AddFixture("VersionedV1", "Versioned");

    private PluginSnapshots Snapshots =>
        _watching ?? throw new InvalidOperationException("Call Watch first.");

    private PluginSnapshots Watch(TimeSpan debounce)
    {
        _watching = new PluginSnapshots(
            _lab.PluginsPath,
            _storage.Path,
            debounce,
            new MicrokernelOptions().UnloadGcRounds,
            NullLogger.Instance
        );
        _watching.Start(watch: true);
        return _watching;
    }

    /// <summary>
    /// The first snapshot after <paramref name="after"/> that <paramref name="settled"/> accepts:
    /// a stall mid-change may let the watcher snapshot a half-done change first.
    /// </summary>
    private async Task<PluginSnapshots.Snapshot> NextSnapshotAsync(
        int after,
        Func<PluginSnapshots.Snapshot, bool>? settled = null
    )
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (
            Snapshots.Current.Number == after
            || Snapshots.Current.Modules.Count == 0
            || settled?.Invoke(Snapshots.Current) == false
        )
        {
            Assert.True(DateTime.UtcNow < deadline, "no reload within 20 s");
            await Task.Delay(50);
        }
        return Snapshots.Current;
    }

    [Fact]
    public async Task A_changed_plugin_is_reloaded_once_while_running_tasks_keep_their_snapshot_until_they_end()
    {
        // A quiet period far longer than the pauses between the files, even on a stalled machine.
        var debounce = TimeSpan.FromSeconds(3);
        var snapshots = Watch(debounce);
        var first = snapshots.Current;
        Assert.Equal(["Versioned/Versioned 1.0.0"], first.Modules);
        var inFlight = snapshots.Acquire();

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
        // A reload taken mid-deploy would be followed by another one quiet period later.
        await Task.Delay(debounce + TimeSpan.FromSeconds(1));

        Assert.Equal(["Versioned/Versioned 2.0.0"], second.Modules);
        Assert.Same(second, snapshots.Current);
        Assert.Equal(1, snapshots.Reloads);
        Assert.True(Directory.Exists(first.Path), "a running task's snapshot must stay");
        inFlight.Dispose();
        Assert.False(Directory.Exists(first.Path), "an unused old snapshot must go");
    }

    [Fact]
    public async Task A_new_version_that_fails_to_load_is_rejected_and_the_old_one_kept()
    {
        var snapshots = Watch(ShortDebounce);
        var first = snapshots.Current;

        File.WriteAllText(
            Path.Combine(_lab.PluginsPath, "Versioned", "Fixture.Versioned.dll"),
            "not a PE file"
        );
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (snapshots.LastRejection is null)
        {
            Assert.True(DateTime.UtcNow < deadline, "no rejection within 20 s");
            await Task.Delay(50);
        }

        Assert.StartsWith("Versioned: ", snapshots.LastRejection);
        Assert.Same(first, snapshots.Current);
        Assert.True(Directory.Exists(first.Path));
        Assert.Equal(0, snapshots.Reloads);
    }

    [Fact]
    public async Task Added_renamed_into_place_and_removed_plugins_are_picked_up()
    {
        var first = Watch(ShortDebounce).Current;
        // The usual safe deploy: copy under a hidden name, then rename into place.
        _lab.AddFixture("Trivial", ".Trivial.partial");
        Directory.Move(
            Path.Combine(_lab.PluginsPath, ".Trivial.partial"),
            Path.Combine(_lab.PluginsPath, "Trivial")
        );
        // The hidden copy is skipped; only the rename can bring Trivial in.
        var added = await NextSnapshotAsync(
            first.Number,
            s => s.Modules.Any(m => m.StartsWith("Trivial/Trivial 0.1.0", StringComparison.Ordinal))
        );
        Assert.Contains("Versioned/Versioned 1.0.0", added.Modules);

        Directory.Delete(Path.Combine(_lab.PluginsPath, "Versioned"), recursive: true);
        var removed = await NextSnapshotAsync(added.Number, s => s.Modules.Count == 1);

        Assert.StartsWith("Trivial/Trivial 0.1.0", Assert.Single(removed.Modules));
    }

    public void Dispose()
    {
        _watching?.Dispose();
        _storage.Dispose();
        _lab.Dispose();
    }
}
