using System.Buffers.Binary;

namespace Microkernel.Plugins.Network.Capture;

/// <summary>
/// Cuckoo 2.0's <c>sort_pcap</c>: <c>dump_sorted.pcap</c> with the packets grouped by flow,
/// byte for byte as Cuckoo writes it (see fixtures/pcap/GOLDEN.md): snaplen 1500,
/// caplen == len, timestamps through dpkt's lossy microsecond conversion twice, packets sorted
/// by (flow, ts, n) in 32,000-packet chunks that are then merged with keys recomputed from each
/// chunk, exactly as Cuckoo's <c>batch_sort</c> re-reads its temporary chunk files.
/// </summary>
/// <remarks>
/// Streams: the input is read once, front to back. A chunk is an index (flow, time, position)
/// of its 32,000 records plus a copy of their bytes in <see cref="ChunkRecords"/> (at most
/// <see cref="ChunkBufferBytes"/>, enough for 32,000 full-size Ethernet frames), from which the
/// sorted chunk is written; only records that do not fit are read back from the input by
/// offset. The merge keeps one record per chunk in memory. Only the set of flows grows with
/// the capture.
/// </remarks>
internal static class PcapSorter
{
    /// <summary>Cuckoo's <c>batch_sort</c> buffer size.</summary>
    internal const int ChunkPackets = 32_000;

    private const uint SnapLength = 1500;

    /// <summary>
    /// The most of a chunk's bytes kept in memory: 32,000 records of 1,514-byte frames with
    /// their 16-byte headers take 46.7 MiB. Reading records back one <c>pread</c> each cost
    /// 1 GiB of capture about 6 s of system time.
    /// </summary>
    internal const int ChunkBufferBytes = 48 << 20;

    /// <summary>Chunk bytes are kept in blocks of this size, allocated as a chunk first needs them.</summary>
    internal const int ChunkBlockBytes = 1 << 20;

    /// <summary>
    /// Sorts <paramref name="input"/> into <paramref name="output"/>. False (and no output)
    /// when there is nothing to write (no packets) or the capture is not one Cuckoo can sort
    /// (pcapng, link types other than Ethernet and raw IP); <paramref name="problem"/> says why.
    /// </summary>
    /// <param name="inputObserver">
    /// Sees every byte of <paramref name="input"/> once, in order, when the sort succeeds (the
    /// module's <c>pcap_sha256</c>: the sort is the only pass over the input).
    /// </param>
    public static bool Sort(
        string input,
        string output,
        string scratch,
        out string? problem,
        CancellationToken cancellationToken,
        Action<ReadOnlySpan<byte>>? inputObserver = null
    ) => Sort(input, output, () => scratch, out problem, cancellationToken, inputObserver);

    /// <summary>The same with a scratch folder asked for only when the capture needs more than one chunk.</summary>
    public static bool Sort(
        string input,
        string output,
        Func<string> scratch,
        out string? problem,
        CancellationToken cancellationToken,
        Action<ReadOnlySpan<byte>>? inputObserver = null
    ) =>
        Sort(
            input,
            output,
            scratch,
            ChunkPackets,
            new ChunkRecords(ChunkBufferBytes, ChunkBlockBytes),
            inputObserver,
            out problem,
            cancellationToken
        );

