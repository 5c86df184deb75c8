using System.Text.Json;
using Microkernel.TestSupport;

namespace Microkernel.Plugins.Network.Tests;

/// <summary>Missing, empty, truncated and corrupt captures: partial results plus one error, never a crash.</summary>
public sealed class BadInputTests
{
    private static readonly byte[][] ThreeQueries =
    [
        CaptureBuilder.Ethernet(
            CaptureBuilder.Udp(
                "192.168.56.101",
                "8.8.8.8",
                50000,
                53,
                CaptureBuilder.DnsQuery("one.example")
            )
        ),
        CaptureBuilder.Ethernet(
            CaptureBuilder.Udp(
                "192.168.56.101",
                "8.8.8.8",
                50001,
                53,
                CaptureBuilder.DnsQuery("two.example")
            )
        ),
        CaptureBuilder.Ethernet(
            CaptureBuilder.Udp(
                "192.168.56.101",
                "8.8.8.8",
                50002,
                53,
                CaptureBuilder.DnsQuery("three.example")
            )
        ),
    ];

    private static async Task<JsonDocument> RunAsync(byte[]? capture, string folder)
    {
        if (capture is not null)
        {
            await File.WriteAllBytesAsync(Path.Combine(folder, "dump.pcap"), capture);
        }
        var document = await ModuleHarness.RunAsync(new NetworkAnalysis(), folder);
        return document!;
    }

    private static string[] Domains(JsonDocument document) =>
        document
            .RootElement.GetProperty("domains")
            .EnumerateArray()
            .Select(d => d.GetProperty("domain").GetString()!)
            .ToArray();

    private static string Error(JsonDocument document) =>
        Assert.Single(document.RootElement.GetProperty("errors").EnumerateArray()).GetString()!;

    [Fact]
    public async Task Missing_capture_gives_only_mitm()
    {
        using var folder = TempDirectory.Create();
        using var document = await RunAsync(null, folder.Path);
        Assert.Equal("{\"mitm\":[]}", document.RootElement.GetRawText());
    }

