using System.Diagnostics;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.Loader;
using Microkernel.Contracts;
using Microsoft.Extensions.Logging;

namespace Microkernel.Host.Plugins;

/// <summary>
/// The in-process plugins of one run (or of a daemon worker's runs, see
/// <c>Running.ReusablePlugins</c>), each loaded into its own collectible load context. Only the
/// contracts and the logging abstractions are shared with the host. Unloading the session
/// unloads every context and proves it with weak references and a bounded GC loop.
/// </summary>
internal sealed class InProcessPluginSession
{
    private static readonly Type[] SharedTypes = [typeof(Processing), typeof(ILogger)];

    private readonly List<LoadedPlugin> _plugins = [];
    private readonly List<ModuleDescriptor> _modules = [];
    private readonly List<PluginLoadFailure> _failures = [];
    private readonly Dictionary<ModuleDescriptor, Processing> _instances = [];
    private readonly Dictionary<ModuleDescriptor, Type> _types = [];
    private readonly HashSet<ModuleDescriptor> _taken = [];
    private readonly HashSet<string> _abandoned = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    private InProcessPluginSession() { }

    public IReadOnlyList<ModuleDescriptor> Modules => _modules;

    public IReadOnlyList<PluginLoadFailure> Failures => _failures;

    /// <summary>Loads every usable folder; failures are collected, never thrown.</summary>
    public static InProcessPluginSession Load(IEnumerable<PluginFolder> folders, ILogger logger)
    {
        var session = new InProcessPluginSession();
        foreach (var folder in folders)
        {
            if (folder.Problem is not null || folder.MainAssemblyPath is null)
            {
                session.Fail(folder.Name, folder.Problem ?? "no plugin assembly", logger);
                continue;
            }
            session.LoadPlugin(folder, logger);
        }
        return session;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void LoadPlugin(PluginFolder folder, ILogger logger)
    {
        AssemblyLoadContext? context = null;
        try
        {
            // Mapped from disk (cheaper than copying into memory): the daemon loads from
            // immutable snapshots, so nothing overwrites a loaded file.
            context = PluginLoadContexts.Create(folder.MainAssemblyPath!, SharedTypes);
            var assembly = context.LoadFromAssemblyPath(folder.MainAssemblyPath!);
            var version =
                assembly
                    .GetCustomAttribute<AssemblyInformationalVersionAttribute>()
                    ?.InformationalVersion
                ?? assembly.GetName().Version?.ToString()
                ?? "0.0.0";
            var found = 0;
            foreach (var type in ExportedTypes(assembly))
            {
                if (type.IsAbstract || !type.IsClass)
                {
                    continue;
                }
                if (!typeof(Processing).IsAssignableFrom(type))
                {
                    if (DerivesFromForeignProcessing(type))
                    {
                        Fail(
                            folder.Name,
                            $"{type.FullName} derives from a Processing type that is not the host's (the plugin ships its own Microkernel.Contracts.dll; delete it or reference the contracts with Private=false)",
                            logger
                        );
                    }
                    continue;
                }
                found++;
                AddModule(folder, type, version, logger);
            }
            if (found == 0 && !_failures.Exists(f => f.Plugin == folder.Name))
            {
                Fail(
                    folder.Name,
                    $"{Path.GetFileName(folder.MainAssemblyPath)} holds no public class deriving from Processing",
                    logger
                );
            }
            _plugins.Add(
                new LoadedPlugin(
                    folder.Name,
                    context,
                    new WeakReference(context, trackResurrection: true)
                )
            );
            context = null;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Fail(folder.Name, Describe(ex), logger);
        }
        finally
        {
            context?.Unload();
        }
    }

    private static IEnumerable<Type> ExportedTypes(Assembly assembly)
    {
        try
        {
            return assembly.GetExportedTypes();
        }
        catch (ReflectionTypeLoadException ex)
        {
            var reasons = ex
                .LoaderExceptions.Where(e => e is not null)
                .Select(e => e!.Message)
                .Distinct();
            throw new InvalidOperationException(
                $"types could not be loaded: {string.Join("; ", reasons)}"
            );
        }
    }

    private static bool DerivesFromForeignProcessing(Type type)
    {
        for (var t = type.BaseType; t is not null; t = t.BaseType)
        {
            if (t.FullName == typeof(Processing).FullName)
            {
                return true;
            }
        }
        return false;
    }

    private void AddModule(PluginFolder folder, Type type, string version, ILogger logger)
    {
        try
        {
            if (type.GetConstructor(Type.EmptyTypes) is null)
            {
                Fail(
                    folder.Name,
                    $"{type.FullName} has no public parameterless constructor",
                    logger
                );
                return;
            }
            var instance = (Processing)Activator.CreateInstance(type)!;
            var key = instance.Key;
            if (string.IsNullOrWhiteSpace(key))
            {
                Fail(folder.Name, $"{type.FullName} has an empty Key", logger);
                return;
            }
            var descriptor = new ModuleDescriptor(
                folder.Name,
                folder.Section,
                type.Name,
                key,
                instance.Order,
                instance.Enabled,
                version,
                folder.MainAssemblyPath!
            );
            _modules.Add(descriptor);
            _instances[descriptor] = instance;
            _types[descriptor] = type;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Fail(folder.Name, $"{type.FullName} could not be created: {Describe(ex)}", logger);
        }
    }

    private void Fail(string plugin, string reason, ILogger logger)
    {
        logger.LogWarning("Plugin {Plugin} skipped: {Reason}", plugin, reason);
        _failures.Add(new PluginLoadFailure(plugin, reason));
        Telemetry.MicrokernelTelemetry.PluginLoadFailures.Add(
            1,
            new KeyValuePair<string, object?>("microkernel.plugin", plugin)
        );
    }

    private static string Describe(Exception ex) =>
        ex is TargetInvocationException { InnerException: { } inner }
            ? Describe(inner)
            : $"{ex.GetType().Name}: {ex.Message}";

    /// <summary>
    /// Hands out a module's instance, once per run: the one made while loading on the first
    /// run, a new one on each later run of a kept session (as Cuckoo makes one per task).
    /// </summary>
    /// <exception cref="InvalidOperationException">The module already ran in this run.</exception>
    public Processing TakeInstance(ModuleDescriptor module)
    {
        Type type;
        lock (_lock)
        {
            if (!_taken.Add(module))
            {
                throw new InvalidOperationException(
                    $"Module {module.ClassName} was already run in this session."
                );
            }
            // The session forgets the instance it hands out, so only the run holds it.
            if (_instances.Remove(module, out var instance))
            {
                return instance;
            }
            type = _types[module];
        }
        return (Processing)Activator.CreateInstance(type)!;
    }

    /// <summary>Lets every module run once more: the session is kept for another run.</summary>
    public void BeginNextRun()
    {
        lock (_lock)
        {
            _taken.Clear();
        }
    }

    /// <summary>A module of this session ignored its cancellation and may still be running.</summary>
    public bool HasAbandoned
    {
        get
        {
            lock (_lock)
            {
                return _abandoned.Count > 0;
            }
        }
    }

    /// <summary>How many plugin contexts the session holds.</summary>
    public int Contexts
    {
        get
        {
            lock (_lock)
            {
                return _plugins.Count;
            }
        }
    }

    /// <summary>Marks a plugin whose module still runs after its time ran out: its context cannot unload.</summary>
    public void MarkAbandoned(ModuleDescriptor module)
    {
        lock (_lock)
        {
            _abandoned.Add(module.Plugin);
        }
    }

    /// <summary>Unloads every context and waits, up to <paramref name="gcRounds"/> collections, for each to be collected.</summary>
    public UnloadReport UnloadAndVerify(int gcRounds)
    {
        var stopwatch = Stopwatch.StartNew();
        var references = ReleaseAll();
        if (references.Count == 0)
        {
            return UnloadReport.None;
        }
        var rounds = 0;
        // Contexts held by abandoned modules will not go; do not spend the GC budget on them.
        var waitFor = references.Where(r => !r.Abandoned).ToList();
        while (rounds < gcRounds && waitFor.Exists(r => r.Context.IsAlive))
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            rounds++;
        }
        var leaked = references.Where(r => r.Context.IsAlive).Select(r => r.Plugin).ToList();
        return new UnloadReport(
            references.Count,
            references.Count - leaked.Count,
            leaked,
            rounds,
            stopwatch.Elapsed
        );
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private List<(string Plugin, WeakReference Context, bool Abandoned)> ReleaseAll()
    {
        lock (_lock)
        {
            _instances.Clear();
            _types.Clear();
            var references = new List<(string, WeakReference, bool)>();
            foreach (var plugin in _plugins)
            {
                plugin.Context.Unload();
                references.Add(
                    (plugin.Name, plugin.ContextReference, _abandoned.Contains(plugin.Name))
                );
            }
            _plugins.Clear();
            return references;
        }
    }

    private sealed record LoadedPlugin(
        string Name,
        AssemblyLoadContext Context,
        WeakReference ContextReference
    );
}
