using System.Diagnostics;
using System.Globalization;
using System.Net.Http;
using System.Text.Json;
using Microkernel.Host.Queue;
using Microkernel.TestSupport;

namespace Microkernel.Daemon.Tests.Daemon;

/// <summary>A real Prometheus server scrapes <c>serve</c>; the assertions go through its HTTP API.</summary>
public sealed class PrometheusTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(45);

    private static string? FindPrometheus() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Append("/usr/bin")
            .Select(d => Path.Combine(d, "prometheus"))
            .FirstOrDefault(File.Exists);

    [SkippableFact]
    public async Task Prometheus_scrapes_queue_depth_task_and_module_metrics_from_serve()
    {
        var prometheus = FindPrometheus();
        Skip.If(
            prometheus is null,
            "prometheus not found on PATH; install the Debian 'prometheus' package"
        );
        await using var lab = new DaemonLab(null, "Trivial", "Throws");
        lab.Lab.Enable("trivial", "throws");
        await lab.Queue.MigrateAsync();
        for (var i = 1; i <= 3; i++)
        {
            await lab.Queue.SubmitAsync(lab.NewAnalysis(i), 1);
        }
        var metricsPort = MicrokernelProcess.FreePort();
        using var daemon = lab.Serve(workers: 1, $"MetricsPort={metricsPort}");
        await lab.WaitForAsync(c => c[QueueStatus.Reported] == 3, Patience, lab.AllOutput);

        using var data = TempDirectory.Create();
        var config = data.Combine("prometheus.yml");
        File.WriteAllText(
            config,
            string.Create(
                CultureInfo.InvariantCulture,
                $"""
                global:
                  scrape_interval: 1s
                  scrape_timeout: 1s
                scrape_configs:
                  - job_name: microkernel
                    static_configs:
                      - targets: ["127.0.0.1:{metricsPort}"]
                """
            )
        );
        var webPort = MicrokernelProcess.FreePort();
        var start = new ProcessStartInfo(prometheus!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (
            var arg in (string[])
                [
                    $"--config.file={config}",
                    $"--storage.tsdb.path={data.Combine("tsdb")}",
                    $"--web.listen-address=127.0.0.1:{webPort}",
                ]
        )
        {
            start.ArgumentList.Add(arg);
        }
        using var server = Process.Start(start)!;
        server.OutputDataReceived += (_, _) => { };
        server.ErrorDataReceived += (_, _) => { };
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            async Task<Dictionary<string, double>> Query(string promql)
            {
                var deadline = DateTime.UtcNow + Patience;
                while (true)
                {
                    try
                    {
                        var body = await http.GetStringAsync(
                            new Uri(
                                $"http://127.0.0.1:{webPort}/api/v1/query?query={Uri.EscapeDataString(promql)}"
                            )
                        );
                        using var json = JsonDocument.Parse(body);
                        var result = json.RootElement.GetProperty("data").GetProperty("result");
                        if (result.GetArrayLength() > 0)
                        {
                            return result
                                .EnumerateArray()
                                .ToDictionary(
                                    r =>
                                        string.Join(
                                            ",",
                                            r.GetProperty("metric")
                                                .EnumerateObject()
                                                .Where(p =>
                                                    p.Name.StartsWith(
                                                        "microkernel_",
                                                        StringComparison.Ordinal
                                                    )
                                                )
                                                .Select(p => $"{p.Name}={p.Value.GetString()}")
                                        ),
                                    r =>
                                        double.Parse(
                                            r.GetProperty("value")[1].GetString()!,
                                            CultureInfo.InvariantCulture
                                        )
                                );
                        }
                    }
                    catch (HttpRequestException) { }
                    catch (TaskCanceledException) { }
                    Assert.True(
                        DateTime.UtcNow < deadline,
                        $"no series for {promql} within {Patience}"
                    );
                    await Task.Delay(250);
                }
            }

            var depth = await Query("microkernel_queue_depth");
            Assert.Equal(3, depth["microkernel_task_status=reported"]);
            Assert.Equal(0, depth["microkernel_task_status=pending"]);
            Assert.Equal(0, depth["microkernel_task_status=processing"]);
            Assert.Equal(3, (await Query("microkernel_tasks_claimed_total")).Values.Single());
            Assert.Equal(
                3,
                (await Query("microkernel_tasks_finished_total"))[
                    "microkernel_task_result=reported"
                ]
            );
            Assert.Equal(
                3,
                (await Query("microkernel_task_duration_seconds_count"))[
                    "microkernel_task_result=reported"
                ]
            );
            Assert.Equal(0, (await Query("microkernel_tasks_in_flight")).Values.Single());
            var outcomes = await Query("microkernel_module_outcomes_total");
            Assert.Equal(
                3,
                outcomes["microkernel_module_name=Trivial,microkernel_module_outcome=ok"]
            );
            Assert.Equal(
                3,
                outcomes["microkernel_module_name=Throws,microkernel_module_outcome=exception"]
            );
            var p95 = await Query(
                "histogram_quantile(0.95, sum by (le, microkernel_module_name) (rate(microkernel_module_duration_seconds_bucket[1m])))"
            );
            Assert.Contains(p95.Keys, k => k.Contains("Trivial", StringComparison.Ordinal));

            // Every query of the shipped Grafana dashboard is valid PromQL against these series.
            using var dashboard = JsonDocument.Parse(
                File.ReadAllBytes(RepoPaths.InRepo("conf", "dashboards", "microkernel-daemon.json"))
            );
            foreach (var panel in dashboard.RootElement.GetProperty("panels").EnumerateArray())
            {
                foreach (var target in panel.GetProperty("targets").EnumerateArray())
                {
                    var expr = target
                        .GetProperty("expr")
                        .GetString()!
                        .Replace("$__rate_interval", "1m", StringComparison.Ordinal);
                    var response = await http.GetAsync(
                        new Uri(
                            $"http://127.0.0.1:{webPort}/api/v1/query?query={Uri.EscapeDataString(expr)}"
                        )
                    );
                    Assert.True(
                        response.IsSuccessStatusCode,
                        $"{panel.GetProperty("title")}: {expr}: {await response.Content.ReadAsStringAsync()}"
                    );
                }
            }
        }
        finally
        {
            server.Kill();
            server.WaitForExit(10_000);
        }
        daemon.Terminate();
        Assert.Equal(0, daemon.WaitForExit(Patience));
    }
}
