namespace Microkernel.Contracts;

/// <summary>
/// The task an analysis belongs to, read from <c>analysis.conf</c> or, failing that, Cuckoo's
/// <c>task.json</c>. Fields the source lacks are <c>null</c>.
/// </summary>
public sealed class TaskInfo
{
    /// <summary>Task id.</summary>
    public int Id { get; init; }

    /// <summary><c>file</c>, <c>url</c>, <c>archive</c>...</summary>
    public string Category { get; init; } = "file";

    /// <summary>The submitted target: a file path or a URL.</summary>
    public string? Target { get; init; }

    /// <summary>Analysis package (<c>exe</c>, <c>pdf</c>...).</summary>
    public string? Package { get; init; }

    /// <summary>Task options, Cuckoo's <c>key=value,key=value</c> string parsed into a dictionary.</summary>
    public IReadOnlyDictionary<string, string> Options { get; init; } =
        new Dictionary<string, string>();

    /// <summary>The task's <c>custom</c> field.</summary>
    public string? Custom { get; init; }

    /// <summary>The submitting user.</summary>
    public string? Owner { get; init; }

    /// <summary>Requested machine label.</summary>
    public string? Machine { get; init; }

    /// <summary>Requested platform.</summary>
    public string? Platform { get; init; }

    /// <summary>Network routing (<c>none</c>, <c>internet</c>...).</summary>
    public string? Route { get; init; }

    /// <summary>Analysis timeout in seconds.</summary>
    public int? Timeout { get; init; }

    /// <summary>Analysis duration in seconds, when known.</summary>
    public int? Duration { get; init; }

    /// <summary>When the task was added.</summary>
    public DateTimeOffset? AddedOn { get; init; }

    /// <summary>When the analysis started.</summary>
    public DateTimeOffset? StartedOn { get; init; }

    /// <summary>When the analysis completed.</summary>
    public DateTimeOffset? CompletedOn { get; init; }

    /// <summary>The guest clock the analysis was run with.</summary>
    public DateTimeOffset? Clock { get; init; }

    /// <summary>The guest machine row (name, label, manager, started_on, shutdown_on...), when known.</summary>
    public IReadOnlyDictionary<string, string?> Guest { get; init; } =
        new Dictionary<string, string?>();

    /// <summary>Every key of the source as text, for fields without a property (e.g. <c>file_name</c>).</summary>
    public IReadOnlyDictionary<string, string> Raw { get; init; } =
        new Dictionary<string, string>();

    /// <summary>Where the task was read from: <c>analysis.conf</c>, <c>task.json</c>, or <c>none</c>.</summary>
    public string Source { get; init; } = "none";
}
