using Microkernel.Host.Configuration;
using Microkernel.Host.Running;
using Microkernel.Host.Telemetry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Microkernel.Host.Cli;

/// <summary>Global command-line settings that shape the generic host.</summary>
internal sealed record HostSettings(
    string? ConfPath,
    string? PluginsPath,
    IReadOnlyList<string> Overrides,
    bool Verbose,
    bool ConsoleTelemetry
);

/// <summary>Builds the generic host every command runs in: configuration, logging, telemetry, services.</summary>
internal static class HostFactory
{
    /// <summary>
    /// The generic host's defaults with two changes. appsettings.json is read next to the
    /// executable (as documented), not from whatever folder the command runs in. And it is not
    /// watched: options are read once, and watching it meant a recursive watch on that folder,
    /// one inotify watch per subfolder. A daemon started in a folder holding its analyses had
    /// 40,000 of them, and the watcher thread took 8% of a core following its own reports.
    /// </summary>
    internal static HostApplicationBuilderSettings DefaultSettings()
    {
        var configuration = new ConfigurationManager();
        configuration.AddInMemoryCollection(
            new Dictionary<string, string?> { ["hostBuilder:reloadConfigOnChange"] = "false" }
        );
        return new HostApplicationBuilderSettings
        {
            Args = [],
            DisableDefaults = false,
            ContentRootPath = AppContext.BaseDirectory,
            Configuration = configuration,
        };
    }

    public static IHost Build(HostSettings settings, Action<IServiceCollection>? configure = null)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(DefaultSettings());
        var overrides = new Dictionary<string, string?>();
        foreach (var pair in settings.Overrides)
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new ArgumentException($"--set expects key=value, got '{pair}'.");
            }
            var key = pair[..eq].Trim();
            overrides[
                key.Contains(':', StringComparison.Ordinal)
                    ? key
                    : $"{MicrokernelOptions.SectionName}:{key}"
            ] = pair[(eq + 1)..];
        }
        if (settings.ConfPath is not null)
        {
            overrides[$"{MicrokernelOptions.SectionName}:ConfPath"] = settings.ConfPath;
        }
        if (settings.PluginsPath is not null)
        {
            overrides[$"{MicrokernelOptions.SectionName}:PluginsPath"] = settings.PluginsPath;
        }
        if (settings.ConsoleTelemetry)
        {
            overrides[$"{MicrokernelOptions.SectionName}:ConsoleTelemetry"] = "true";
        }
        builder.Configuration.AddInMemoryCollection(overrides);

        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });
        // Logs go to stderr: stdout carries module lines or the report itself (-o -).
        builder.Services.Configure<ConsoleLoggerOptions>(o =>
            o.LogToStandardErrorThreshold = LogLevel.Trace
        );
        builder.Logging.SetMinimumLevel(settings.Verbose ? LogLevel.Debug : LogLevel.Warning);

        builder.Services.Configure<MicrokernelOptions>(
            builder.Configuration.GetSection(MicrokernelOptions.SectionName)
        );
        builder.Services.AddSingleton(sp =>
            sp.GetRequiredService<IOptions<MicrokernelOptions>>().Value
        );
        builder.Services.AddSingleton<AnalysisRunner>();

        var options =
            builder
                .Configuration.GetSection(MicrokernelOptions.SectionName)
                .Get<MicrokernelOptions>()
            ?? new MicrokernelOptions();
        var otlp = !string.IsNullOrEmpty(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        builder
            .Services.AddOpenTelemetry()
            .ConfigureResource(r =>
                r.AddService(
                    "microkernel",
                    serviceVersion: typeof(HostFactory).Assembly.GetName().Version?.ToString()
                )
            )
            .WithTracing(tracing =>
            {
                tracing.AddSource(MicrokernelTelemetry.Name);
                if (options.ConsoleTelemetry)
                {
                    tracing.AddConsoleExporter();
                }
                if (otlp)
                {
                    tracing.AddOtlpExporter();
                }
            })
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(MicrokernelTelemetry.Name);
                if (options.ConsoleTelemetry)
                {
                    metrics.AddConsoleExporter();
                }
                if (otlp)
                {
                    metrics.AddOtlpExporter();
                }
            });
        configure?.Invoke(builder.Services);
        return builder.Build();
    }
}
