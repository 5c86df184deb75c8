using Microkernel.Host.Queue;

namespace Microkernel.Daemon.Tests.Queue;

/// <summary>Queue semantics every database must honour; one subclass per database.</summary>
public abstract class TaskQueueContract : IAsyncLifetime
{
    private ITaskQueue? _queue;

    private protected ITaskQueue Queue
    {
        get
        {
            Skip.If(_queue is null, Unavailable);
            return _queue!;
        }
    }

    /// <summary>Why the database cannot be had (the tests skip), or null.</summary>
    protected virtual string? Unavailable => null;

    /// <summary>A queue on a fresh, empty database.</summary>
    private protected abstract Task<ITaskQueue> CreateQueueAsync();

    /// <summary>A second handle on the same database (another process or node).</summary>
    private protected abstract ITaskQueue OpenAgain();

    public async Task InitializeAsync()
    {
        if (Unavailable is not null)
        {
            return;
        }
        _queue = await CreateQueueAsync();
        await _queue.MigrateAsync();
    }

    public async Task DisposeAsync()
    {
        if (_queue is not null)
        {
            await _queue.DisposeAsync();
        }
    }

    [SkippableFact]
    public async Task Claims_the_highest_priority_first_then_the_oldest_and_nothing_when_empty()
    {
        var low = await Queue.SubmitAsync("/a/low", 1);
        var high = await Queue.SubmitAsync("/a/high", 5);
        var low2 = await Queue.SubmitAsync("/a/low2", 1);

        var order = new List<long>();
        for (var i = 0; i < 3; i++)
        {
            var task = await Queue.ClaimAsync("n1", TimeSpan.FromMinutes(1));
            Assert.NotNull(task);
            Assert.Equal(QueueStatus.Processing, task.Status);
            Assert.Equal("n1", task.Node);
            Assert.Equal(1, task.Attempts);
            Assert.NotNull(task.LeaseExpires);
            order.Add(task.Id);
        }

        Assert.Equal([high, low, low2], order);
        Assert.Null(await Queue.ClaimAsync("n1", TimeSpan.FromMinutes(1)));
    }

    [SkippableFact]
    public async Task The_final_status_is_written_exactly_once()
    {
        var id = await Queue.SubmitAsync("/a/1", 1);
        var claimed = (await Queue.ClaimAsync("n1", TimeSpan.FromMinutes(1)))!;

        Assert.True(await Queue.FinishAsync(claimed, QueueStatus.Reported, null));
        Assert.False(await Queue.FinishAsync(claimed, QueueStatus.FailedProcessing, "late"));
        Assert.False(await Queue.RenewAsync(claimed, TimeSpan.FromMinutes(1)));

        var task = (await Queue.GetAsync(id))!;
        Assert.Equal(QueueStatus.Reported, task.Status);
        Assert.NotNull(task.FinishedAt);
        Assert.Null(task.LeaseExpires);
        var history = await Queue.HistoryAsync(id);
        Assert.Equal(["submitted", "claimed", "reported"], history.Select(e => e.Event));
    }

    [SkippableFact]
    public async Task An_expired_lease_is_reclaimed_and_the_old_claim_can_no_longer_write()
    {
        var id = await Queue.SubmitAsync("/a/1", 1);
        var dead = (await Queue.ClaimAsync("dead-node", TimeSpan.FromMilliseconds(1)))!;
        await Task.Delay(50);

        var reclaimed = await Queue.ReclaimExpiredAsync(maxAttempts: 3);

        var only = Assert.Single(reclaimed);
        Assert.Equal(id, only.Id);
        Assert.Equal(QueueStatus.Pending, only.Status);
        Assert.Contains("lease expired on node dead-node during attempt 1", only.Reason);
        var live = (await Queue.ClaimAsync("live-node", TimeSpan.FromMinutes(1)))!;
        Assert.Equal(2, live.Attempts);
        Assert.False(await Queue.RenewAsync(dead, TimeSpan.FromMinutes(1)));
        Assert.False(await Queue.FinishAsync(dead, QueueStatus.Reported, null));
        Assert.True(await Queue.RenewAsync(live, TimeSpan.FromMinutes(1)));
        Assert.True(await Queue.FinishAsync(live, QueueStatus.Reported, null));
        Assert.Equal(
            ["submitted", "claimed", "reclaimed", "claimed", "reported"],
            (await Queue.HistoryAsync(id)).Select(e => e.Event)
        );
    }

