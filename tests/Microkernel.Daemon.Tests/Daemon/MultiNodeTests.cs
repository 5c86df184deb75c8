using Microkernel.Daemon.Tests.Queue;
using Microkernel.Host.Queue;

namespace Microkernel.Daemon.Tests.Daemon;

/// <summary>Several <c>serve</c> nodes on one real PostgreSQL queue.</summary>
[Collection(PostgresCollection.Name)]
public sealed class MultiNodeTests(PostgresServer server)
{
    [SkippableFact]
    public async Task Three_daemons_share_300_tasks_and_one_SIGKILLed_half_way_loses_none()
    {
        Skip.If(server.Unavailable is not null, server.Unavailable);
        await using var lab = new DaemonLab(await server.CreateDatabaseAsync(), "Trivial");
        // Queue semantics under a SIGKILL, not isolation: a worker process per task would only
        // stretch the run on 2 cores (the fixture plugin is third-party, so process by default).
        lab.Lab.WriteConf("[trivial]\nenabled = yes\nisolation = in-process\n");
        await lab.Queue.MigrateAsync();
        // Tasks only once every node is ready (it has queried the queue): a node slow to start
        // would otherwise find the work already done by the others.
        var ports = Enumerable.Range(0, 3).Select(_ => MicrokernelProcess.FreePort()).ToList();
        var nodes = ports.Select(port => lab.Serve(workers: 1, $"HealthPort={port}")).ToList();
        foreach (var port in ports)
        {
            await WaitUntilReadyAsync(port, TimeSpan.FromSeconds(60), lab.AllOutput);
        }
        var analyses = new Dictionary<long, string>();
        for (var i = 1; i <= 300; i++)
        {
            var analysis = lab.NewAnalysis(i);
            analyses[await lab.Queue.SubmitAsync(analysis, i % 3)] = analysis;
        }

        await lab.WaitForAsync(
            c => c[QueueStatus.Reported] >= 150,
            TimeSpan.FromSeconds(120),
            lab.AllOutput
        );
        var victim = nodes[0];
        victim.Kill();
        victim.WaitForExit(TimeSpan.FromSeconds(10));
        var counts = await lab.WaitForAsync(
            c => c[QueueStatus.Reported] == 300,
            TimeSpan.FromSeconds(120),
            lab.AllOutput
        );

        Assert.Equal(0, counts[QueueStatus.Pending]);
        Assert.Equal(0, counts[QueueStatus.Processing]);
        Assert.Equal(0, counts[QueueStatus.FailedProcessing]);
        var history = await lab.Queue.HistoryAsync(null);
        var finals = history
            .Where(e => e.Event is "reported" or "failed_processing")
            .GroupBy(e => e.TaskId)
            .ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(300, finals.Count);
        Assert.All(finals, f => Assert.Equal(1, f.Value));
        // Every node did work, the dead one's unfinished claim (if it held one) came back.
        var claimers = history
            .Where(e => e.Event == "claimed")
            .Select(e => e.Node!.Split(':')[1])
            .Distinct();
        Assert.Equal(3, claimers.Count());
        var victimClaims = history
            .Where(e =>
                e.Event == "claimed" && e.Node!.Contains($":{victim.Id}:", StringComparison.Ordinal)
            )
            .Select(e => (e.TaskId, e.Attempt));
        foreach (var (taskId, attempt) in victimClaims)
        {
            Assert.Contains(
                history,
                e =>
                    e.TaskId == taskId
                    && e.Attempt == attempt
                    && e.Event is "reported" or "reclaimed"
            );
        }
        foreach (var (id, analysis) in analyses)
        {
            // Written atomically: a report is whole or absent, never cut.
            using var report = DaemonLab.ReadReport(analysis);
            Assert.True(report.RootElement.GetProperty("trivial").GetProperty("ok").GetBoolean());
        }

        foreach (var node in nodes.Skip(1))
        {
            node.Terminate();
        }
        foreach (var node in nodes.Skip(1))
        {
            Assert.Equal(0, node.WaitForExit(TimeSpan.FromSeconds(30)));
        }
    }

    /// <summary>Until /health/ready answers 200: workers running, a claim answered, plugins loaded.</summary>
    private static async Task WaitUntilReadyAsync(int port, TimeSpan timeout, Func<string> context)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                using var ready = await http.GetAsync(
                    new Uri($"http://127.0.0.1:{port}/health/ready")
                );
                if (ready.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"node on port {port} never became ready\n{context()}");
            }
            await Task.Delay(100);
        }
    }
}
