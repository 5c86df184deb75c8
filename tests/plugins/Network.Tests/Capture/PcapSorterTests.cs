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
        int chunk = PcapSorter.ChunkPackets,
        ChunkRecords? records = null,
        string name = "dump_sorted.pcap"
    )
    {
        var output = Path.Combine(folder.Path, name);
        Assert.True(
            PcapSorter.Sort(
                input,
                output,
                () => folder.Path,
                chunk,
                records
                    ?? new ChunkRecords(PcapSorter.ChunkBufferBytes, PcapSorter.ChunkBlockBytes),
                null,
                out var problem,
                default
            ),
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

    [SkippableTheory]
    [InlineData("pcap/mixed-traffic.pcap", "8d92880f9f356d5bdfd04e24541f614f275b02e0")]
    [InlineData("cuckoo-analysis/dump.pcap", "311d1777692968396168782f8d1e4452fe04d360")]
    public void Records_that_do_not_fit_the_chunk_buffer_are_read_back_from_the_input(
        string input,
        string sha1
    )
    {
        // 4 KiB in 2 KiB blocks: the first few records are copied, every other one (and every
        // frame over 2 KiB) is read back by offset; the output must not tell the two apart.
        var fixtures = RepoPaths.RequireSharedFixtures();
        using var folder = TempDirectory.Create();
        var records = new ChunkRecords(4096, 2048);
        Assert.Equal(sha1, Sha1(Sorted(Path.Combine(fixtures, input), folder, records: records)));
        Assert.Equal(2, records.Blocks);
    }

    [SkippableFact]
    public void Chunked_sort_is_the_same_whether_records_come_from_memory_or_the_input()
    {
        var fixtures = RepoPaths.RequireSharedFixtures();
        using var folder = TempDirectory.Create();
        var input = Path.Combine(fixtures, "pcap", "mixed-traffic.pcap");
        var inMemory = Sorted(input, folder, chunk: 500, name: "memory.pcap");
        // 64 KiB in 4 KiB blocks: each 500-packet chunk starts in memory and spills.
        var records = new ChunkRecords(64 << 10, 4096);
        var mixed = Sorted(input, folder, chunk: 500, records: records, name: "mixed.pcap");
        Assert.Equal(File.ReadAllBytes(inMemory), File.ReadAllBytes(mixed));
        Assert.Equal(16, records.Blocks);
    }

    [Fact]
    public void Chunk_records_never_straddle_blocks_and_stop_at_the_capacity()
    {
        var records = new ChunkRecords(capacity: 300, blockBytes: 100);
        var a = Enumerable.Repeat((byte)1, 60).ToArray();
        var b = Enumerable.Repeat((byte)2, 60).ToArray();
        var c = Enumerable.Repeat((byte)3, 40).ToArray();
        Assert.Equal(0, records.TryAdd(a));
        Assert.Equal(100, records.TryAdd(b)); // 40 bytes left in block 0: b goes to block 1
        Assert.Equal(160, records.TryAdd(c)); // fills block 1 exactly
        Assert.Equal(-1, records.TryAdd(new byte[101])); // larger than a block
        Assert.Equal(200, records.TryAdd(a));
        Assert.Equal(-1, records.TryAdd(b)); // a fourth block would pass the capacity
        Assert.Equal(260, records.TryAdd(c)); // still fits in block 2
        Assert.Equal(3, records.Blocks);
        Assert.Equal(a, records.Get(0, 60).ToArray());
        Assert.Equal(b, records.Get(100, 60).ToArray());
        Assert.Equal(c, records.Get(260, 40).ToArray());

        // The next chunk reuses the blocks from the start.
        records.Clear();
        Assert.Equal(0, records.TryAdd(c));
        Assert.Equal(c, records.Get(0, 40).ToArray());
        Assert.Equal(3, records.Blocks);
    }

    [SkippableTheory]
    [InlineData(0)]
    [InlineData(700)]
    public void The_input_observer_sees_the_whole_file_even_when_it_is_damaged(int cut)
    {
        // The module's pcap_sha256 comes from the sort's single pass over dump.pcap.
        var fixtures = RepoPaths.RequireSharedFixtures();
        using var folder = TempDirectory.Create();
        var bytes = File.ReadAllBytes(Path.Combine(fixtures, "pcap", "mixed-traffic.pcap"));
        if (cut > 0)
        {
            // A record header that claims more bytes than the file has left: damage mid-file.
            bytes = bytes[..^cut];
            bytes = [.. bytes, .. new byte[] { 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0 }];
        }
        var input = Path.Combine(folder.Path, "dump.pcap");
        File.WriteAllBytes(input, bytes);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var output = Path.Combine(folder.Path, "dump_sorted.pcap");
        Assert.True(
            PcapSorter.Sort(input, output, folder.Path, out var problem, default, hash.AppendData)
        );
        Assert.Equal(cut > 0, problem is not null);
        Assert.Equal(SHA256.HashData(bytes), hash.GetHashAndReset());
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