    [SkippableFact]
    public async Task A_live_lease_is_not_reclaimed()
    {
        await Queue.SubmitAsync("/a/1", 1);
        await Queue.ClaimAsync("n1", TimeSpan.FromMinutes(1));

        Assert.Empty(await Queue.ReclaimExpiredAsync(3));
    }

    [SkippableFact]
    public async Task After_the_last_attempt_an_expired_task_is_failed_processing_with_the_reason()
    {
        var id = await Queue.SubmitAsync("/a/1", 1);
        for (var attempt = 1; attempt <= 2; attempt++)
        {
            await Queue.ClaimAsync($"node{attempt}", TimeSpan.FromMilliseconds(1));
            await Task.Delay(30);
            await Queue.ReclaimExpiredAsync(maxAttempts: 2);
        }

        var task = (await Queue.GetAsync(id))!;
        Assert.Equal(QueueStatus.FailedProcessing, task.Status);
        Assert.Equal(2, task.Attempts);
        Assert.Contains(
            "lease expired on node node2 during attempt 2 of 2; giving up",
            task.LastError
        );
        Assert.Null(await Queue.ClaimAsync("n", TimeSpan.FromMinutes(1)));
    }

    [SkippableFact]
    public async Task Release_gives_the_task_back_without_counting_the_attempt_and_retry_keeps_the_error()
    {
        var id = await Queue.SubmitAsync("/a/1", 1);
        var first = (await Queue.ClaimAsync("n1", TimeSpan.FromMinutes(1)))!;
        Assert.True(await Queue.ReleaseAsync(first));
        Assert.Equal(0, (await Queue.GetAsync(id))!.Attempts);

        var second = (await Queue.ClaimAsync("n1", TimeSpan.FromMinutes(1)))!;
        Assert.Equal(1, second.Attempts);
        Assert.True(await Queue.RetryAsync(second, "disk full"));
        var task = (await Queue.GetAsync(id))!;
        Assert.Equal(QueueStatus.Pending, task.Status);
        Assert.Equal(1, task.Attempts);
        Assert.Equal("disk full", task.LastError);
    }

    [SkippableFact]
    public async Task Requeue_only_moves_finished_tasks_and_resets_attempts()
    {
        var reported = await Queue.SubmitAsync("/a/1", 1);
        var failed = await Queue.SubmitAsync("/a/2", 1);
        var pending = await Queue.SubmitAsync("/a/3", 1);
        var a = (await Queue.ClaimAsync("n", TimeSpan.FromMinutes(1)))!;
        var b = (await Queue.ClaimAsync("n", TimeSpan.FromMinutes(1)))!;
        await Queue.FinishAsync(a, QueueStatus.Reported, null);
        await Queue.FinishAsync(b, QueueStatus.FailedProcessing, "bad");

        Assert.Equal(0, await Queue.RequeueAsync(pending));
        Assert.Equal(1, await Queue.RequeueFailedAsync());
        Assert.Equal(1, await Queue.RequeueAsync(reported));
        Assert.Equal(0, await Queue.RequeueAsync(12345));

        var counts = await Queue.CountAsync();
        Assert.Equal(3, counts[QueueStatus.Pending]);
        Assert.Equal(0, counts[QueueStatus.FailedProcessing]);
        Assert.Equal(0, (await Queue.GetAsync(failed))!.Attempts);
    }

    [SkippableFact]
    public async Task Concurrent_claimers_on_two_connections_never_get_the_same_task()
    {
        for (var i = 0; i < 40; i++)
        {
            await Queue.SubmitAsync($"/a/{i}", 1);
        }
        await using var other = OpenAgain();

        async Task<List<long>> Drain(ITaskQueue queue, string node)
        {
            var ids = new List<long>();
            while (await queue.ClaimAsync(node, TimeSpan.FromMinutes(1)) is { } task)
            {
                ids.Add(task.Id);
            }
            return ids;
        }
        var results = await Task.WhenAll(
            Task.Run(() => Drain(Queue, "a")),
            Task.Run(() => Drain(other, "b")),
            Task.Run(() => Drain(Queue, "c")),
            Task.Run(() => Drain(other, "d"))
        );

        var all = results.SelectMany(r => r).ToList();
        Assert.Equal(40, all.Count);
        Assert.Equal(40, all.Distinct().Count());
    }

    [SkippableFact]
    public async Task Migrating_again_is_harmless()
    {
        await Queue.SubmitAsync("/a/1", 1);
        await Queue.MigrateAsync();
        await using var other = OpenAgain();
        await other.MigrateAsync();

        Assert.Equal(1, (await other.CountAsync())[QueueStatus.Pending]);
    }
}
