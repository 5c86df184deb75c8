using Microkernel.Contracts;
using Microkernel.Host.Plugins;

namespace Microkernel.Host.Isolation;

/// <summary>Where a module runs.</summary>
internal enum IsolationMode
{
    InProcess,
    Process,
}

/// <summary>
/// Reads <c>isolation</c> and <c>memory_limit</c> from a plugin's section. The plugins this
/// project ships run in process unless told otherwise; anything else runs in a worker process,
/// because a load context is no fault boundary against <c>Environment.Exit</c> or a stack overflow.
/// </summary>
internal static class IsolationPolicy
{
    public const long DefaultMemoryLimitMiB = 2048;

    private static readonly HashSet<string> Shipped = new(StringComparer.Ordinal)
    {
        "AnalysisInfo",
        "Behavior",
        "Debug",
        "Dropped",
        "Memory",
        "Network",
        "Static",
        "Strings",
        "TargetInfo",
        "VirusTotal",
    };

    /// <summary>A plugin this project ships: its folder and assembly carry the project's names.</summary>
    public static bool IsShipped(PluginFolder folder) =>
        Shipped.Contains(folder.Name)
        && Path.GetFileName(folder.MainAssemblyPath) == $"Microkernel.Plugins.{folder.Name}.dll";

    /// <summary>The mode and memory cap for <paramref name="folder"/>, or the reason its section is unusable.</summary>
    public static (IsolationMode Mode, long MemoryLimitMiB, string? Problem) Resolve(
        PluginFolder folder,
        ModuleOptions? section
    )
    {
        var fallback = IsShipped(folder) ? IsolationMode.InProcess : IsolationMode.Process;
        var raw = section?.GetString("isolation");
        IsolationMode mode;
        switch (raw?.Trim().ToLowerInvariant())
        {
            case null or "":
                mode = fallback;
                break;
            case "in-process" or "inprocess" or "in_process":
                mode = IsolationMode.InProcess;
                break;
            case "process":
                mode = IsolationMode.Process;
                break;
            default:
                return (
                    fallback,
                    0,
                    $"{section!.Source} [{section.Section}] isolation = '{raw}': expected 'in-process' or 'process'"
                );
        }
        long memoryLimit;
        try
        {
            memoryLimit =
                section?.GetInt64("memory_limit", DefaultMemoryLimitMiB) ?? DefaultMemoryLimitMiB;
        }
        catch (ProcessingException ex)
        {
            return (mode, 0, ex.Message);
        }
        if (memoryLimit < 64)
        {
            return (
                mode,
                0,
                $"{section!.Source} [{section.Section}] memory_limit = {memoryLimit}: give at least 64 (MiB)"
            );
        }
        return (mode, memoryLimit, null);
    }
}
