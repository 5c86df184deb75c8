namespace Microkernel.Host.Daemon;

/// <summary>What <c>/health/ready</c> reports: the queue answered recently, plugins loaded, every worker alive.</summary>
internal sealed class DaemonHealth
{
    private long _queueOkTicks;
    private string? _queueError;
    private int _workersAlive;

    public int WorkersExpected { get; set; }

    public int WorkersAlive => Volatile.Read(ref _workersAlive);

    public DateTimeOffset? QueueOkAt =>
        Interlocked.Read(ref _queueOkTicks) is var t and > 0
            ? new DateTimeOffset(t, TimeSpan.Zero)
            : null;

    public string? QueueError => Volatile.Read(ref _queueError);

    public bool Stopping { get; set; }

    public void QueueReachable()
    {
        Interlocked.Exchange(ref _queueOkTicks, DateTimeOffset.UtcNow.UtcTicks);
        Volatile.Write(ref _queueError, null);
    }

    public void QueueUnreachable(string error) => Volatile.Write(ref _queueError, error);

    public void WorkerStarted() => Interlocked.Increment(ref _workersAlive);

    public void WorkerStopped() => Interlocked.Decrement(ref _workersAlive);

    /// <summary>The queue must have answered within this long to be called reachable.</summary>
    public bool QueueHealthy(TimeSpan within) =>
        QueueError is null && QueueOkAt is { } at && DateTimeOffset.UtcNow - at < within;
}
