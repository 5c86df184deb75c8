using Microkernel.Plugins.Network.Capture;
using Microkernel.Plugins.Network.Streams;
using Microkernel.TestSupport;

namespace Microkernel.Plugins.Network.Tests;

/// <summary>The global budget on TCP reassembly (max_buffered_bytes).</summary>
public sealed class MemoryLimitTests
{
    private const byte Syn = 0x02;
    private const byte Ack = 0x10;
    private const byte Psh = 0x08;

    /// <summary>
    /// Streams whose client data the server never acknowledges: httpreplay keeps those segments
    /// until the end of the capture. 200 such streams of 1000 bytes each.
    /// </summary>
    private static IEnumerable<byte[]> UnacknowledgedStreams(int streams)
    {
        for (var i = 0; i < streams; i++)
        {
            var client = "192.168.56.101";
            var server = $"10.0.{i / 250}.{i % 250 + 1}";
            var port = (ushort)(40000 + i);
            yield return CaptureBuilder.EthernetTcp(client, server, port, 80, 1000, 0, Syn, []);
            yield return CaptureBuilder.EthernetTcp(
                server,
                client,
                80,
                port,
                5000,
                1001,
                Syn | Ack,
                []
            );
            yield return CaptureBuilder.EthernetTcp(client, server, port, 80, 1001, 5001, Ack, []);
            yield return CaptureBuilder.EthernetTcp(
                client,
                server,
                port,
                80,
                1001,
                5001,
                Ack | Psh,
                new byte[1000]
            );
        }
    }

    [Fact]
    public void Buffered_bytes_stay_under_the_budget_and_evictions_are_noted()
    {
        const long budget = 32 * 1024;
        var notes = new List<string>();
        var conversations = new TcpConversations(1 << 20, budget, _ => { }, notes.Add);
        var timestamp = 1.0;
        foreach (var frame in UnacknowledgedStreams(200))
        {
            Assert.Equal(DecodeResult.Ip, PacketDecoder.Decode(1, frame, out var packet));
            conversations.Process(timestamp++, packet);
            Assert.True(conversations.BufferedBytes <= budget, $"{conversations.BufferedBytes}");
        }
        Assert.True(conversations.PeakBufferedBytes <= budget);
        Assert.True(conversations.TrackedStreams < 200);
        conversations.Finish();
        Assert.Equal(2, notes.Count);
        Assert.Contains("max_buffered_bytes (32768)", notes[0], StringComparison.Ordinal);
        Assert.Contains(
            "unacknowledged data, which was dropped",
            notes[1],
            StringComparison.Ordinal
        );
    }

    [Fact]
    public async Task Dropped_data_is_listed_in_errors_and_reported_to_the_host()
    {
        using var analysis = TempDirectory.Create();
        await File.WriteAllBytesAsync(
            Path.Combine(analysis.Path, "dump.pcap"),
            CaptureBuilder.Pcap(UnacknowledgedStreams(100))
        );
        var reported = new List<string>();
        using var document = await ModuleHarness.RunAsync(
            new NetworkAnalysis(),
            analysis.Path,
            options: new Dictionary<string, string> { ["max_buffered_bytes"] = "16384" },
            errors: reported
        );
        var errors = document!
            .RootElement.GetProperty("errors")
            .EnumerateArray()
            .Select(e => e.GetString()!)
            .ToList();
        Assert.Contains(
            errors,
            e => e.Contains("max_buffered_bytes (16384)", StringComparison.Ordinal)
        );
        Assert.Equal(errors, reported);
        Assert.Equal(100, document.RootElement.GetProperty("tcp").GetArrayLength());
    }

    [Fact]
    public async Task Without_pressure_nothing_is_reported()
    {
        using var analysis = TempDirectory.Create();
        await File.WriteAllBytesAsync(
            Path.Combine(analysis.Path, "dump.pcap"),
            CaptureBuilder.Pcap(UnacknowledgedStreams(10))
        );
        var reported = new List<string>();
        using var document = await ModuleHarness.RunAsync(
            new NetworkAnalysis(),
            analysis.Path,
            errors: reported
        );
        Assert.False(document!.RootElement.TryGetProperty("errors", out _));
        Assert.Empty(reported);
    }
}
