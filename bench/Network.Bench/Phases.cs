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

    /// <summary>sort_pcap alone, into a temporary folder: where its time goes (user or system).</summary>
    public static void Sort(string capture)
    {
        var folder = Path.Combine(Path.GetTempPath(), $"bench-sort-{Environment.ProcessId}");
        Directory.CreateDirectory(folder);
        try
        {
            using var self = Process.GetCurrentProcess();
            var user = self.UserProcessorTime;
            var system = self.PrivilegedProcessorTime;
            var clock = Stopwatch.StartNew();
            PcapSorter.Sort(
                capture,
                Path.Combine(folder, "dump_sorted.pcap"),
                folder,
                out var problem,
                CancellationToken.None
            );
            clock.Stop();
            self.Refresh();
            Console.WriteLine(
                $"sort: {clock.Elapsed.TotalSeconds:F2} s wall, user {(self.UserProcessorTime - user).TotalSeconds:F2} s + sys {(self.PrivilegedProcessorTime - system).TotalSeconds:F2} s; "
                    + $"peak working set {self.PeakWorkingSet64 / (1024.0 * 1024):F0} MiB{(problem is null ? "" : "; " + problem)}"
            );
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
