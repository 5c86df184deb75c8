using System.Text;
using Microkernel.Plugins.Network.Capture;
using Microkernel.Plugins.Network.Streams;
using Microkernel.TestSupport;

namespace Microkernel.Plugins.Network.Tests.Streams;

/// <summary>Spilling idle streams to disk changes what is in memory, never the pairs.</summary>
public sealed class TcpConversationsTests
{
    private const byte Syn = 0x02;
    private const byte Ack = 0x10;
    private const byte Psh = 0x08;

    private sealed record Pair(string Stream, double? Ts, string Sent, string Received, bool Ended);

    /// <summary>
    /// Connections that interleave, as in a capture sorted by flow whose connections were cut
    /// by the sort: each sends a request and gets an answer (both acknowledged, so they wait
    /// as pair data), a third of them also leave an unacknowledged segment, and every other
    /// one asks again much later (which flushes its first pair mid-capture).
    /// </summary>
    private static List<byte[]> Frames(int streams)
    {
        var handshakes = new List<byte[]>();
        var requests = new List<byte[]>();
        var answers = new List<byte[]>();
        var acks = new List<byte[]>();
        var again = new List<byte[]>();
        for (var i = 0; i < streams; i++)
        {
            var client = "192.168.56.101";
            var server = $"10.0.{i / 250}.{i % 250 + 1}";
            var port = (ushort)(40000 + i);
            var request = Encoding.ASCII.GetBytes($"GET /{i} HTTP/1.1\r\nHost: h{i}\r\n\r\n");
            var answer = Encoding.ASCII.GetBytes(
                $"HTTP/1.1 200 OK\r\nContent-Length: 1500\r\n\r\n{new string((char)('a' + i % 26), 1500)}"
            );
            uint c = 1001,
                s = 5001;
            handshakes.Add(CaptureBuilder.EthernetTcp(client, server, port, 80, 1000, 0, Syn, []));
            handshakes.Add(
                CaptureBuilder.EthernetTcp(server, client, 80, port, 5000, c, Syn | Ack, [])
            );
            handshakes.Add(CaptureBuilder.EthernetTcp(client, server, port, 80, c, s, Ack, []));
            requests.Add(
                CaptureBuilder.EthernetTcp(client, server, port, 80, c, s, Ack | Psh, request)
            );
            c += (uint)request.Length;
            answers.Add(
                CaptureBuilder.EthernetTcp(server, client, 80, port, s, c, Ack | Psh, answer)
            );
            s += (uint)answer.Length;
            acks.Add(CaptureBuilder.EthernetTcp(client, server, port, 80, c, s, Ack, []));
            if (i % 3 == 0)
            {
                // The server's ACK for this never comes: it waits as a segment.
                acks.Add(
                    CaptureBuilder.EthernetTcp(
                        server,
                        client,
                        80,
                        port,
                        s,
                        c,
                        Ack | Psh,
                        new byte[700]
                    )
                );
            }
            if (i % 2 == 0)
            {
                again.Add(
                    CaptureBuilder.EthernetTcp(client, server, port, 80, c, s, Ack | Psh, request)
                );
                again.Add(
                    CaptureBuilder.EthernetTcp(
                        server,
                        client,
                        80,
                        port,
                        s,
                        c + (uint)request.Length,
                        Ack,
                        []
                    )
                );
            }
        }
        return [.. handshakes, .. requests, .. answers, .. acks, .. again];
    }

    private static (List<Pair> Pairs, TcpConversations Conversations) Run(
        List<byte[]> frames,
        SpillFile? spill,
        long spillAbove,
        Action<TcpConversations>? afterEach = null
    )
    {
        var pairs = new List<Pair>();
        var conversations = new TcpConversations(
            1 << 20,
            64 << 20,
            p =>
                pairs.Add(
                    new Pair(
                        p.Stream.ToString(),
                        p.Timestamp,
                        Convert.ToHexString(p.Sent.Span),
                        Convert.ToHexString(p.Received.Span),
                        p.StreamEnded
                    )
                ),
            _ => { },
            spill,
            spillAbove
        );
        var ts = 1.0;
        foreach (var frame in frames)
        {
            Assert.Equal(DecodeResult.Ip, PacketDecoder.Decode(1, frame, out var packet));
            conversations.Process(ts++, packet);
            afterEach?.Invoke(conversations);
        }
        conversations.Finish();
        return (pairs, conversations);
    }

    [Fact]
    public void Spilled_streams_give_the_same_pairs_in_the_same_order()
    {
        var frames = Frames(300);
        var (expected, plain) = Run(frames, null, TcpConversations.DefaultSpillAboveBytes);
        Assert.Equal(0, plain.Spills);
        // Every stream pairs once at the end, and every other one once before.
        Assert.Equal(450, expected.Count);

        using var folder = TempDirectory.Create();
        using var spill = new SpillFile(Path.Combine(folder.Path, "spill.bin"));
        const long Threshold = 32 * 1024;
        var peakResident = 0L;
        var (pairs, spilled) = Run(
            frames,
            spill,
            Threshold,
            c => peakResident = Math.Max(peakResident, c.ResidentBytes)
        );
        Assert.Equal(expected, pairs);
        Assert.True(spilled.Spills > 300, $"{spilled.Spills} spills"); // most streams, some twice
        Assert.Equal(plain.PeakBufferedBytes, spilled.PeakBufferedBytes); // the budget's view
        // Over the threshold by at most what one packet adds before the next spill.
        Assert.True(peakResident <= Threshold + 8192, $"{peakResident}");
        Assert.Equal(0, spill.LiveBytes); // everything was read back
        Assert.True(spill.PeakBytes > 500_000, $"{spill.PeakBytes}");
    }

    [Fact]
    public void The_stream_being_processed_is_never_spilled()
    {
        // One stream that alone holds more than the threshold: it stays in memory.
        var frames = Frames(1);
        using var folder = TempDirectory.Create();
        using var spill = new SpillFile(Path.Combine(folder.Path, "spill.bin"));
        var (pairs, conversations) = Run(frames, spill, 1024);
        Assert.Equal(2, pairs.Count);
        Assert.Equal(0, conversations.Spills);
    }
}
