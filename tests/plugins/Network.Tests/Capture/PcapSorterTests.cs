using System.Buffers.Binary;
using System.Security.Cryptography;
using Microkernel.Plugins.Network.Capture;
using Microkernel.TestSupport;

namespace Microkernel.Plugins.Network.Tests.Capture;

/// <summary>sort_pcap against the SHA-1s in fixtures/pcap/GOLDEN.md and Cuckoo's own dump_sorted.pcap.</summary>
public sealed class PcapSorterTests
{
    private static string Sorted(
        string input,
        TempDirectory folder,
        int chunk = PcapSorter.ChunkPackets
    )
    {
        var output = Path.Combine(folder.Path, "dump_sorted.pcap");
        Assert.True(
            PcapSorter.Sort(input, output, folder.Path, chunk, out var problem, default),
            problem
        );
        Assert.Null(problem);
        return output;
    }

    private static string Sha1(string path) =>
        Convert.ToHexStringLower(SHA1.HashData(File.ReadAllBytes(path)));

    [SkippableTheory]
    [InlineData("pcap/smtp.pcap", "c99b74eaca15d792049e8f75a4bfe6c1c416c26b")]
    [InlineData("pcap/duplicate-dns-requests.pcap", "4859334accbee12858621cca39564fdbce9ae605")]
    [InlineData("pcap/mixed-traffic.pcap", "8d92880f9f356d5bdfd04e24541f614f275b02e0")]
    [InlineData("pcap/not-http.pcap", "340e6c442619de912253d956b499e428164e8cdd")]
    [InlineData("pcap/status-code.pcap", "106dc235ef82ff844b7025339c2713aad752037e")]
    [InlineData("pcap/used_dns_server.pcap", "782b766b99998fd8cbbe400b7c419abfe645b50d")]
    [InlineData("cuckoo-analysis/dump.pcap", "311d1777692968396168782f8d1e4452fe04d360")]
    [InlineData("pcap/dns_icmp.pcap", "f5332efde76b03920ede76272837b05236ce4d35")]
    [InlineData("pcap/http.pcap", "2c7dc75b91462222c86abdc0ee621ee6e93e5dc2")]
    [InlineData("pcap/test_dns.pcap", "2c62d1c02d0a85c0e36f69a72806f41d9e2c8b2d")]
    public void Sorted_capture_matches_cuckoos_sha1(string input, string sha1)
    {
        var fixtures = RepoPaths.RequireSharedFixtures();
        using var folder = TempDirectory.Create();
        Assert.Equal(sha1, Sha1(Sorted(Path.Combine(fixtures, input), folder)));
    }

    [SkippableFact]
    public void Analysis_folder_sort_equals_cuckoos_dump_sorted_byte_for_byte()
    {
        var fixtures = RepoPaths.RequireSharedFixtures();
        using var folder = TempDirectory.Create();
        var sorted = Sorted(Path.Combine(fixtures, "cuckoo-analysis", "dump.pcap"), folder);
        Assert.Equal(
            File.ReadAllBytes(Path.Combine(fixtures, "cuckoo-analysis", "dump_sorted.pcap")),
            File.ReadAllBytes(sorted)
        );
    }

    [SkippableFact]
    public void Empty_capture_writes_no_file_and_no_problem()
    {
        var fixtures = RepoPaths.RequireSharedFixtures();
        using var folder = TempDirectory.Create();
        var output = Path.Combine(folder.Path, "dump_sorted.pcap");
        Assert.False(
            PcapSorter.Sort(
                Path.Combine(fixtures, "pcap", "empty.pcap"),
                output,
                folder.Path,
                out var problem,
                default
            )
        );
        Assert.Null(problem);
        Assert.False(File.Exists(output));
    }

    [SkippableFact]
    public void Chunked_sort_keeps_every_packet_and_removes_its_chunk_files()
    {
        var fixtures = RepoPaths.RequireSharedFixtures();
        using var folder = TempDirectory.Create();
        var input = Path.Combine(fixtures, "pcap", "mixed-traffic.pcap");
        var sorted = Sorted(input, folder, chunk: 500);
        Assert.Equal(Frames(input).Order().ToList(), Frames(sorted).Order().ToList());
        Assert.Equal(
            ["dump_sorted.pcap"],
            Directory.GetFiles(folder.Path).Select(Path.GetFileName)
        );
    }

