namespace Microkernel.Host.Queue;

/// <summary>The life of a task: <c>pending</c> -> <c>processing</c> -> <c>reported</c> | <c>failed_processing</c>.</summary>
internal static class QueueStatus
{
    public const string Pending = "pending";
    public const string Processing = "processing";
    public const string Reported = "reported";
    public const string FailedProcessing = "failed_processing";

    public static readonly IReadOnlyList<string> All =
    [
        Pending,
        Processing,
        Reported,
        FailedProcessing,
    ];

    public static bool IsKnown(string status) => All.Contains(status, StringComparer.Ordinal);
}

/// <summary>One row of the queue. Times are UTC.</summary>
/// <param name="Attempts">Claims so far; the current claim's number while <c>processing</c> (it fences the claim: a node whose lease was taken back cannot write).</param>
/// <param name="Node">The node holding the claim while <c>processing</c>.</param>
internal sealed record QueueTask(
    long Id,
    string AnalysisPath,
    int Priority,
    string Status,
    int Attempts,
    string? Node,
    DateTimeOffset? LeaseExpires,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    string? LastError
);

/// <summary>One transition in a task's history (<c>submitted</c>, <c>claimed</c>, <c>reported</c>, <c>reclaimed</c>...).</summary>
internal sealed record QueueEvent(
    long TaskId,
    string Event,
    string? Node,
    int Attempt,
    DateTimeOffset At,
    string? Detail
);

/// <summary>What happened to expired leases in one sweep.</summary>
internal sealed record ReclaimedTask(long Id, string Status, int Attempts, string? Reason);

/// <summary>The queue database cannot be used (unreachable, newer schema, bad connection string).</summary>
internal sealed class QueueUnavailableException(string message, Exception? inner = null)
    : Exception(message, inner);
