using Microkernel.Contracts;
using Microkernel.Host.Isolation;
using Microkernel.Host.Plugins;
using Microsoft.Extensions.Logging;

namespace Microkernel.Host.Running;

/// <summary>A module of a <see cref="PluginSet"/>, with what runs it.</summary>
/// <param name="Executor">Null for a process plugin left unloaded because its section is off: it is only ever skipped.</param>
internal sealed record PlannedModule(
    ModuleDescriptor Module,
    IModuleExecutor? Executor,
    string Isolation
);

/// <summary>
/// The plugins of one run (or one <c>modules</c> listing), split by isolation: in-process
/// plugins in the host's collectible contexts, the others in workers. One place loads them,
/// orders their modules and unloads them, so the runner and the CLI cannot drift apart.
/// </summary>
internal sealed class PluginSet
{
    private readonly InProcessPluginSession _inProcess;
    private readonly IsolatedPluginSession? _isolated;

    private PluginSet(
        InProcessPluginSession inProcess,
        IsolatedPluginSession? isolated,
        IReadOnlyList<PlannedModule> modules,
        IReadOnlyList<PluginLoadFailure> failures
    )
    {
        _inProcess = inProcess;
        _isolated = isolated;
        Modules = modules;
        Failures = failures;
    }

    /// <summary>Every module in Cuckoo's run order.</summary>
    public IReadOnlyList<PlannedModule> Modules { get; }

    public IReadOnlyList<PluginLoadFailure> Failures { get; }

    /// <summary>Loads the plugins under <paramref name="pluginsPath"/>; failures are collected, never thrown.</summary>
    /// <param name="includeDisabled">Also start workers for process plugins whose section is off (a listing wants their classes).</param>
    /// <param name="keptInProcess">The in-process plugins a previous run of the same folder and configuration kept loaded; null loads them.</param>
    /// <param name="catalog">The folder's plugins as a previous scan found them (an immutable folder); null scans it.</param>
    public static async Task<PluginSet> LoadAsync(
        string pluginsPath,
        ConfFile? conf,
        bool includeDisabled,
        ILoggerFactory loggerFactory,
        ILogger logger,
        CancellationToken cancellationToken,
        InProcessPluginSession? keptInProcess = null,
        IReadOnlyList<PluginFolder>? catalog = null
    )
    {
        var (inProcessFolders, isolatedPlugins, policyFailures, notLoaded) =
            IsolationPolicy.Partition(
                catalog ?? PluginCatalog.Scan(pluginsPath),
                conf,
                includeDisabled,
                logger
            );
        // Worker start-up overlaps the in-process loading.
        var isolatedLoad =
            isolatedPlugins.Count > 0
                ? IsolatedPluginSession.LoadAsync(isolatedPlugins, loggerFactory, cancellationToken)
                : null;
        var inProcess = keptInProcess ?? InProcessPluginSession.Load(inProcessFolders, logger);
        var isolated = isolatedLoad is null ? null : await isolatedLoad.ConfigureAwait(false);

        var inProcessExecutor = new InProcessModuleExecutor(inProcess);
        var modules = inProcess
            .Modules.Select(m => new PlannedModule(m, inProcessExecutor, "in-process"))
            .Concat(
                (isolated?.Modules ?? []).Select(m => new PlannedModule(m, isolated, "process"))
            )
            .Concat(
                notLoaded.Select(f => new PlannedModule(
                    IsolationPolicy.NotLoaded(f),
                    null,
                    "process"
                ))
            )
            .OrderBy(m => m.Module, ModuleDescriptor.RunOrder)
            .ToList();
        var failures = policyFailures
            .Concat(inProcess.Failures)
            .Concat(isolated?.Failures ?? [])
            .ToList();
        return new PluginSet(inProcess, isolated, modules, failures);
    }

    /// <summary>Unloads every context, in the host and in the workers, and reports the proof.</summary>
    /// <param name="releaseInProcess">What becomes of the in-process contexts instead (a daemon worker may keep them); null unloads them.</param>
    public async Task<UnloadReport> UnloadAsync(
        int gcRounds,
        Func<InProcessPluginSession, UnloadReport>? releaseInProcess = null
    )
    {
        var unload = releaseInProcess is null
            ? _inProcess.UnloadAndVerify(gcRounds)
            : releaseInProcess(_inProcess);
        return _isolated is null
            ? unload
            : UnloadReport.Combine(
                unload,
                await _isolated.UnloadAsync(gcRounds).ConfigureAwait(false)
            );
    }
}
