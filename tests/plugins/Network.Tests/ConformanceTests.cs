using System.Text.Json.Nodes;
using Microkernel.TestSupport;

namespace Microkernel.Plugins.Network.Tests;

/// <summary>NetworkAnalysis against the output of Cuckoo 2.0.7's own module (../shared/fixtures).</summary>
public sealed class ConformanceTests
{
    private static async Task<(
        JsonNode Expected,
        JsonNode Actual,
        string[] BodyFiles
    )> RunFixtureAsync(string pcap, string expectedFile)
    {
        var fixtures = RepoPaths.RequireSharedFixtures();
        using var analysis = TempDirectory.Create();
        File.Copy(
            pcap.Replace("{fixtures}", fixtures, StringComparison.Ordinal),
            Path.Combine(analysis.Path, "dump.pcap")
        );
        using var document = await ModuleHarness.RunAsync(new NetworkAnalysis(), analysis.Path);
        var expectedText = (
            await File.ReadAllTextAsync(
                expectedFile.Replace("{fixtures}", fixtures, StringComparison.Ordinal)
            )
        ).Replace(
            "{analysis}",
            Path.GetFullPath(analysis.Path).Replace("\\", "\\\\", StringComparison.Ordinal),
            StringComparison.Ordinal
        );
        var expected = JsonComparison.Normalise(JsonNode.Parse(expectedText)!);
        var actual = JsonComparison.Normalise(JsonNode.Parse(document!.RootElement.GetRawText())!);
        var network = Path.Combine(analysis.Path, "network");
        var bodies = Directory.Exists(network)
            ? Directory.GetFiles(network).Select(f => Path.GetFileName(f)).ToArray()
            : [];
        return (expected, actual, bodies);
    }

    [SkippableTheory]
    [InlineData("dns_icmp")]
    [InlineData("duplicate-dns-requests")]
    [InlineData("empty")]
    [InlineData("http")]
    [InlineData("not-http")]
    [InlineData("smtp")]
    [InlineData("status-code")]
    [InlineData("test_dns")]
    [InlineData("used_dns_server")]
    public async Task Capture_matches_Cuckoo_field_by_field(string name)
    {
        var (expected, actual, _) = await RunFixtureAsync(
            $"{{fixtures}}/pcap/{name}.pcap",
            $"{{fixtures}}/pcap/expected/{name}.network.json"
        );
        Assert.Empty(JsonComparison.Differences(expected, actual));
    }

    [SkippableFact]
    public async Task Analysis_folder_capture_matches_Cuckoo()
    {
        var (expected, actual, _) = await RunFixtureAsync(
            "{fixtures}/cuckoo-analysis/dump.pcap",
            "{fixtures}/cuckoo-analysis/expected/network.json"
        );
        Assert.Empty(JsonComparison.Differences(expected, actual));
    }

    [SkippableFact]
    public async Task Mixed_traffic_matches_Cuckoo_including_http_ex()
    {
        var (expected, actual, bodies) = await RunFixtureAsync(
            "{fixtures}/pcap/mixed-traffic.pcap",
            "{fixtures}/pcap/expected/mixed-traffic.network.json"
        );
        Assert.Empty(JsonComparison.Differences(expected, actual));
        Assert.Contains("b6fae6159db913572c7a8fbc7da1a5597c8546d0", bodies);
    }

    [SkippableFact]
    public async Task Pcapng_is_read_where_Cuckoo_gave_up()
    {
        // Difference by design: Cuckoo 2.0 cannot read pcapng and reports only the httpreplay keys.
        var (expected, actual, _) = await RunFixtureAsync(
            "{fixtures}/pcap/test001.pcapng",
            "{fixtures}/pcap/expected/test001.network.json"
        );
        foreach (var (name, value) in expected.AsObject())
        {
            Assert.Equal(value!.ToJsonString(), actual[name]!.ToJsonString());
        }
        // The four DHCP packets give two UDP flows.
        Assert.Equal(2, actual["udp"]!.AsArray().Count);
        Assert.Equal("255.255.255.255", actual["udp"]![0]!["dst"]!.GetValue<string>());
        Assert.False(actual.AsObject().ContainsKey("errors"));
    }
}
