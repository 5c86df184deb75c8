using System.Net.Http;
using System.Text.Json;
using Microkernel.Host.Queue;

namespace Microkernel.Daemon.Tests.Daemon;

/// <summary><c>serve</c>, <c>submit</c>, <c>tasks</c> and <c>requeue</c> as real processes on the embedded SQLite queue.</summary>
public sealed class ServeTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(45);

    [Fact]
    public async Task Serve_processes_submitted_tasks_reports_health_and_exits_0_on_SIGTERM()
    {
        await using var lab = new DaemonLab(null, "Trivial", "Throws");
        lab.Lab.Enable("trivial", "throws");
        var a = lab.NewAnalysis(1);
        var b = lab.NewAnalysis(2);
        var gone = lab.NewAnalysis(3);
        var (submitExit, submitOutput) = MicrokernelProcess.Run(
            lab.Args("submit", a, b, gone, "--priority", "2")
        );
        Assert.True(submitExit == 0, submitOutput);
        Assert.Contains($"task 1: {a}", submitOutput);
        Directory.Delete(gone, recursive: true);
        var (badExit, badOutput) = MicrokernelProcess.Run(lab.Args("submit", gone));
        Assert.Equal(2, badExit);
        Assert.Contains("no such analysis folder", badOutput);

        var healthPort = MicrokernelProcess.FreePort();
        using var daemon = lab.Serve(workers: 2, $"HealthPort={healthPort}");
        var counts = await lab.WaitForAsync(
            c => c[QueueStatus.Reported] == 2 && c[QueueStatus.FailedProcessing] == 1,
            Patience,
            lab.AllOutput
        );

        // A module that throws is part of the report (debug.errors), not a failed task.
        using (var report = DaemonLab.ReadReport(a))
        {
            Assert.True(report.RootElement.GetProperty("trivial").GetProperty("ok").GetBoolean());
            Assert.Contains(
                report.RootElement.GetProperty("debug").GetProperty("errors").EnumerateArray(),
                e => e.GetString()!.Contains("Throws", StringComparison.Ordinal)
            );
        }
        Assert.True(File.Exists(DaemonLab.ReportOf(b)));
        var failed = (await lab.Queue.ListAsync(QueueStatus.FailedProcessing, 10)).Single();
        Assert.Contains("no such analysis folder", failed.LastError);
        Assert.Equal(1, failed.Attempts);

        using (var http = new HttpClient())
        {
            var ready = await http.GetAsync(new Uri($"http://127.0.0.1:{healthPort}/health/ready"));
            var body = await ready.Content.ReadAsStringAsync();
            Assert.True(ready.IsSuccessStatusCode, body);
            using var health = JsonDocument.Parse(body);
            Assert.Equal(
                2,
                health.RootElement.GetProperty("workers").GetProperty("alive").GetInt32()
            );
            Assert.True(
                health.RootElement.GetProperty("queue").GetProperty("reachable").GetBoolean()
            );
            Assert.Contains(
                health.RootElement.GetProperty("plugins").GetProperty("modules").EnumerateArray(),
                m => m.GetString()!.StartsWith("Trivial/Trivial", StringComparison.Ordinal)
            );
            var live = await http.GetAsync(new Uri($"http://127.0.0.1:{healthPort}/health/live"));
            Assert.True(live.IsSuccessStatusCode);
        }

        var (listExit, listing) = MicrokernelProcess.Run(
            lab.Args("tasks", "--status", "failed_processing")
        );
        Assert.Equal(0, listExit);
        Assert.Contains("failed_processing", listing);
        Assert.Contains(
            "pending: 0  processing: 0  reported: 2  failed_processing: 1  total: 3",
            listing
        );

        daemon.Terminate();
        Assert.Equal(0, daemon.WaitForExit(Patience));
        Assert.Contains("stopped", daemon.Output);
        Assert.Equal(3, counts.Values.Sum());

        // Requeue works with no daemon running; the task waits for the next one.
        var (requeueExit, requeued) = MicrokernelProcess.Run(lab.Args("requeue", "--failed"));
        Assert.Equal(0, requeueExit);
        Assert.Contains("1 failed tasks requeued", requeued);
        var (oneExit, one) = MicrokernelProcess.Run(lab.Args("requeue", "1"));
        Assert.True(oneExit == 0, one);
        var (busyExit, busy) = MicrokernelProcess.Run(lab.Args("requeue", "1"));
        Assert.Equal(2, busyExit);
        Assert.Contains("task 1 is pending", busy);
        Assert.Equal(2, (await lab.Queue.CountAsync())[QueueStatus.Pending]);
    }

    [Fact]
    public async Task A_report_that_cannot_be_committed_fails_its_task_after_its_attempts_and_spares_the_next()
    {
        await using var lab = new DaemonLab(null, "Sleepy");
        lab.Lab.WriteConf("[sleepy]\nenabled = yes\nmilliseconds = 10\n");
        var blocked = lab.NewAnalysis(1);
        // A folder in the report's place: the report is written, but its rename cannot land.
        Directory.CreateDirectory(Path.Combine(DaemonLab.ReportOf(blocked), "keep"));
        var fine = lab.NewAnalysis(2);
        await lab.Queue.MigrateAsync();
        var blockedId = await lab.Queue.SubmitAsync(blocked, 1);
        await lab.Queue.SubmitAsync(fine, 1);
        using var daemon = lab.Serve(workers: 1, "MaxAttempts=2");

        await lab.WaitForAsync(
            c => c[QueueStatus.FailedProcessing] == 1 && c[QueueStatus.Reported] == 1,
            Patience,
            lab.AllOutput
        );
        daemon.Terminate();

        Assert.Equal(0, daemon.WaitForExit(Patience));
        var task = (await lab.Queue.GetAsync(blockedId))!;
        Assert.Equal(QueueStatus.FailedProcessing, task.Status);
        Assert.Equal(2, task.Attempts);
        Assert.Contains(
            $"{DaemonLab.ReportOf(blocked)}: the report could not be committed",
            task.LastError
        );
        Assert.Contains("gave up after 2 attempts", task.LastError);
        Assert.Empty(Directory.GetFiles(Path.Combine(blocked, "reports")));
        using var report = DaemonLab.ReadReport(fine);
        Assert.Equal(10, report.RootElement.GetProperty("sleepy").GetProperty("slept").GetInt32());
    }

    [Fact]
    public async Task SIGTERM_lets_in_flight_tasks_finish_and_leaves_none_processing()
    {
        await using var lab = new DaemonLab(null, "Sleepy");
        lab.Lab.WriteConf("[sleepy]\nenabled = yes\nmilliseconds = 1500\n");
        var analysis = lab.NewAnalysis(1);
        await lab.Queue.MigrateAsync();
        await lab.Queue.SubmitAsync(analysis, 1);
        using var daemon = lab.Serve(workers: 1, "ShutdownTimeoutSeconds=20");
        await lab.WaitForAsync(c => c[QueueStatus.Processing] == 1, Patience, lab.AllOutput);

        daemon.Terminate();

        Assert.Equal(0, daemon.WaitForExit(Patience));
        var counts = await lab.Queue.CountAsync();
        Assert.Equal(0, counts[QueueStatus.Processing]);
        Assert.Equal(1, counts[QueueStatus.Reported]);
        using var report = DaemonLab.ReadReport(analysis);
        Assert.Equal(
            1500,
            report.RootElement.GetProperty("sleepy").GetProperty("slept").GetInt32()
        );
    }

    [Fact]
    public async Task SIGTERM_releases_tasks_that_outlive_the_shutdown_timeout_without_counting_the_attempt()
    {
        await using var lab = new DaemonLab(null, "Sleepy");
        lab.Lab.WriteConf("[sleepy]\nenabled = yes\nmilliseconds = 60000\n");
        await lab.Queue.MigrateAsync();
        var id = await lab.Queue.SubmitAsync(lab.NewAnalysis(1), 1);
        using var daemon = lab.Serve(
            workers: 1,
            "ShutdownTimeoutSeconds=0.5",
            "CancellationGraceSeconds=1"
        );
        await lab.WaitForAsync(c => c[QueueStatus.Processing] == 1, Patience, lab.AllOutput);

        daemon.Terminate();

        Assert.Equal(0, daemon.WaitForExit(Patience));
        var task = (await lab.Queue.GetAsync(id))!;
        Assert.Equal(QueueStatus.Pending, task.Status);
        Assert.Equal(0, task.Attempts);
        Assert.Contains(await lab.Queue.HistoryAsync(id), e => e.Event == "released");
    }

    [Fact]
    public async Task A_task_whose_daemon_was_SIGKILLed_is_reclaimed_after_its_lease_and_reported_once()
    {
        await using var lab = new DaemonLab(null, "Sleepy");
        // However late the kill comes, the doomed node cannot have finished the task.
        lab.Lab.WriteConf("[sleepy]\nenabled = yes\nmilliseconds = 600000\n");
        await lab.Queue.MigrateAsync();
        var analysis = lab.NewAnalysis(1);
        var id = await lab.Queue.SubmitAsync(analysis, 1);
        using (var doomed = lab.Serve(workers: 1))
        {
            await lab.WaitForAsync(c => c[QueueStatus.Processing] == 1, Patience, lab.AllOutput);
            doomed.Kill();
            doomed.WaitForExit(Patience);
        }
        Assert.False(File.Exists(DaemonLab.ReportOf(analysis)));

        // The conf is read per task: the survivor's attempt is short.
        lab.Lab.WriteConf("[sleepy]\nenabled = yes\nmilliseconds = 1500\n");
        using var survivor = lab.Serve(workers: 1);
        await lab.WaitForAsync(c => c[QueueStatus.Reported] == 1, Patience, lab.AllOutput);

        var history = (await lab.Queue.HistoryAsync(id)).Select(e => e.Event).ToList();
        Assert.Equal(["submitted", "claimed", "reclaimed", "claimed", "reported"], history);
        var task = (await lab.Queue.GetAsync(id))!;
        Assert.Equal(2, task.Attempts);
        using var report = DaemonLab.ReadReport(analysis);
        Assert.Equal(1, report.RootElement.GetProperty("sleepy").GetProperty("task").GetInt32());
        Assert.Equal(
            1500,
            report.RootElement.GetProperty("sleepy").GetProperty("slept").GetInt32()
        );
        survivor.Terminate();
        Assert.Equal(0, survivor.WaitForExit(Patience));
    }
}
