using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microkernel.Host.Configuration;
using Microkernel.Host.Running;
using Microkernel.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace Microkernel.Host.Tests.Isolation;

/// <summary>
/// Every shipped module gives byte-for-byte the same section in a worker process as in the host,
/// on the shipped sample and on every shared fixture.
/// </summary>
public sealed partial class IsolationEquivalenceTests
{
    // Wall-clock fields of the run itself, not of the analysis.
    private static readonly string[] RunTimes = ["started", "ended", "duration"];

    [Fact]
    public Task The_sample_analysis_gives_the_same_report_in_both_modes() =>
        AssertSameAsync(RepoPaths.InRepo("samples", "analyses", "1"), only: null);

    [SkippableFact]
    public Task The_cuckoo_analysis_fixture_gives_the_same_report_in_both_modes() =>
        AssertSameAsync(
            Path.Combine(RepoPaths.RequireSharedFixtures(), "cuckoo-analysis"),
            only: null
        );

    [SkippableFact]
    public async Task Every_pcap_fixture_gives_the_same_network_section_in_both_modes()
    {
        var pcaps = Path.Combine(RepoPaths.RequireSharedFixtures(), "pcap");
        var captures = Directory
            .EnumerateFiles(pcaps)
            .Where(f =>
                f.EndsWith(".pcap", StringComparison.Ordinal)
                || f.EndsWith(".pcapng", StringComparison.Ordinal)
            )
            .Order(StringComparer.Ordinal)
            .ToList();
        Assert.NotEmpty(captures);
        foreach (var capture in captures)
        {
            using var analysis = TempDirectory.Create();
            File.Copy(capture, analysis.Combine("dump.pcap"));
            await AssertSameAsync(analysis.Path, only: new HashSet<string> { "network" });
        }
    }

    [SkippableFact]
    public async Task Every_pe_fixture_gives_the_same_file_sections_in_both_modes()
    {
        var pe = Path.Combine(RepoPaths.RequireSharedFixtures(), "pe");
        foreach (var fixture in PeFixtures.All().Cast<object[]>().Select(row => (string)row[0]))
        {
            using var analysis = TempDirectory.Create();
            File.Copy(Path.Combine(pe, fixture), analysis.Combine("binary"));
            await AssertSameAsync(
                analysis.Path,
                only: new HashSet<string> { "targetinfo", "strings", "static" }
            );
        }
    }

    private static async Task AssertSameAsync(string source, IReadOnlySet<string>? only)
    {
        var inProcess = await RunAsync(source, "in-process", only);
        var isolated = await RunAsync(source, "process", only);

        Assert.Equal(
            inProcess.Select(p => p.Key).Order(StringComparer.Ordinal),
            isolated.Select(p => p.Key).Order(StringComparer.Ordinal)
        );
        Assert.NotEmpty(inProcess);
        foreach (var (key, expected) in inProcess)
        {
            var actual = isolated[key];
            Assert.True(
                JsonNode.DeepEquals(expected, actual),
                $"{Path.GetFileName(source)}: section '{key}' differs between in-process and process mode"
            );
        }
    }

    /// <summary>Processes a copy of <paramref name="source"/> with every shipped plugin forced into <paramref name="isolation"/>.</summary>
    private static async Task<JsonObject> RunAsync(
        string source,
        string isolation,
        IReadOnlySet<string>? only
    )
    {
        using var analysis = TempDirectory.CopyOf(source);
        using var conf = TempDirectory.Create();
        var shipped = await File.ReadAllTextAsync(RepoPaths.InRepo("conf", "processing.conf"));
        await File.WriteAllTextAsync(
            conf.Combine("processing.conf"),
            ModuleSection().Replace(shipped, m => $"{m.Value}\nisolation = {isolation}")
        );
        foreach (var file in Directory.EnumerateFiles(RepoPaths.InRepo("conf"), "*.conf"))
        {
            if (Path.GetFileName(file) != "processing.conf")
            {
                File.Copy(file, conf.Combine(Path.GetFileName(file)));
            }
        }
        var output = conf.Combine("report.json");
        var result = await new AnalysisRunner(
            new MicrokernelOptions { PluginsPath = PluginLab.HostPlugins, ConfPath = conf.Path },
            NullLoggerFactory.Instance
        ).RunAsync(new AnalysisRequest(analysis.Path) { OutputPath = output, Only = only });
        Assert.Empty(result.LoadFailures);
        Assert.Empty(result.Unload.Leaked);
        Assert.All(result.Modules, m => Assert.Equal(isolation, m.Isolation));
        Assert.Contains(result.Modules, m => m.Outcome == ModuleOutcome.Ok);
        var report = JsonNode.Parse(await File.ReadAllBytesAsync(output))!.AsObject();
        report.Remove("statistics");
        if (report["info"] is JsonObject info)
        {
            foreach (var field in RunTimes)
            {
                info.Remove(field);
            }
        }
        // Paths inside the sections name the analysis copy, which differs between the runs.
        return JsonNode
            .Parse(
                report.ToJsonString().Replace(analysis.Path, "<analysis>", StringComparison.Ordinal)
            )!
            .AsObject();
    }

    [GeneratedRegex(@"^\[(?!processing\])[a-z0-9_]+\]$", RegexOptions.Multiline)]
    private static partial Regex ModuleSection();
}