    [Fact]
    public async Task Empty_capture_gives_only_mitm()
    {
        using var folder = TempDirectory.Create();
        using var document = await RunAsync([], folder.Path);
        Assert.Equal("{\"mitm\":[]}", document.RootElement.GetRawText());
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public async Task Classic_pcap_in_every_byte_order_and_resolution(
        bool bigEndian,
        bool nanoseconds
    )
    {
        using var folder = TempDirectory.Create();
        using var document = await RunAsync(
            CaptureBuilder.Pcap(ThreeQueries, bigEndian: bigEndian, nanoseconds: nanoseconds),
            folder.Path
        );
        Assert.Equal(["one.example", "two.example", "three.example"], Domains(document));
        var udp = document.RootElement.GetProperty("udp");
        Assert.Equal(1.0, udp[1].GetProperty("time").GetDouble());
        Assert.Equal(24 + 16 + ThreeQueries[0].Length, udp[1].GetProperty("offset").GetInt64());
    }

    [Theory]
    [InlineData(101)]
    [InlineData(113)]
    [InlineData(0)]
    public async Task Other_link_types(int linkType)
    {
        var frames = ThreeQueries.Select(f =>
            linkType switch
            {
                101 => f[14..],
                113 => new byte[16]
                    .Concat(f[14..])
                    .ToArray(),
                _ => new byte[] { 2, 0, 0, 0 }
                    .Concat(f[14..])
                    .ToArray(),
            }
        );
        using var folder = TempDirectory.Create();
        using var document = await RunAsync(CaptureBuilder.Pcap(frames, linkType), folder.Path);
        Assert.Equal(3, Domains(document).Length);
    }

    [Fact]
    public async Task Pcapng_is_read()
    {
        using var folder = TempDirectory.Create();
        using var document = await RunAsync(CaptureBuilder.PcapNg(ThreeQueries), folder.Path);
        Assert.Equal(3, Domains(document).Length);
        Assert.Equal(
            ["8.8.8.8"],
            document
                .RootElement.GetProperty("dns_servers")
                .EnumerateArray()
                .Select(s => s.GetString())
        );
    }

    [Fact]
    public async Task Bad_magic_names_the_offset_and_still_hashes()
    {
        using var folder = TempDirectory.Create();
        var capture = CaptureBuilder.Pcap(ThreeQueries);
        capture[0] = 0x00;
        using var document = await RunAsync(capture, folder.Path);
        Assert.Contains("byte offset 0: bad magic", Error(document), StringComparison.Ordinal);
        Assert.Equal(64, document.RootElement.GetProperty("pcap_sha256").GetString()!.Length);
        Assert.False(document.RootElement.TryGetProperty("dns", out _));
    }

    [Fact]
    public async Task Record_cut_mid_body_keeps_earlier_packets()
    {
        using var folder = TempDirectory.Create();
        var capture = CaptureBuilder.Pcap(ThreeQueries);
        using var document = await RunAsync(capture[..^10], folder.Path);
        Assert.Equal(["one.example", "two.example"], Domains(document));
        var third = 24 + 16 + ThreeQueries[0].Length + 16 + ThreeQueries[1].Length;
        Assert.Contains(
            $"dump.pcap: damaged capture at byte offset {third}: record body cut short",
            Error(document),
            StringComparison.Ordinal
        );
    }

    [Fact]
    public async Task Record_cut_mid_header_keeps_earlier_packets()
    {
        using var folder = TempDirectory.Create();
        var full = CaptureBuilder.Pcap(ThreeQueries);
        var cut = full.Length - ThreeQueries[2].Length - 6;
        using var document = await RunAsync(full[..cut], folder.Path);
        Assert.Equal(["one.example", "two.example"], Domains(document));
        Assert.Contains(
            $"byte offset {cut - 10}: record header cut short (10 of 16 bytes)",
            Error(document),
            StringComparison.Ordinal
        );
    }

    [Theory]
    [InlineData(70_000u, 65535u)]
    [InlineData(0xFFFFFFF0u, 0u)]
    public async Task Caplen_over_snaplen_or_absurd_is_damage(uint caplen, uint snaplen)
    {
        using var folder = TempDirectory.Create();
        var capture = CaptureBuilder.Pcap(ThreeQueries, snapLength: snaplen == 0 ? 65535 : snaplen);
        var third = capture.Length - ThreeQueries[2].Length - 16;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(
            capture.AsSpan(third + 8),
            caplen
        );
        using var document = await RunAsync(capture, folder.Path);
        Assert.Equal(["one.example", "two.example"], Domains(document));
        Assert.Contains(
            $"byte offset {third}: record claims {caplen} captured bytes",
            Error(document),
            StringComparison.Ordinal
        );
    }

    [Fact]
    public async Task Truncated_pcapng_block_is_damage()
    {
        using var folder = TempDirectory.Create();
        var capture = CaptureBuilder.PcapNg(ThreeQueries);
        using var document = await RunAsync(capture[..^3], folder.Path);
        Assert.Equal(2, Domains(document).Length);
        Assert.Contains("pcapng block cut short", Error(document), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Random_garbage_after_a_valid_header_never_crashes()
    {
        var random = new Random(1234);
        for (var round = 0; round < 50; round++)
        {
            var capture = CaptureBuilder.Pcap(ThreeQueries);
            for (var i = 0; i < 20; i++)
            {
                capture[24 + random.Next(capture.Length - 24)] = (byte)random.Next(256);
            }
            using var folder = TempDirectory.Create();
            using var document = await RunAsync(capture, folder.Path);
            Assert.True(document.RootElement.TryGetProperty("pcap_sha256", out _));
        }
    }

    [Fact]
    public async Task Dns_compression_loop_is_ignored()
    {
        var query = CaptureBuilder.DnsQuery("a.example");
        query[12] = 0xC0;
        query[13] = 12; // points at itself
        using var folder = TempDirectory.Create();
        using var document = await RunAsync(
            CaptureBuilder.Pcap([
                CaptureBuilder.Ethernet(
                    CaptureBuilder.Udp("192.168.56.101", "8.8.8.8", 1, 53, query)
                ),
            ]),
            folder.Path
        );
        Assert.Empty(document.RootElement.GetProperty("dns").EnumerateArray());
        Assert.Single(document.RootElement.GetProperty("udp").EnumerateArray());
    }
}
