namespace Microkernel.Host.Plugins;

/// <summary>What the host knows about one processing module: plain data, no plugin types.</summary>
internal sealed record ModuleDescriptor(
    string Plugin,
    string Section,
    string ClassName,
    string Key,
    int Order,
    bool ClassEnabled,
    string Version,
    string AssemblyPath
)
{
    /// <summary>Cuckoo's run order: <c>order</c>, then class name, case-insensitive.</summary>
    public static readonly IComparer<ModuleDescriptor> RunOrder = Comparer<ModuleDescriptor>.Create(
        (a, b) =>
        {
            var byOrder = a.Order.CompareTo(b.Order);
            return byOrder != 0
                ? byOrder
                : StringComparer.OrdinalIgnoreCase.Compare(a.ClassName, b.ClassName);
        }
    );
}

/// <summary>A plugin (or one class of it) that could not be loaded, and why.</summary>
internal sealed record PluginLoadFailure(string Plugin, string Reason);

/// <summary>How the unload of a run's plugin contexts went.</summary>
/// <param name="Kept">Contexts left loaded for the worker's next run; unloaded and verified when the worker retires them.</param>
internal sealed record UnloadReport(
    int Contexts,
    int Unloaded,
    IReadOnlyList<string> Leaked,
    int GcRounds,
    TimeSpan Elapsed,
    int Kept = 0
)
{
    public static readonly UnloadReport None = new(0, 0, [], 0, TimeSpan.Zero);

    /// <summary>A run's contexts kept loaded for the next run.</summary>
    public static UnloadReport KeptLoaded(int contexts) =>
        new(contexts, 0, [], 0, TimeSpan.Zero, contexts);

    /// <summary>The in-process and the workers' reports as one.</summary>
    public static UnloadReport Combine(UnloadReport a, UnloadReport b) =>
        new(
            a.Contexts + b.Contexts,
            a.Unloaded + b.Unloaded,
            [.. a.Leaked, .. b.Leaked],
            Math.Max(a.GcRounds, b.GcRounds),
            a.Elapsed + b.Elapsed,
            a.Kept + b.Kept
        );
}
