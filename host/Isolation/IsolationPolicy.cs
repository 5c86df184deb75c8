using Microkernel.Contracts;
using Microkernel.Host.Plugins;
using Microsoft.Extensions.Logging;

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

    /// <summary>
    /// Stands for the modules of a process plugin that was not loaded because its section is
    /// missing or disabled: the run still records it as skipped, under its folder name.
    /// </summary>
    public static ModuleDescriptor NotLoaded(PluginFolder folder) =>
        new(
            folder.Name,
            folder.Section,
            folder.Name,
            folder.Section,
            int.MaxValue,
            ClassEnabled: true,
            Version: "not loaded",
            folder.MainAssemblyPath!
        );

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

    /// <summary>Splits plugin folders by where their modules run; a section with a bad isolation setting is a load failure. Process plugins whose section is disabled are left out unless <paramref name="includeDisabled"/>.</summary>
    public static (
        List<PluginFolder> InProcess,
        List<IsolatedPlugin> Isolated,
        List<PluginLoadFailure> Failures,
        List<PluginFolder> NotLoaded
    ) Partition(
        IReadOnlyList<PluginFolder> folders,
        ConfFile? conf,
        bool includeDisabled,
        ILogger logger
    )
    {
        var inProcess = new List<PluginFolder>();
        var isolated = new List<IsolatedPlugin>();
        var failures = new List<PluginLoadFailure>();
        var notLoaded = new List<PluginFolder>();
        foreach (var folder in folders)
        {
            if (folder.Problem is not null || folder.MainAssemblyPath is null)
            {
                inProcess.Add(folder); // the in-process loader reports why it is unusable
                continue;
            }
            var section = conf?.GetSection(folder.Section);
            var (mode, memoryLimit, problem) = IsolationPolicy.Resolve(folder, section);
            if (problem is not null)
            {
                logger.LogWarning("Plugin {Plugin} skipped: {Reason}", folder.Name, problem);
                failures.Add(new PluginLoadFailure(folder.Name, problem));
            }
            else if (mode == IsolationMode.InProcess)
            {
                inProcess.Add(folder);
            }
            else if (
                includeDisabled
                || section is not null
                    && ModuleOptions.TryParseBoolean(
                        section.GetString("enabled", "no")!,
                        out var on
                    )
                    && on
            )
            {
                isolated.Add(new IsolatedPlugin(folder, memoryLimit));
            }
            else
            {
                // Starting a worker only to learn the class names of a disabled plugin is not worth it.
                notLoaded.Add(folder);
                logger.LogDebug(
                    "Plugin {Plugin} (isolation = process) not loaded: its section is missing or disabled",
                    folder.Name
                );
            }
        }
        return (inProcess, isolated, failures, notLoaded);
    }
}