    /// <summary>
    /// The same with a smaller chunk size (so tests can reach the merge) and a given record
    /// buffer (so they can overflow it).
    /// </summary>
    internal static bool Sort(
        string input,
        string output,
        Func<string> scratch,
        int chunkPackets,
        ChunkRecords records,
        Action<ReadOnlySpan<byte>>? inputObserver,
        out string? problem,
        CancellationToken cancellationToken
    )
    {
        problem = null;
        using var file = new FileStream(
            input,
            FileMode.Open,
            FileAccess.Read,
            FileShare.Read,
            1,
            FileOptions.SequentialScan
        );
        using var reader = new CaptureReader(file, Path.GetFileName(input), inputObserver);
        if (!reader.Open())
        {
            problem = reader.Error;
            return false;
        }
        if (reader.Format != CaptureFormat.Pcap)
        {
            problem =
                "Cuckoo's sort_pcap reads classic pcap only (dpkt 1.8.7); pcapng is left unsorted";
            return false;
        }
        var linkType = reader.LinkType;
        if (linkType is not (1 or 101))
        {
            problem =
                $"Cuckoo's sort_pcap handles Ethernet and raw IP only, not link type {linkType}";
            return false;
        }
        using var random = File.OpenHandle(input, FileMode.Open, FileAccess.Read, FileShare.Read);
        var flows = new FlowTable();
        var chunks = new List<string>();
        var index = new List<IndexEntry>(chunkPackets);
        var counter = 0L;
        var record = new byte[CaptureReader.MaxRecordBytes];
        var chunkFlows = new HashSet<FlowTuple>();
        try
        {
            var more = true;
            while (more)
            {
                index.Clear();
                records.Clear();
                while (index.Count < chunkPackets)
                {
                    if (!reader.TryReadNext(out var ts, out var recordOffset, out var frame))
                    {
                        // After damage too, the observer sees the whole file.
                        reader.DrainToObserver();
                        more = false;
                        break;
                    }
                    cancellationToken.ThrowIfCancellationRequested();
                    var tuple = FlowTuple.FromFrame(frame, linkType);
                    var flow = flows.Normalised(tuple);
                    index.Add(
                        new IndexEntry(
                            flow,
                            flows.Intern(tuple),
                            ts,
                            ++counter,
                            recordOffset + 16,
                            frame.Length,
                            records.TryAdd(frame)
                        )
                    );
                }
                if (index.Count == 0)
                {
                    break;
                }
                index.Sort((a, b) => CompareKeys(flows, a.Flow, a.Ts, a.N, b.Flow, b.Ts, b.N));
                if (!more && chunks.Count == 0)
                {
                    // One chunk: the merge of a single chunk file is that file in order.
                    WriteSingleChunk(random, index, records, output, linkType, record);
                    return true;
                }
                var chunkPath = Path.Combine(scratch(), $"sort-chunk-{chunks.Count}.bin");
                chunks.Add(chunkPath);
                WriteChunk(random, index, records, chunkPath, flows, record, chunkFlows);
            }
            if (chunks.Count == 0)
            {
                return false; // no packets: Cuckoo writes no file
            }
            Merge(chunks, flows, output, linkType, cancellationToken);
            return true;
        }
        finally
        {
            foreach (var chunk in chunks)
            {
                File.Delete(chunk);
            }
            if (reader.Error is not null)
            {
                problem = reader.Error;
            }
        }
    }

    /// <param name="Flow">The sort flow (direction first seen in the whole capture).</param>
    /// <param name="RawFlow">The packet's own (src, dst, sport, dport, proto).</param>
    /// <param name="Offset">Where the packet's bytes are in the input.</param>
    /// <param name="Copy">Where they are in the chunk's <see cref="ChunkRecords"/>, or -1.</param>
    private readonly record struct IndexEntry(
        int Flow,
        int RawFlow,
        double Ts,
        long N,
        long Offset,
        int Length,
        long Copy
    );

    private static int CompareKeys(
        FlowTable flows,
        int flowA,
        double tsA,
        long nA,
        int flowB,
        double tsB,
        long nB
    )
    {
        var byFlow = flowA == flowB ? 0 : flows.Compare(flowA, flowB);
        if (byFlow != 0)
        {
            return byFlow;
        }
        var byTime = tsA.CompareTo(tsB);
        return byTime != 0 ? byTime : nA.CompareTo(nB);
    }

    /// <summary>The packet's bytes: the chunk's copy, or read back from the input into <paramref name="scratch"/>.</summary>
    private static ReadOnlySpan<byte> Record(
        Microsoft.Win32.SafeHandles.SafeFileHandle input,
        in IndexEntry entry,
        ChunkRecords records,
        byte[] scratch
    )
    {
        if (entry.Copy >= 0)
        {
            return records.Get(entry.Copy, entry.Length);
        }
        var into = scratch.AsSpan(0, entry.Length);
        var read = 0;
        while (read < into.Length)
        {
            var count = RandomAccess.Read(input, into[read..], entry.Offset + read);
            if (count <= 0)
            {
                throw new IOException($"capture shrank while sorting (offset {entry.Offset})");
            }
            read += count;
        }
        return into;
    }