    [Fact]
    public void Dpkt_time_loses_a_microsecond_on_the_way_back_as_cuckoo_does()
    {
        // GOLDEN.md: in http.pcap a packet at .125270 ends up at .125268.
        var ts = 1_000_000_000u + 125270 / 1e6;
        var (seconds, micros) = DpktTime.RoundTrip(ts);
        Assert.Equal(1_000_000_000u, seconds);
        Assert.True(micros <= 125270);
        // 1/128 = 0.0078125 is an exact tie at six places: Python 2.7 rounds it away from zero.
        Assert.Equal(0.007813, DpktTime.RoundToSixPlaces(1.0 / 128));
        // 0.4999995 is stored just below the tie, so it rounds down.
        Assert.Equal(0.499999, DpktTime.RoundToSixPlaces(0.4999995));
    }

    [SkippableTheory]
    [InlineData("yes")]
    [InlineData("no")]
    public async Task Module_writes_dump_sorted_only_when_asked(string sortPcap)
    {
        var fixtures = RepoPaths.RequireSharedFixtures();
        using var analysis = TempDirectory.Create();
        var dump = Path.Combine(analysis.Path, "dump.pcap");
        File.Copy(Path.Combine(fixtures, "cuckoo-analysis", "dump.pcap"), dump);
        using var document = await ModuleHarness.RunAsync(
            new NetworkAnalysis(),
            analysis.Path,
            options: new Dictionary<string, string> { ["sort_pcap"] = sortPcap }
        );
        var root = document!.RootElement;
        var sorted = Path.Combine(analysis.Path, "dump_sorted.pcap");
        Assert.Equal(
            Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(dump))),
            root.GetProperty("pcap_sha256").GetString()
        );
        if (sortPcap == "yes")
        {
            Assert.Equal(
                Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(sorted))),
                root.GetProperty("sorted_pcap_sha256").GetString()
            );
            Assert.Equal("311d1777692968396168782f8d1e4452fe04d360", Sha1(sorted));
        }
        else
        {
            Assert.False(File.Exists(sorted));
            Assert.False(root.TryGetProperty("sorted_pcap_sha256", out _));
        }
    }

    [SkippableFact]
    public async Task Module_dissects_the_sorted_capture_despite_its_1500_byte_snaplen()
    {
        // Cuckoo's sorted file keeps 1514-byte frames under a 1500 snaplen; dpkt never checks.
        var fixtures = RepoPaths.RequireSharedFixtures();
        using var analysis = TempDirectory.Create();
        File.Copy(
            Path.Combine(fixtures, "pcap", "mixed-traffic.pcap"),
            Path.Combine(analysis.Path, "dump.pcap")
        );
        var errors = new List<string>();
        using var document = await ModuleHarness.RunAsync(
            new NetworkAnalysis(),
            analysis.Path,
            options: new Dictionary<string, string> { ["sort_pcap"] = "yes" },
            errors: errors
        );
        var root = document!.RootElement;
        Assert.Empty(errors);
        Assert.False(root.TryGetProperty("errors", out _));
        Assert.Equal(51, root.GetProperty("tcp").GetArrayLength());
        Assert.Equal(69, root.GetProperty("udp").GetArrayLength());
        Assert.Equal(20, root.GetProperty("hosts").GetArrayLength());
    }

    [SkippableFact]
    public async Task Module_with_sorting_on_an_empty_capture_writes_nothing()
    {
        var fixtures = RepoPaths.RequireSharedFixtures();
        using var analysis = TempDirectory.Create();
        File.Copy(
            Path.Combine(fixtures, "pcap", "empty.pcap"),
            Path.Combine(analysis.Path, "dump.pcap")
        );
        var errors = new List<string>();
        using var document = await ModuleHarness.RunAsync(
            new NetworkAnalysis(),
            analysis.Path,
            options: new Dictionary<string, string> { ["sort_pcap"] = "yes" },
            errors: errors
        );
        Assert.False(File.Exists(Path.Combine(analysis.Path, "dump_sorted.pcap")));
        Assert.False(document!.RootElement.TryGetProperty("sorted_pcap_sha256", out _));
        Assert.Empty(errors);
    }

    private static IEnumerable<string> Frames(string path)
    {
        var bytes = File.ReadAllBytes(path);
        for (var at = 24; at + 16 <= bytes.Length; )
        {
            var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at + 8));
            yield return Convert.ToHexString(bytes, at + 16, length);
            at += 16 + length;
        }
    }
}
