using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text.Json;
using Microkernel.Contracts;
using Microkernel.Plugins.Network.Capture;
using Microkernel.Plugins.Network.Dissection;
using Microkernel.Plugins.Network.Output;
using Microkernel.Plugins.Network.Streams;
using Microsoft.Extensions.Logging;

namespace Microkernel.Plugins.Network;

/// <summary>
/// Cuckoo 2.0's <c>NetworkAnalysis</c> (<c>network</c>, order 2): one streaming pass over
/// <c>dump.pcap</c> (pcap or pcapng) that yields the dpkt-style results (hosts, domains, DNS,
/// flows, ICMP, HTTP, SMTP, IRC, TLS, dead hosts) and the httpreplay-style exchanges
/// (<c>http_ex</c>, <c>smtp_ex</c>), plus <c>pcap_sha256</c>. Memory stays bounded: packets
/// are never held, TCP streams keep at most <c>max_stream_bytes</c> each and
/// <c>max_buffered_bytes</c> together.
/// </summary>
/// <remarks>
/// Methods run per packet or per exchange are marked
/// <c>[MethodImpl(MethodImplOptions.AggressiveOptimization)]</c>: the plugin is loaded afresh
/// for each analysis, and with tiered PGO each of them was otherwise compiled three times
/// (tier 0, instrumented, tier 1) and ran slow code for most of a 100 MB capture while the
/// background compiler caught up on a busy machine.
/// </remarks>
public sealed class NetworkAnalysis : Processing
{
    /// <inheritdoc />
    public override string Key => "network";

    /// <inheritdoc />
    public override int Order => 2;

    /// <inheritdoc />
    public override async Task<object?> RunAsync(CancellationToken cancellationToken)
    {
        var settings = NetworkSettings.From(Options, Context.ConfDirectory);
        var report = new NetworkReport();
        report.Mitm.AddRange(ReadMitm(Path.Combine(AnalysisPath, "mitm.log")));

        var pcapPath = PcapPath;
        if (!File.Exists(pcapPath))
        {
            Logger.LogWarning("The PCAP file does not exist at path \"{Path}\".", pcapPath);
            return Section(report);
        }
        if (new FileInfo(pcapPath).Length == 0)
        {
            Logger.LogError("The PCAP file at path \"{Path}\" is empty.", pcapPath);
            return Section(report);
        }

        var sorted = false;
        if (settings.SortPcap)
        {
            // Cuckoo dissects the sorted capture when sorting produced one; pcap_sha256 stays
            // the hash of dump.pcap.
            // Neither file is read just for its hash: the sort hashes dump.pcap as it reads it,
            // and the dissection hashes the sorted file it reads.
            var sortedPath = Path.Combine(AnalysisPath, "dump_sorted.pcap");
            try
            {
                using var inputHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                if (
                    PcapSorter.Sort(
                        pcapPath,
                        sortedPath,
                        () => Context.ScratchPath,
                        out var problem,
                        cancellationToken,
                        inputHash.AppendData
                    )
                )
                {
                    report.PcapSha256 = Convert.ToHexStringLower(inputHash.GetHashAndReset());
                    sorted = true;
                    pcapPath = sortedPath;
                }
                if (problem is not null)
                {
                    Logger.LogWarning("sort_pcap: {Problem}", problem);
                }
                // The sort's flow table and chunk buffer (up to 48 MiB) are garbage now. A
                // forced collection freed them but kept their regions committed for reuse
                // (40-60 MiB after a 1 GiB sort), on top of which the dissection committed its
                // own; the aggressive mode also gives the free regions back.
                GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            }
            catch (IOException ex)
            {
                Logger.LogWarning("Sorting {Path} failed: {Message}", pcapPath, ex.Message);
            }
        }

        try
        {
            return await DissectAndWriteAsync(pcapPath, sorted, settings, report, cancellationToken)
                .ConfigureAwait(false);
        }
        finally
        {
            report.Exchanges?.Dispose();
        }
    }