    private static void WriteSingleChunk(
        Microsoft.Win32.SafeHandles.SafeFileHandle input,
        List<IndexEntry> index,
        ChunkRecords records,
        string output,
        int linkType,
        byte[] buffer
    )
    {
        using var writer = new SortedPcapWriter(output, linkType);
        foreach (var entry in index)
        {
            var raw = Record(input, entry, records, buffer);
            // Written to Cuckoo's chunk file (first rounding), read back, written again.
            writer.Write(raw, DpktTime.RoundTrip(entry.Ts));
        }
    }

    /// <summary>
    /// A chunk file holds what Cuckoo's merge would read back from its chunk pcap: the packet,
    /// its once-rounded time, and the merge key a fresh reader of that file computes (its own
    /// counter from 1 and its own flow directions).
    /// </summary>
    private static void WriteChunk(
        Microsoft.Win32.SafeHandles.SafeFileHandle input,
        List<IndexEntry> index,
        ChunkRecords records,
        string path,
        FlowTable flows,
        byte[] buffer,
        HashSet<FlowTuple> seen
    )
    {
        // The directions a fresh reader of this chunk file would see first (one set, reused).
        seen.Clear();
        using var output = new FileStream(
            path,
            FileMode.Create,
            FileAccess.Write,
            FileShare.None,
            1 << 16
        );
        var header = new byte[ChunkRecordHeader];
        var counter = 0;
        foreach (var entry in index)
        {
            var raw = Record(input, entry, records, buffer);
            var forward = flows[entry.RawFlow];
            var reverse = forward.Reversed();
            var mergeFlow = seen.Contains(reverse) ? reverse : forward;
            seen.Add(mergeFlow);
            BinaryPrimitives.WriteInt32LittleEndian(header, flows.Intern(mergeFlow));
            BinaryPrimitives.WriteDoubleLittleEndian(
                header.AsSpan(4),
                DpktTime.Reread(DpktTime.Convert(entry.Ts))
            );
            BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(12), ++counter);
            BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(16), entry.Length);
            output.Write(header);
            output.Write(raw);
        }
    }

    private const int ChunkRecordHeader = 20;

    private sealed class ChunkReader(string path, int order) : IDisposable
    {
        private readonly BufferedStream _stream = new(File.OpenRead(path), 1 << 16);
        private readonly byte[] _header = new byte[ChunkRecordHeader];
        public readonly int Order = order;
        public byte[] Raw = new byte[2048];
        public int Length;
        public int Flow;
        public double Ts;
        public int Counter;

        public bool Next()
        {
            if (
                _stream.ReadAtLeast(_header, ChunkRecordHeader, throwOnEndOfStream: false)
                < ChunkRecordHeader
            )
            {
                return false;
            }
            Flow = BinaryPrimitives.ReadInt32LittleEndian(_header);
            Ts = BinaryPrimitives.ReadDoubleLittleEndian(_header.AsSpan(4));
            Counter = BinaryPrimitives.ReadInt32LittleEndian(_header.AsSpan(12));
            Length = BinaryPrimitives.ReadInt32LittleEndian(_header.AsSpan(16));
            if (Raw.Length < Length)
            {
                Raw = new byte[Math.Max(Length, Raw.Length * 2)];
            }
            _stream.ReadExactly(Raw, 0, Length);
            return true;
        }

        public void Dispose() => _stream.Dispose();
    }

    /// <summary>
    /// heapq.merge over Keyed((flow, ts, n), Packet(raw, ts)) tuples: equal keys fall back to
    /// comparing the raw bytes, then the time, then the chunk order.
    /// </summary>
    private sealed class MergeOrder(FlowTable flows) : IComparer<ChunkReader>
    {
        public int Compare(ChunkReader? a, ChunkReader? b)
        {
            var key = CompareKeys(flows, a!.Flow, a.Ts, a.Counter, b!.Flow, b.Ts, b.Counter);
            if (key != 0)
            {
                return key;
            }
            var raw = a.Raw.AsSpan(0, a.Length).SequenceCompareTo(b.Raw.AsSpan(0, b.Length));
            return raw != 0 ? raw : a.Order.CompareTo(b.Order);
        }
    }

    private static void Merge(
        List<string> chunks,
        FlowTable flows,
        string output,
        int linkType,
        CancellationToken cancellationToken
    )
    {
        var readers = new List<ChunkReader>();
        try
        {
            var queue = new PriorityQueue<ChunkReader, ChunkReader>(new MergeOrder(flows));
            for (var i = 0; i < chunks.Count; i++)
            {
                var reader = new ChunkReader(chunks[i], i);
                readers.Add(reader);
                if (reader.Next())
                {
                    queue.Enqueue(reader, reader);
                }
            }
            using var writer = new SortedPcapWriter(output, linkType);
            var written = 0L;
            while (queue.TryDequeue(out var reader, out _))
            {
                if ((++written & 0xFFFF) == 0)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                }
                writer.Write(reader.Raw.AsSpan(0, reader.Length), DpktTime.Convert(reader.Ts));
                if (reader.Next())
                {
                    queue.Enqueue(reader, reader);
                }
            }
        }
        finally
        {
            foreach (var reader in readers)
            {
                reader.Dispose();
            }
        }
    }

    /// <summary>dpkt.pcap.Writer(snaplen=1500): little-endian, caplen == len == the bytes written.</summary>
    private sealed class SortedPcapWriter : IDisposable
    {
        private readonly FileStream _output;
        private readonly byte[] _header = new byte[16];

        public SortedPcapWriter(string path, int linkType)
        {
            _output = new FileStream(
                path,
                FileMode.Create,
                FileAccess.Write,
                FileShare.None,
                1 << 16
            );
            Span<byte> file = stackalloc byte[24];
            BinaryPrimitives.WriteUInt32LittleEndian(file, 0xA1B2C3D4);
            BinaryPrimitives.WriteUInt16LittleEndian(file[4..], 2);
            BinaryPrimitives.WriteUInt16LittleEndian(file[6..], 4);
            BinaryPrimitives.WriteUInt32LittleEndian(file[16..], SnapLength);
            BinaryPrimitives.WriteUInt32LittleEndian(file[20..], (uint)linkType);
            _output.Write(file);
        }

        public void Write(ReadOnlySpan<byte> raw, (uint Seconds, uint Microseconds) time)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(_header, time.Seconds);
            BinaryPrimitives.WriteUInt32LittleEndian(_header.AsSpan(4), time.Microseconds);
            BinaryPrimitives.WriteUInt32LittleEndian(_header.AsSpan(8), (uint)raw.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(_header.AsSpan(12), (uint)raw.Length);
            _output.Write(_header);
            _output.Write(raw);
        }

        public void Dispose() => _output.Dispose();
    }
}

