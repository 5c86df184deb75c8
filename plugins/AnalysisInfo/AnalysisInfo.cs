using System.Reflection;
using Microkernel.Contracts;

namespace Microkernel.Plugins.AnalysisInfo;

/// <summary>
/// Cuckoo 2.0's <c>AnalysisInfo</c> (<c>info</c>): timestamps, version and task fields.
/// </summary>
public sealed class AnalysisInfo : Processing
{
    /// <inheritdoc />
    public override string Key => "info";

    /// <inheritdoc />
    public override Task<object?> RunAsync(CancellationToken cancellationToken)
    {
        var task = TaskInfo;
        var info = new Dictionary<string, object?>
        {
            ["version"] = MicrokernelVersion(),
            // Cuckoo reads these from its working directory; a Microkernel analysis has none.
            ["git"] = null,
            ["monitor"] = task.Options.TryGetValue("monitor", out var monitor) ? monitor : null,
            ["added"] = task.AddedOn,
            ["started"] = task.StartedOn,
            ["ended"] = task.CompletedOn is { } ended ? ended : "none",
            ["duration"] = Duration(task),
            ["id"] = task.Id,
            ["category"] = task.Category,
            ["custom"] = task.Custom,
            ["owner"] = task.Owner,
            ["machine"] = task.Guest.Count > 0 ? task.Guest : null,
            ["package"] = task.Package,
            ["platform"] = task.Platform,
            ["route"] = task.Route,
            ["options"] = string.Join(",", task.Options.Select(o => $"{o.Key}={o.Value}")),
        };
        return Task.FromResult<object?>(info);
    }

    private static int Duration(TaskInfo task)
    {
        if (task.Duration is { } duration)
        {
            return duration;
        }
        if (task.StartedOn is { } started && task.CompletedOn is { } completed)
        {
            return (int)(completed - started).TotalSeconds;
        }
        return -1;
    }

    private static string MicrokernelVersion() =>
        typeof(Processing)
            .Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()
            ?.InformationalVersion.Split('+')[0]
        ?? "unknown";
}