    private async Task<JsonSection> DissectAndWriteAsync(
        string pcapPath,
        bool sorted,
        NetworkSettings settings,
        NetworkReport report,
        CancellationToken cancellationToken
    )
    {
        await Task.Run(
                () => Dissect(pcapPath, sorted, settings, report, cancellationToken),
                cancellationToken
            )
            .ConfigureAwait(false);
        if (settings.ResolveDns && report.Dissector is not null)
        {
            report.ResolvedDomains = await DomainResolver
                .ResolveAsync(
                    report.Dissector.Domains,
                    settings.ResolveDnsTimeout,
                    settings.ResolveDnsBudget,
                    Logger,
                    cancellationToken
                )
                .ConfigureAwait(false);
        }
        return Section(report);
    }

    /// <summary>
    /// One pass over the capture on two cores: this thread hashes the file and runs the
    /// dpkt-style dissector, a second thread reads the same file again (the page cache serves
    /// it) and runs TCP reassembly and the http_ex/smtp_ex exchanges, which cost about as much.
    /// Two readers rather than a hand-off of packets: the threads share nothing while they run,
    /// and both stop at the same damage. A failure on either thread stops the other.
    /// </summary>
    /// <param name="sorted">
    /// <paramref name="pcapPath"/> is dump_sorted.pcap: its hash is <c>sorted_pcap_sha256</c>,
    /// and its 1500-byte snaplen is not enforced (Cuckoo keeps longer frames under it).
    /// </param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Dissect(
        string pcapPath,
        bool sorted,
        NetworkSettings settings,
        NetworkReport report,
        CancellationToken cancellationToken
    )
    {
        using var sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var enforceSnapLength = !sorted;
        using var reader = OpenReader(pcapPath, sha256.AppendData, enforceSnapLength);
        var exchanges = new ApplicationExchanges(
            Path.Combine(AnalysisPath, "network"),
            () => Path.Combine(Context.ScratchPath, $"http_ex-{Guid.NewGuid():N}.jsonl")
        );
        report.Exchanges = exchanges;
        if (!reader.Open())
        {
            report.Errors.Add(reader.Error!);
            Logger.LogError("Unable to read PCAP file: {Error}", reader.Error);
            reader.DrainToObserver();
            KeepHash(report, sorted, sha256);
            return;
        }
        var dissector = new CuckooDissector(settings.Dissector);
        report.Dissector = dissector;
        var streamNotes = new List<(long Packet, string Text)>();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        void Reassemble()
        {
            try
            {
                ReassembleStreams(
                    pcapPath,
                    () => Path.Combine(Context.ScratchPath, $"tcp-spill-{Guid.NewGuid():N}.bin"),
                    enforceSnapLength,
                    settings,
                    exchanges,
                    streamNotes,
                    stop.Token
                );
            }
            catch
            {
                stop.Cancel();
                throw;
            }
        }

        var streams =
            (reader.Length ?? long.MaxValue) >= settings.ParallelMinBytes
                ? Task.Factory.StartNew(
                    Reassemble,
                    CancellationToken.None,
                    TaskCreationOptions.LongRunning,
                    TaskScheduler.Default
                )
                : RunInline(Reassemble);
        try
        {
            var packets = 0L;
            while (reader.TryReadNext(out var timestamp, out var recordOffset, out var frame))
            {
                if ((++packets & 0xFFFF) == 0)
                {
                    stop.Token.ThrowIfCancellationRequested();
                }
                var result = PacketDecoder.Decode(reader.LinkType, frame, out var packet);
                dissector.Process(result, ref packet, timestamp, recordOffset, reader.Position);
            }
            // A cancellation after the last periodic check still ends the run: a cancelled
            // module never hands back a result, however close to the end it was.
            stop.Token.ThrowIfCancellationRequested();
        }
        catch
        {
            stop.Cancel();
            // The streams thread never outlives the module; its own failure, if it failed
            // first, is the one that explains the cancellation seen here.
            WaitQuietly(streams);
            if (streams.Exception?.InnerException is { } failure and not OperationCanceledException)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
            }
            throw;
        }
        streams.GetAwaiter().GetResult();
        if (reader.Error is not null)
        {
            report.Errors.Add(reader.Error);
            Context.ReportError(reader.Error);
            Logger.LogError(
                "{Error}; kept the {Count} packets read before it.",
                reader.Error,
                dissector.Packets
            );
            reader.DrainToObserver();
        }
        if (dissector.AbortedPackets > 0)
        {
            Logger.LogWarning(
                "{Count} packets could not be dissected (Cuckoo logs an exception for each).",
                dissector.AbortedPackets
            );
        }
        // Limits that dropped data: listed in network.errors and in debug.errors, in the order
        // of the packets that caused them (the dissector's first for the same packet).
        foreach (
            var note in dissector
                .Notes.Select(n => (n.Packet, Thread: 0, n.Text))
                .Concat(streamNotes.Select(n => (n.Packet, Thread: 1, n.Text)))
                .OrderBy(n => n.Packet)
                .ThenBy(n => n.Thread)
        )
        {
            report.Errors.Add(note.Text);
            Context.ReportError(note.Text);
        }
        KeepHash(report, sorted, sha256);
    }

    private static void KeepHash(NetworkReport report, bool sorted, IncrementalHash sha256)
    {
        var hash = Convert.ToHexStringLower(sha256.GetHashAndReset());
        if (sorted)
        {
            report.SortedPcapSha256 = hash;
        }
        else
        {
            report.PcapSha256 = hash;
        }
    }

    /// <summary>The streams thread: its own reader, TCP reassembly and the exchanges.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ReassembleStreams(
        string pcapPath,
        Func<string> spillPath,
        bool enforceSnapLength,
        NetworkSettings settings,
        ApplicationExchanges exchanges,
        List<(long Packet, string Text)> notes,
        CancellationToken cancellationToken
    )
    {
        using var reader = OpenReader(pcapPath, null, enforceSnapLength);
        if (!reader.Open())
        {
            return;
        }
        var packets = 0L;
        using var spill = new SpillFile(spillPath);
        var conversations = new TcpConversations(
            settings.MaxStreamBytes,
            settings.MaxBufferedBytes,
            exchanges.OnPair,
            note => notes.Add((packets, note)),
            spill
        );
        while (reader.TryReadNext(out var timestamp, out _, out var frame))
        {
            if ((++packets & 0xFFFF) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
            if (
                PacketDecoder.Decode(reader.LinkType, frame, out var packet) == DecodeResult.Ip
                && packet.HasTransport
                && packet.Protocol == PacketDecoder.Tcp
            )
            {
                conversations.Process(timestamp, packet);
            }
        }
        cancellationToken.ThrowIfCancellationRequested();
        // Notes from the end of the capture come after every packet's.
        packets = long.MaxValue;
        conversations.Finish();
    }

    private static CaptureReader OpenReader(
        string pcapPath,
        Action<ReadOnlySpan<byte>>? observer,
        bool enforceSnapLength
    )
    {
        var stream = new FileStream(
            pcapPath,
            FileMode.Open,
            FileAccess.Read,
            FileShare.Read,
            1,
            FileOptions.SequentialScan
        );
        return new CaptureReader(stream, Path.GetFileName(pcapPath), observer, enforceSnapLength);
    }

    /// <summary>Runs the streams pass on this thread, its failure kept as a parallel run keeps it.</summary>
    private static Task RunInline(Action pass)
    {
        try
        {
            pass();
            return Task.CompletedTask;
        }
        catch (Exception e)
        {
            return Task.FromException(e);
        }
    }

    private static void WaitQuietly(Task task)
    {
        try
        {
            task.Wait();
        }
        catch (AggregateException) { }
    }

    private JsonSection Section(NetworkReport report)
    {
        using var output = Context.CreateSectionStream();
        NetworkReportWriter.Write(output, report);
        return output.ToSection();
    }

    /// <summary>Cuckoo's mitm.log: one JSON document per line, other lines kept as text.</summary>
    private static IEnumerable<string> ReadMitm(string path)
    {
        if (!File.Exists(path))
        {
            yield break;
        }
        foreach (var line in File.ReadLines(path, System.Text.Encoding.Latin1))
        {
            string json;
            try
            {
                using var document = JsonDocument.Parse(line);
                json = document.RootElement.GetRawText();
            }
            catch (JsonException)
            {
                json = JsonSerializer.Serialize(line + "\n", MitmJsonContext.Default.String);
            }
            yield return json;
        }
    }
}
