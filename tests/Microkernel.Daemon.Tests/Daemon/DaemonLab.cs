using System.Globalization;
using System.Text.Json;
using Microkernel.Host.Configuration;
using Microkernel.Host.Queue;
using Microkernel.Host.Tests;

namespace Microkernel.Daemon.Tests.Daemon;

/// <summary>A plugin lab plus what <c>serve</c> needs: storage, a queue, analysis folders, daemon arguments.</summary>
internal sealed class DaemonLab : IAsyncDisposable
{
    private readonly List<MicrokernelProcess> _processes = [];

    public DaemonLab(string? queueConnectionString, params string[] fixtures)
    {
        Lab = new PluginLab(fixtures);
        QueueConnectionString =
            queueConnectionString ?? $"Data Source={Path.Combine(StoragePath, "queue.db")}";
        Queue = TaskQueueFactory.Create(
            new MicrokernelOptions { QueueConnectionString = QueueConnectionString }
        );
    }

    public PluginLab Lab { get; }

    public string QueueConnectionString { get; }

    public ITaskQueue Queue { get; }

    public string Root => Path.GetDirectoryName(Lab.PluginsPath)!;

    public string StoragePath => Path.Combine(Root, "storage");

    /// <summary>A new analysis folder with its own task id.</summary>
    public string NewAnalysis(int id)
    {
        var path = Path.Combine(Root, "analyses", id.ToString(CultureInfo.InvariantCulture));
        Directory.CreateDirectory(path);
        File.WriteAllText(
            Path.Combine(path, "analysis.conf"),
            $"[analysis]\nid = {id}\ncategory = file\n"
        );
        return path;
    }

    public static string ReportOf(string analysis) =>
        Path.Combine(analysis, "reports", "report.json");

    public static JsonDocument ReadReport(string analysis) =>
        JsonDocument.Parse(File.ReadAllBytes(ReportOf(analysis)));

    /// <summary>The common options of every command, pointed at this lab.</summary>
    public string[] Args(params string[] command) =>
        [
            "--plugins",
            Lab.PluginsPath,
            "--conf",
            Lab.ConfPath,
            "--set",
            $"StoragePath={StoragePath}",
            .. command,
            "--queue",
            QueueConnectionString,
        ];

    /// <summary>Starts <c>serve</c> with test-sized timings; <paramref name="settings"/> are extra <c>--set</c> pairs.</summary>
    public MicrokernelProcess Serve(int workers = 1, params string[] settings)
    {
        List<string> args =
        [
            .. Args("serve", "--workers", workers.ToString(CultureInfo.InvariantCulture)),
            "-v",
        ];
        foreach (
            var setting in (string[])
                [
                    "LeaseSeconds=2",
                    "PollIntervalSeconds=0.2",
                    "HealthPort=0",
                    "MetricsPort=0",
                    // UnloadGcRounds stays the host's default: with fewer rounds, a context that is
                    // only slow to unload on a loaded machine is reported as leaked.
                    .. settings,
                ]
        )
        {
            args.Add("--set");
            args.Add(setting);
        }
        var process = MicrokernelProcess.Start([.. args]);
        _processes.Add(process);
        return process;
    }

    public async Task<IReadOnlyDictionary<string, long>> WaitForAsync(
        Func<IReadOnlyDictionary<string, long>, bool> condition,
        TimeSpan timeout,
        Func<string>? context = null
    )
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var counts = await Queue.CountAsync();
            if (condition(counts))
            {
                return counts;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException(
                    $"Queue never reached the expected state: {string.Join(", ", counts)}\n{context?.Invoke()}"
                );
            }
            await Task.Delay(100);
        }
    }

    public string AllOutput() =>
        string.Join("\n----\n", _processes.Select(p => $"[pid {p.Id}]\n{p.Output}"));

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            process.Dispose();
        }
        await Queue.DisposeAsync();
        Lab.Dispose();
    }
}
