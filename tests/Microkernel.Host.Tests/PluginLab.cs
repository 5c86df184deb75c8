using Microkernel.Host.Configuration;
using Microkernel.Host.Running;
using Microkernel.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace Microkernel.Host.Tests;

/// <summary>
/// A throw-away installation: a plugins folder holding chosen fixture plugins (real build
/// outputs), a processing.conf, and an analysis folder.
/// </summary>
internal sealed class PluginLab : IDisposable
{
    private readonly TempDirectory _root = TempDirectory.Create();

    public PluginLab(params string[] fixtures)
    {
        Directory.CreateDirectory(PluginsPath);
        Directory.CreateDirectory(ConfPath);
        Directory.CreateDirectory(AnalysisPath);
        foreach (var fixture in fixtures)
        {
            AddFixture(fixture);
        }
        File.WriteAllText(
            Path.Combine(AnalysisPath, "analysis.conf"),
            "[analysis]\nid = 42\ncategory = file\n"
        );
    }

    public string PluginsPath => _root.Combine("plugins");

    public string ConfPath => _root.Combine("conf");

    public string AnalysisPath => _root.Combine("analyses", "42");

    public string ReportPath => Path.Combine(AnalysisPath, "reports", "report.json");

    /// <summary>The host's build output (microkernel.dll, its worker apphost, the shipped plugins).</summary>
    public static string HostBuild => RepoPaths.BuildOutput("host");

    /// <summary>The shipped plugins as the build lays them out for the host.</summary>
    public static string HostPlugins => Path.Combine(HostBuild, "plugins");

    public static string FixtureOutput(string fixture) =>
        RepoPaths.BuildOutput("tests", "FixturePlugins", fixture);

    public void AddFixture(string fixture, string? asName = null)
    {
        var source = FixtureOutput(fixture);
        if (!Directory.Exists(source))
        {
            throw new InvalidOperationException(
                $"Fixture plugin {fixture} is not built at {source}."
            );
        }
        var target = Path.Combine(PluginsPath, asName ?? fixture);
        Directory.CreateDirectory(target);
        foreach (var file in Directory.EnumerateFiles(source))
        {
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)), overwrite: true);
        }
    }

    public void WriteConf(string text) =>
        File.WriteAllText(Path.Combine(ConfPath, "processing.conf"), text);

    /// <summary>Enables every named section.</summary>
    public void Enable(params string[] sections) =>
        WriteConf(string.Concat(sections.Select(s => $"[{s}]\nenabled = yes\n\n")));

    public MicrokernelOptions Options(double timeoutSeconds = 30, double graceSeconds = 1) =>
        new()
        {
            PluginsPath = PluginsPath,
            ConfPath = ConfPath,
            DefaultModuleTimeoutSeconds = timeoutSeconds,
            CancellationGraceSeconds = graceSeconds,
        };

    public Task<AnalysisResult> RunAsync(
        MicrokernelOptions? options = null,
        AnalysisRequest? request = null,
        CancellationToken cancellationToken = default
    ) =>
        new AnalysisRunner(options ?? Options(), NullLoggerFactory.Instance).RunAsync(
            request ?? new AnalysisRequest(AnalysisPath),
            cancellationToken: cancellationToken
        );

    public void Dispose() => _root.Dispose();
}