/// <summary>dpkt 1.8.7's timestamp handling on the way out and back in.</summary>
internal static class DpktTime
{
    /// <summary>
    /// <c>tv_sec = int(ts)</c>, <c>tv_usec = int(round(ts % 1, 6) * 10**6)</c> with Python 2.7's
    /// correctly rounded <c>round</c> (half away from zero on the exact binary value).
    /// </summary>
    public static (uint Seconds, uint Microseconds) Convert(double ts)
    {
        var seconds = Math.Truncate(ts);
        var fraction = ts % 1.0;
        var micros = Math.Truncate(RoundToSixPlaces(fraction) * 1_000_000.0);
        return ((uint)seconds, (uint)micros);
    }

    /// <summary>Written by dpkt and read back: <c>tv_sec + tv_usec / 1e6</c>.</summary>
    public static double Reread((uint Seconds, uint Microseconds) time) =>
        time.Seconds + time.Microseconds / 1e6;

    /// <summary>Cuckoo's first pass (chunk file) and the output's conversion: twice lossy.</summary>
    public static (uint Seconds, uint Microseconds) RoundTrip(double ts) =>
        Convert(Reread(Convert(ts)));

    /// <summary>Python 2.7 <c>round(x, 6)</c> for 0 &lt;= x &lt; 1.</summary>
    internal static double RoundToSixPlaces(double x)
    {
        if (x <= 0)
        {
            return 0;
        }
        var bits = BitConverter.DoubleToInt64Bits(x);
        var exponent = (int)((bits >> 52) & 0x7FF);
        var mantissa = (ulong)(bits & 0xFFFFFFFFFFFFFL);
        if (exponent == 0)
        {
            return 0; // subnormal: far below half a millionth
        }
        mantissa |= 1UL << 52;
        var shift = 1075 - exponent; // x = mantissa / 2^shift
        if (shift > 120)
        {
            return 0;
        }
        var scaled = (UInt128)mantissa * 1_000_000;
        UInt128 quotient;
        bool roundUp;
        if (shift <= 0)
        {
            quotient = scaled << -shift;
            roundUp = false;
        }
        else
        {
            quotient = scaled >> shift;
            var remainder = scaled - (quotient << shift);
            roundUp = remainder << 1 >= (UInt128)1 << shift;
        }
        if (roundUp)
        {
            quotient++;
        }
        // The nearest double to quotient / 10^6: one correctly rounded division.
        return (double)quotient / 1_000_000.0;
    }
}

