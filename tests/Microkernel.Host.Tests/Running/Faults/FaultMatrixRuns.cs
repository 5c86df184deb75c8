using System.Diagnostics;
using Microkernel.TestSupport;

namespace Microkernel.Host.Tests.Running.Faults;

/// <summary>One case's run: how the host ended and, when it wrote one, a digest of its report.</summary>
internal sealed record CaseRun(
    HostRunResult Host,
    IReadOnlyDictionary<string, SectionDigest>? Report
)
{
    public string Describe() =>
        $"exit code {Host.ExitCode} after {Host.Elapsed.TotalSeconds:0.0} s\n--- stdout\n{Host.Stdout}\n--- stderr\n{Host.Stderr}";
}

/// <summary>
/// Runs every case of the <see cref="FaultMatrix"/> once per test class, several at a time
/// (each is a separate host process in its own folder), heavy ones first; each test awaits its own.
/// </summary>
/// <remarks>
/// The whole matrix starts with the class, even when a filter selects a single case: xunit 2
/// does not tell a fixture which tests will run, and one case alone costs as much as its slot.
/// </remarks>
public sealed class FaultMatrixRuns : IAsyncLifetime
{
    private static readonly int Parallelism = Math.Clamp(Environment.ProcessorCount + 1, 2, 6);

    private readonly SemaphoreSlim _slots = new(Parallelism);
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<string, Task<CaseRun>> _runs = [];
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public FaultMatrixRuns()
    {
        foreach (var faultCase in FaultMatrix.Cases.OrderByDescending(c => c.Heavy))
        {
            _runs[faultCase.Id] = Task.Run(() => RunAsync(faultCase));
        }
    }

    /// <summary>Time since the matrix started.</summary>
    public TimeSpan Elapsed => _clock.Elapsed;

    internal Task<CaseRun> Get(string id) => _runs[id];

    private async Task<CaseRun> RunAsync(FaultCase faultCase)
    {
        await _slots.WaitAsync(_stop.Token);
        try
        {
            return await RunOneAsync(faultCase, _stop.Token);
        }
        finally
        {
            _slots.Release();
        }
    }

    /// <summary>
    /// Lays out plugins (the fault and Trivial), conf and analysis folder, runs
    /// <c>microkernel process</c>, digests the report and deletes everything (the report can be 500 MB).
    /// </summary>
    internal static async Task<CaseRun> RunOneAsync(
        FaultCase faultCase,
        CancellationToken cancellationToken
    )
    {
        // Short: a worker's pipe is a Unix socket under TMPDIR, and socket paths are limited to 107 bytes.
        var root = Path.Combine(Path.GetTempPath(), $"mkfault-{Guid.NewGuid():N}"[..16]);
        try
        {
            var plugins = Path.Combine(root, "plugins");
            foreach (var fixture in new[] { faultCase.Fault.Plugin, "Trivial" })
            {
                TempDirectory.CopyTree(
                    PluginLab.FixtureOutput(fixture),
                    Path.Combine(plugins, fixture)
                );
            }
            var conf = Path.Combine(root, "conf");
            Directory.CreateDirectory(conf);
            await File.WriteAllTextAsync(
                Path.Combine(conf, "processing.conf"),
                faultCase.ProcessingConf(),
                cancellationToken
            );
            var analysis = Path.Combine(root, "analysis");
            Directory.CreateDirectory(analysis);
            await File.WriteAllTextAsync(
                Path.Combine(analysis, "analysis.conf"),
                "[analysis]\nid = 42\ncategory = file\n",
                cancellationToken
            );
            // The host's scratch folder (and a dead host's leftovers) stay inside root.
            var temp = Path.Combine(root, "t");
            Directory.CreateDirectory(temp);

            var start = new ProcessStartInfo(DotnetHost());
            foreach (
                var arg in new[]
                {
                    Path.Combine(PluginLab.HostBuild, "microkernel.dll"),
                    "process",
                    analysis,
                    "--plugins",
                    plugins,
                    "--conf",
                    conf,
                    "--set",
                    "CancellationGraceSeconds=1",
                }
            )
            {
                start.ArgumentList.Add(arg);
            }
            start.Environment["TMPDIR"] = temp;
            start.Environment.Remove("DOTNET_GCHeapHardLimit");
            foreach (var (name, value) in faultCase.Environment)
            {
                start.Environment[name] = value;
            }
            var host = await HostRun.RunAsync(start, faultCase.Limit, cancellationToken);
            var report = Path.Combine(analysis, "reports", "report.json");
            return new CaseRun(host, File.Exists(report) ? ReportDigest.Read(report) : null);
        }
        finally
        {
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
    }

    private static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } path
        && File.Exists(path)
            ? path
            : "dotnet";

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await Task.WhenAll(_runs.Values).WaitAsync(TimeSpan.FromMinutes(1));
        }
        catch (Exception) { }
        _stop.Dispose();
        _slots.Dispose();
    }
}
