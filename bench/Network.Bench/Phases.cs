using System.Diagnostics;
using Microkernel.Plugins.Network.Capture;
using Microkernel.Plugins.Network.Dissection;
using Microkernel.Plugins.Network.Streams;

namespace Microkernel.Bench.Network;

/// <summary>Times the pipeline stage by stage (reader, + dissector, + TCP conversations).</summary>
internal static class Phases
{
    public static void Run(string capture)
    {
        for (var stage = 0; stage < 3; stage++)
        {
            var clock = Stopwatch.StartNew();
            using var reader = new CaptureReader(File.OpenRead(capture), capture);
            reader.Open();
            var dissector = new CuckooDissector(new DissectorOptions());
            using var exchanges = new ApplicationExchanges(
                Path.Combine(Path.GetTempPath(), "bench-bodies"),
                Path.Combine(Path.GetTempPath(), $"bench-http_ex-{Environment.ProcessId}.jsonl")
            );
            var conversations = new TcpConversations(
                16 << 20,
                64 << 20,
                exchanges.OnPair,
                _ => { }
            );
            while (reader.TryReadNext(out var ts, out var offset, out var frame))
            {
                if (stage == 0)
                {
                    continue;
                }
                var result = PacketDecoder.Decode(reader.LinkType, frame, out var packet);
                dissector.Process(result, ref packet, ts, offset, reader.Position);
                if (
                    stage == 2
                    && result == DecodeResult.Ip
                    && packet.HasTransport
                    && packet.Protocol == PacketDecoder.Tcp
                )
                {
                    conversations.Process(ts, packet);
                }
            }
            conversations.Finish();
            Console.WriteLine(
                $"stage {stage}: {new FileInfo(capture).Length / 1e6 / clock.Elapsed.TotalSeconds:F0} MB/s (peak buffered {conversations.PeakBufferedBytes / (1024.0 * 1024):F1} MiB)"
            );
        }
    }
}