/// <summary>
/// Cuckoo's flow tuple <c>(src, dst, sport, dport, proto)</c> for sorting: IPv4 addresses
/// compare as dotted-quad strings; anything that is not IPv4 is <c>(0, 0, 0, 0, -1)</c>, which
/// sorts first (in Python 2 an int is less than a string).
/// </summary>
internal readonly record struct FlowTuple(
    bool IsIp,
    uint Source,
    uint Destination,
    ushort SourcePort,
    ushort DestinationPort,
    byte Protocol
)
{
    public static readonly FlowTuple NotIp = default;

    public FlowTuple Reversed() =>
        IsIp ? new(true, Destination, Source, DestinationPort, SourcePort, Protocol) : this;

    /// <summary>dpkt's view: Ethernet (one 802.1Q tag) or raw IP; IPv4 header without version check.</summary>
    public static FlowTuple FromFrame(ReadOnlySpan<byte> frame, int linkType)
    {
        ReadOnlySpan<byte> ip;
        if (linkType == 1)
        {
            if (frame.Length < 14)
            {
                return NotIp;
            }
            var type = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
            var body = frame[14..];
            if (type == 0x8100)
            {
                if (body.Length < 4)
                {
                    return NotIp;
                }
                type = BinaryPrimitives.ReadUInt16BigEndian(body[2..]);
                body = body[4..];
            }
            if (type != 0x0800)
            {
                return NotIp;
            }
            ip = body;
        }
        else
        {
            ip = frame;
        }
        if (ip.Length < 20)
        {
            return NotIp;
        }
        var headerLength = (ip[0] & 0x0F) * 4;
        if (headerLength < 20)
        {
            return NotIp;
        }
        var protocol = ip[9];
        var source = BinaryPrimitives.ReadUInt32BigEndian(ip[12..]);
        var destination = BinaryPrimitives.ReadUInt32BigEndian(ip[16..]);
        ushort sport = 0,
            dport = 0;
        if (protocol is 6 or 17)
        {
            // dpkt bounds the payload by the IP total length.
            int total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
            var end = Math.Min(total, ip.Length);
            var transport = headerLength <= end ? ip[headerLength..end] : [];
            if (transport.Length >= (protocol == 6 ? 20 : 8))
            {
                sport = BinaryPrimitives.ReadUInt16BigEndian(transport);
                dport = BinaryPrimitives.ReadUInt16BigEndian(transport[2..]);
            }
        }
        return new FlowTuple(true, source, destination, sport, dport, protocol);
    }

    public int CompareTo(FlowTuple other)
    {
        if (IsIp != other.IsIp)
        {
            return IsIp ? 1 : -1;
        }
        if (!IsIp)
        {
            return 0;
        }
        var c = Dotted(Source).CompareTo(Dotted(other.Source));
        if (c != 0)
        {
            return c;
        }
        c = Dotted(Destination).CompareTo(Dotted(other.Destination));
        if (c != 0)
        {
            return c;
        }
        c = SourcePort.CompareTo(other.SourcePort);
        if (c != 0)
        {
            return c;
        }
        c = DestinationPort.CompareTo(other.DestinationPort);
        return c != 0 ? c : Protocol.CompareTo(other.Protocol);
    }

    /// <summary>The dotted-quad text, zero-padded to 16 bytes, as a number that orders like the string.</summary>
    internal static UInt128 Dotted(uint address)
    {
        Span<byte> text = stackalloc byte[16];
        text.Clear();
        var at = 0;
        for (var shift = 24; shift >= 0; shift -= 8)
        {
            var octet = (address >> shift) & 0xFF;
            if (octet >= 100)
            {
                text[at++] = (byte)('0' + octet / 100);
            }
            if (octet >= 10)
            {
                text[at++] = (byte)('0' + octet / 10 % 10);
            }
            text[at++] = (byte)('0' + octet % 10);
            if (shift > 0)
            {
                text[at++] = (byte)'.';
            }
        }
        return BinaryPrimitives.ReadUInt128BigEndian(text);
    }
}

