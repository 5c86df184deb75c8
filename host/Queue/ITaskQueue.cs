namespace Microkernel.Host.Queue;

/// <summary>
/// The durable task queue shared by <c>submit</c>, <c>tasks</c>, <c>requeue</c> and every <c>serve</c>
/// node. Processing is at-least-once; every state change after a claim is fenced by
/// (node, attempt), so a node that lost its lease can never overwrite the final status.
/// </summary>
internal interface ITaskQueue : IAsyncDisposable
{
    /// <summary>Human-readable location (file path or host/database; never a password).</summary>
    string Description { get; }

    /// <summary>Creates or upgrades the schema; safe when several nodes start at once.</summary>
    Task MigrateAsync(CancellationToken cancellationToken = default);

    Task<long> SubmitAsync(
        string analysisPath,
        int priority,
        CancellationToken cancellationToken = default
    );

    /// <summary>Takes the most urgent pending task (highest priority, then oldest), or null.</summary>
    Task<QueueTask?> ClaimAsync(
        string node,
        TimeSpan lease,
        CancellationToken cancellationToken = default
    );

    /// <summary>Extends the claim; false when the claim was lost (lease expired and reclaimed).</summary>
    Task<bool> RenewAsync(
        QueueTask claimed,
        TimeSpan lease,
        CancellationToken cancellationToken = default
    );

    /// <summary>Writes the final status (<c>reported</c> or <c>failed_processing</c>) once; false when the claim was lost.</summary>
    Task<bool> FinishAsync(
        QueueTask claimed,
        string status,
        string? error,
        CancellationToken cancellationToken = default
    );

    /// <summary>Puts a failed attempt back to <c>pending</c> with its error, for another try.</summary>
    Task<bool> RetryAsync(
        QueueTask claimed,
        string error,
        CancellationToken cancellationToken = default
    );

    /// <summary>Gives the task back without counting the attempt (shutdown).</summary>
    Task<bool> ReleaseAsync(QueueTask claimed, CancellationToken cancellationToken = default);

    /// <summary>Takes back tasks whose lease expired: <c>pending</c> again, or <c>failed_processing</c> after <paramref name="maxAttempts"/>.</summary>
    Task<IReadOnlyList<ReclaimedTask>> ReclaimExpiredAsync(
        int maxAttempts,
        CancellationToken cancellationToken = default
    );

    Task<QueueTask?> GetAsync(long id, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<QueueTask>> ListAsync(
        string? status,
        int limit,
        CancellationToken cancellationToken = default
    );

    /// <summary>Tasks per status (every status present, zeros included).</summary>
    Task<IReadOnlyDictionary<string, long>> CountAsync(
        CancellationToken cancellationToken = default
    );

    Task<IReadOnlyList<QueueEvent>> HistoryAsync(
        long? taskId,
        CancellationToken cancellationToken = default
    );

    /// <summary>Back to <c>pending</c> with attempts reset; only finished tasks. Returns how many.</summary>
    Task<int> RequeueAsync(long id, CancellationToken cancellationToken = default);

    /// <summary>Every <c>failed_processing</c> task back to <c>pending</c>. Returns how many.</summary>
    Task<int> RequeueFailedAsync(CancellationToken cancellationToken = default);
}
