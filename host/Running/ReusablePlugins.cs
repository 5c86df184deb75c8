using System.Diagnostics;
using Microkernel.Host.Plugins;
using Microkernel.Host.Telemetry;
using Microsoft.Extensions.Logging;

namespace Microkernel.Host.Running;

/// <summary>
/// A daemon worker's in-process plugins, kept loaded from one task to the next. Plugin code in a
/// collectible context is compiled afresh in every new context (no ReadyToRun code), and on a
/// small analysis that compilation is most of the task's CPU time; keeping the contexts lets the
/// worker's second task run on compiled code. Each run still gets new module instances.
/// </summary>
/// <remarks>
/// The kept plugins are unloaded, and the unload verified, as soon as they no longer fit: the
/// plugins folder (a hot reload) or <c>processing.conf</c> changed, they served
/// <c>maxRuns</c> runs, a run left something behind (a module timed out, was abandoned or
/// cancelled, or threw), or the worker stops. One instance per worker, used by one run at a time.
/// </remarks>
internal sealed class ReusablePlugins(int maxRuns, int gcRounds, ILogger logger) : IDisposable
{
    private InProcessPluginSession? _session;
    private string? _confFingerprint;
    private int _runs;
    private IDisposable? _pin;
    private (string Path, IReadOnlyList<PluginFolder> Folders)? _catalog;

    /// <summary>The plugins folder the kept contexts came from, or null when none are kept.</summary>
    public string? PluginsPath { get; private set; }

    /// <summary>
    /// The plugins of <paramref name="pluginsPath"/>, scanned once per folder: the daemon's
    /// folders are immutable snapshots, and reading every plugin's metadata again for each task
    /// was a sixth of a kept task's time.
    /// </summary>
    public IReadOnlyList<PluginFolder> Catalog(string pluginsPath)
    {
        if (_catalog is not { } catalog || catalog.Path != pluginsPath)
        {
            catalog = (pluginsPath, PluginCatalog.Scan(pluginsPath));
            _catalog = catalog;
        }
        return catalog.Folders;
    }

    /// <summary>
    /// The kept session when it was loaded from <paramref name="pluginsPath"/> with the same
    /// configuration and may serve another run; otherwise retires what is kept and returns null.
    /// </summary>
    public InProcessPluginSession? Take(string pluginsPath, string confFingerprint)
    {
        if (_session is null)
        {
            return null;
        }
        var reason =
            PluginsPath != pluginsPath ? "the plugins were reloaded"
            : _confFingerprint != confFingerprint ? "processing.conf changed"
            : _runs >= maxRuns ? $"they served {_runs} runs"
            : null;
        if (reason is not null)
        {
            Retire(reason);
            return null;
        }
        _runs++;
        _session.BeginNextRun();
        return _session;
    }

    /// <summary>
    /// After a run: keeps <paramref name="session"/> for the next one when the run was clean,
    /// otherwise unloads it now. Returns the run's report of its in-process contexts.
    /// </summary>
    /// <param name="pin">Keeps the plugin files in place while they stay loaded (taken only for a newly kept session).</param>
    public UnloadReport Release(
        InProcessPluginSession session,
        string pluginsPath,
        string confFingerprint,
        bool clean,
        Func<IDisposable?> pin
    )
    {
        if (!clean || session.HasAbandoned || maxRuns <= 1 || session.Contexts == 0)
        {
            var pinned = ReferenceEquals(session, _session) ? Forget() : null;
            try
            {
                return session.UnloadAndVerify(gcRounds);
            }
            finally
            {
                pinned?.Dispose();
            }
        }
        if (!ReferenceEquals(session, _session))
        {
            Retire("a newer set replaces them");
            _session = session;
            PluginsPath = pluginsPath;
            _confFingerprint = confFingerprint;
            _runs = 1;
            _pin = pin();
        }
        return UnloadReport.KeptLoaded(session.Contexts);
    }

    /// <summary>Unloads the kept contexts, verifies it, logs and counts the outcome.</summary>
    public UnloadReport Retire(string reason)
    {
        var session = _session;
        if (session is null)
        {
            return UnloadReport.None;
        }
        var runs = _runs;
        using var pinned = Forget();
        using var activity = MicrokernelTelemetry.Source.StartActivity("plugins.retire");
        var started = Stopwatch.GetTimestamp();
        var unload = session.UnloadAndVerify(gcRounds);
        activity?.SetTag("microkernel.plugins.contexts", unload.Contexts);
        activity?.SetTag("microkernel.plugins.leaked", unload.Leaked.Count);
        activity?.SetTag("microkernel.plugins.runs", runs);
        if (unload.Leaked.Count > 0)
        {
            MicrokernelTelemetry.UnloadFailures.Add(unload.Leaked.Count);
            logger.LogError(
                "Kept plugins retired ({Reason}) after {Runs} runs: contexts not unloaded after {Rounds} collections: {Plugins}",
                reason,
                runs,
                unload.GcRounds,
                string.Join(", ", unload.Leaked)
            );
        }
        else
        {
            logger.LogInformation(
                "Kept plugins retired ({Reason}) after {Runs} runs: {Unloaded} of {Contexts} contexts unloaded and verified in {Milliseconds:0.0} ms",
                reason,
                runs,
                unload.Unloaded,
                unload.Contexts,
                Stopwatch.GetElapsedTime(started).TotalMilliseconds
            );
        }
        return unload;
    }

    /// <summary>Drops the kept session; returns its pin, to release once the contexts are gone.</summary>
    private IDisposable? Forget()
    {
        var pin = _pin;
        _session = null;
        PluginsPath = null;
        _confFingerprint = null;
        _runs = 0;
        _pin = null;
        return pin;
    }

    /// <summary>The worker stops: unload what is kept.</summary>
    public void Dispose() => Retire("the worker stopped");
}