/// <summary>Flow tuples by id, with the direction each was first seen in.</summary>
internal sealed class FlowTable
{
    private readonly Dictionary<FlowTuple, int> _ids = [];
    private readonly List<FlowTuple> _tuples = [];

    // Dotted-quad sort keys of each flow's addresses, made once rather than per comparison.
    private readonly List<(UInt128 Source, UInt128 Destination)> _dotted = [];

    /// <summary>Python 2's comparison of the two flow tuples.</summary>
    public int Compare(int a, int b)
    {
        var x = _tuples[a];
        var y = _tuples[b];
        if (x.IsIp != y.IsIp)
        {
            return x.IsIp ? 1 : -1;
        }
        if (!x.IsIp)
        {
            return 0;
        }
        var c = _dotted[a].Source.CompareTo(_dotted[b].Source);
        if (c != 0)
        {
            return c;
        }
        c = _dotted[a].Destination.CompareTo(_dotted[b].Destination);
        if (c != 0)
        {
            return c;
        }
        c = x.SourcePort.CompareTo(y.SourcePort);
        if (c != 0)
        {
            return c;
        }
        c = x.DestinationPort.CompareTo(y.DestinationPort);
        return c != 0 ? c : x.Protocol.CompareTo(y.Protocol);
    }

    private readonly HashSet<FlowTuple> _seen = [];

    public FlowTuple this[int id] => _tuples[id];

    public int Intern(FlowTuple tuple)
    {
        if (!_ids.TryGetValue(tuple, out var id))
        {
            id = _tuples.Count;
            _tuples.Add(tuple);
            _dotted.Add((FlowTuple.Dotted(tuple.Source), FlowTuple.Dotted(tuple.Destination)));
            _ids[tuple] = id;
        }
        return id;
    }

    /// <summary>SortCap.next: the reverse tuple when that direction was seen before.</summary>
    public int Normalised(FlowTuple tuple)
    {
        var reverse = tuple.Reversed();
        var flow = _seen.Contains(reverse) ? reverse : tuple;
        _seen.Add(flow);
        return Intern(flow);
    }
}

/// <summary>
/// The bytes of the chunk being sorted, copied as they are read, in blocks that are allocated
/// on first need and reused by the next chunks (a small capture allocates only what it uses).
/// Bounded by its capacity: records that do not fit are not copied.
/// </summary>
internal sealed class ChunkRecords(int capacity, int blockBytes)
{
    private readonly List<byte[]> _blocks = [];
    private int _block;
    private int _used;

    /// <summary>Blocks allocated so far (tests: the capacity holds).</summary>
    public int Blocks => _blocks.Count;

    /// <summary>Starts a new chunk; the blocks are kept.</summary>
    public void Clear()
    {
        _block = 0;
        _used = 0;
    }

    /// <summary>Copies the record; where it went, or -1 when it does not fit.</summary>
    public long TryAdd(ReadOnlySpan<byte> record)
    {
        if (record.Length > blockBytes)
        {
            return -1;
        }
        // A record never straddles two blocks: one that does not fit in what is left of the
        // current block starts the next, unless that would pass the capacity (then smaller
        // records may still fill the current block).
        var block = _block;
        var used = _used;
        if (blockBytes - used < record.Length)
        {
            block++;
            used = 0;
        }
        if (block == _blocks.Count)
        {
            if ((long)(block + 1) * blockBytes > capacity)
            {
                return -1;
            }
            _blocks.Add(GC.AllocateUninitializedArray<byte>(blockBytes));
        }
        record.CopyTo(_blocks[block].AsSpan(used));
        _block = block;
        _used = used + record.Length;
        return (long)block * blockBytes + used;
    }

    public ReadOnlySpan<byte> Get(long at, int length) =>
        _blocks[(int)(at / blockBytes)].AsSpan((int)(at % blockBytes), length);
}
