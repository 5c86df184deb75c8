using System.Globalization;
using Microkernel.Host.Configuration;
using Microkernel.Host.Daemon;
using Microkernel.Host.Queue;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;

namespace Microkernel.Host.Cli;

/// <summary><c>microkernel serve</c>: the long-running processor. Exits 0 after a graceful stop (SIGTERM, Ctrl+C).</summary>
internal static class ServeCommand
{
    public static async Task<int> RunAsync(HostSettings settings)
    {
        // The settings decide which services and exporters the real host gets.
        MicrokernelOptions options;
        using (var probe = HostFactory.Build(settings))
        {
            options = probe.Services.GetRequiredService<MicrokernelOptions>();
        }
        var queue = TaskQueueFactory.Create(options);
        try
        {
            await MigrateAsync(queue).ConfigureAwait(false);
        }
        catch (QueueUnavailableException ex)
        {
            await Console.Error.WriteLineAsync($"error: {ex.Message}").ConfigureAwait(false);
            await queue.DisposeAsync().ConfigureAwait(false);
            return ProcessCommand.Unusable;
        }

        using var host = HostFactory.Build(
            settings,
            services =>
            {
                services.AddSystemd();
                services.Configure<HostOptions>(h =>
                {
                    // The workers bound their own shutdown; the host must not cut them short.
                    h.ShutdownTimeout =
                        options.ShutdownTimeout
                        + options.CancellationGrace
                        + TimeSpan.FromSeconds(15);
                    h.BackgroundServiceExceptionBehavior =
                        BackgroundServiceExceptionBehavior.Ignore;
                });
                services.AddSingleton(queue);
                services.AddSingleton<DaemonHealth>();
                services.AddSingleton(sp => new PluginSnapshots(
                    options.ResolvePluginsPath(),
                    options.ResolveStoragePath(),
                    options.PluginReloadDebounce,
                    options.UnloadGcRounds,
                    sp.GetRequiredService<ILoggerFactory>().CreateLogger("Microkernel.Plugins")
                ));
                services.AddHostedService<TaskWorkers>();
                services.AddHostedService<HealthEndpoint>();
                if (options.MetricsPort > 0)
                {
                    services.ConfigureOpenTelemetryMeterProvider(metrics =>
                        metrics.AddPrometheusHttpListener(o =>
                        {
                            o.Host = "127.0.0.1";
                            o.Port = options.MetricsPort;
                        })
                    );
                }
            }
        );
        host.Services.GetRequiredService<PluginSnapshots>().Start(options.WatchPlugins);
        await host.RunAsync().ConfigureAwait(false);
        return ProcessCommand.Success;
    }

    /// <summary>Nodes may start before the database: a few tries before giving up (systemd restarts us anyway).</summary>
    private static async Task MigrateAsync(ITaskQueue queue)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await queue.MigrateAsync().ConfigureAwait(false);
                return;
            }
            catch (QueueUnavailableException ex) when (attempt < 5 && ex.InnerException is not null)
            {
                await Console
                    .Error.WriteLineAsync($"warning: queue not reachable yet: {ex.Message}")
                    .ConfigureAwait(false);
                await Task.Delay(TimeSpan.FromSeconds(attempt)).ConfigureAwait(false);
            }
        }
    }
}
