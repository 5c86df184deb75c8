using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microkernel.Plugins.Network.Capture;

namespace Microkernel.Plugins.Network.Streams;

/// <summary>
/// Cuckoo's Pcap2 (httpreplay's <c>TCPPacketStreamer</c>/<c>TCPStream</c>): per TCP connection,
/// payload is released in sequence order once the peer acknowledges it, and a (sent, received)
/// pair is cut each time the client speaks again after the server answered. Retransmissions
/// replace the buffered segment; out-of-order segments wait until acknowledged. Only
/// connections on handled ports (HTTP 80/8000/8080, SMTP 25/465/587) are tracked.
/// </summary>
/// <remarks>
/// Memory is bounded twice: each stream keeps at most <c>maxStreamBytes</c>, and all streams
/// together at most <c>maxBufferedBytes</c> (segments waiting for an acknowledgement, data
/// waiting to be paired, and a fixed cost per tracked stream). httpreplay's exact ACK matching
/// never releases some segments, so without the global budget every unfinished stream would
/// keep them until the end of the capture. Over budget, the least recently active streams are
/// evicted: what they have is flushed as httpreplay flushes at the end of the capture, and
/// their unacknowledged segments (which httpreplay would also drop unless acknowledged later)
/// are reported through <paramref name="onNote"/>.
/// <para>
/// Within the budget, what idle streams hold can be moved to <paramref name="spill"/> once the
/// streams together hold more than <paramref name="spillAboveBytes"/> in memory: the least
/// recently active first, brought back when their stream sees a packet again or is flushed.
/// The budget still counts spilled bytes, so evictions (and the output) do not change. In a
/// capture sorted by flow (<c>sort_pcap</c>), a connection that straddles one of the sort's
/// chunk boundaries is split in two places of the file; tens of thousands of streams then
/// wait for the end of the capture with their data (33 MiB for the 1 GiB benchmark capture).
/// </para>
/// </remarks>
internal sealed class TcpConversations(
    long maxStreamBytes,
    long maxBufferedBytes,
    Action<ConversationPair> onPair,
    Action<string> onNote,
    SpillFile? spill = null,
    long spillAboveBytes = TcpConversations.DefaultSpillAboveBytes
)
{
    /// <summary>Held bytes kept in memory before idle streams are spilled.</summary>
    internal const long DefaultSpillAboveBytes = 8 << 20;

    private const byte Fin = 0x01;
    private const byte Syn = 0x02;
    private const byte Rst = 0x04;
    private const byte Ack = 0x10;

    /// <summary>What an idle tracked stream costs (object, dictionary entry, empty state).</summary>
    internal const long StreamOverheadBytes = 256;

    private readonly Dictionary<StreamKey, TcpStream> _streams = [];

    // Least recently active first; every packet moves its stream to the tail.
    private TcpStream? _oldest;
    private TcpStream? _newest;
    private long _total;
    private int _overflowNotes;
    private long _evictedStreams;
    private long _evictedWithDataStreams;
    private long _droppedBytes;

    // Footprints of the spilled streams: _total less this is what is in memory.
    private long _spilledFootprint;
    private int _spilledStreams;

    // When spilling could not get under the target (the active stream alone holds that much,
    // or too little is idle), the next try waits for a quarter of the threshold more.
    private long _spillRetryAbove;

    public static bool IsHttpPort(ushort port) => port is 80 or 8000 or 8080;

    public static bool IsSmtpPort(ushort port) => port is 25 or 465 or 587;

    public static bool IsHandled(ushort sourcePort, ushort destinationPort) =>
        IsHttpPort(sourcePort)
        || IsHttpPort(destinationPort)
        || IsSmtpPort(sourcePort)
        || IsSmtpPort(destinationPort);

    /// <summary>Bytes currently held by all streams (including the per-stream overhead).</summary>
    public long BufferedBytes => _total;

    /// <summary>Largest <see cref="BufferedBytes"/> seen between packets (one segment may overshoot briefly).</summary>
    public long PeakBufferedBytes { get; private set; }

    public int TrackedStreams => _streams.Count;

    /// <summary>
    /// Data held in memory: what <see cref="BufferedBytes"/> counts, less what was spilled and
    /// less the fixed cost per stream (which spilling cannot lower).
    /// </summary>
    public long ResidentBytes =>
        _total - _spilledFootprint - StreamOverheadBytes * (_streams.Count - _spilledStreams);

    /// <summary>How many times a stream was spilled.</summary>
    public long Spills { get; private set; }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Process(double ts, in DecodedPacket packet)
    {
        if (!IsHandled(packet.SourcePort, packet.DestinationPort) || packet.Source.IsV6)
        {
            return;
        }
        var forward = new StreamKey(
            packet.Source,
            packet.SourcePort,
            packet.Destination,
            packet.DestinationPort
        );
        if (packet.TcpFlags == Syn && !_streams.ContainsKey(forward))
        {
            var created = new TcpStream(this, forward) { Footprint = StreamOverheadBytes };
            _streams[forward] = created;
            _total += StreamOverheadBytes;
        }
        TcpStream? stream;
        bool toServer;
        if (_streams.TryGetValue(forward, out stream))
        {
            toServer = true;
        }
        else if (
            _streams.TryGetValue(
                new StreamKey(
                    packet.Destination,
                    packet.DestinationPort,
                    packet.Source,
                    packet.SourcePort
                ),
                out stream
            )
        )
        {
            toServer = false;
        }
        else
        {
            return;
        }
        Touch(stream);
        Unspill(stream);
        var segment = new Segment(
            packet.Sequence,
            packet.Acknowledgement,
            packet.TcpFlags,
            packet.Payload
        );
        // httpreplay raises on packets that break its state machine; those packets are dropped.
        stream.Process(ts, segment, toServer);
        if (stream.IsFinished)
        {
            // httpreplay flushes every stream at the end of the capture; doing it at close
            // gives the same pairs (they are sorted by time later) without holding the data.
            stream.Finish();
        }
        Account(stream);
        if (_total > maxBufferedBytes)
        {
            Evict();
        }
        if (_total > PeakBufferedBytes)
        {
            PeakBufferedBytes = _total;
        }
        if (spill is not null)
        {
            var resident = ResidentBytes;
            if (resident <= spillAboveBytes)
            {
                _spillRetryAbove = 0;
            }
            else if (resident > _spillRetryAbove)
            {
                SpillIdle();
            }
        }
    }

    /// <summary>Spills the least recently active streams until a quarter of the threshold is free.</summary>
    private void SpillIdle()
    {
        var target = spillAboveBytes - spillAboveBytes / 4;
        // The newest stream is the one being processed.
        for (
            var stream = _oldest;
            stream is not null && stream != _newest && ResidentBytes > target;
            stream = stream.Newer
        )
        {
            if (!stream.IsSpilled && stream.HeldBytes > 0)
            {
                stream.Spill(spill!);
                _spilledFootprint += stream.Footprint;
                _spilledStreams++;
                Spills++;
            }
        }
        if (ResidentBytes > target)
        {
            _spillRetryAbove = ResidentBytes + spillAboveBytes / 4;
        }
    }

    private void Unspill(TcpStream stream)
    {
        if (stream.IsSpilled)
        {
            stream.Restore(spill!);
            _spilledFootprint -= stream.Footprint;
            _spilledStreams--;
        }
    }

    public void Finish()
    {
        for (var stream = _oldest; stream is not null; stream = stream.Newer)
        {
            Unspill(stream);
            stream.Finish();
        }
        _streams.Clear();
        _oldest = _newest = null;
        _total = 0;
        _spilledFootprint = 0;
        _spilledStreams = 0;
        if (_evictedWithDataStreams > 0)
        {
            onNote(
                $"TCP reassembly exceeded max_buffered_bytes ({maxBufferedBytes}): {_evictedStreams} idle streams were closed early, "
                    + $"{_evictedWithDataStreams} of them with {_droppedBytes} bytes of unacknowledged data, which was dropped."
            );
        }
    }

    private void Touch(TcpStream stream)
    {
        if (_newest == stream)
        {
            return;
        }
        Unlink(stream);
        stream.Older = _newest;
        stream.Newer = null;
        if (_newest is not null)
        {
            _newest.Newer = stream;
        }
        _newest = stream;
        _oldest ??= stream;
    }

    private void Unlink(TcpStream stream)
    {
        if (stream.Older is not null)
        {
            stream.Older.Newer = stream.Newer;
        }
        else if (_oldest == stream)
        {
            _oldest = stream.Newer;
        }
        if (stream.Newer is not null)
        {
            stream.Newer.Older = stream.Older;
        }
        else if (_newest == stream)
        {
            _newest = stream.Older;
        }
        stream.Older = stream.Newer = null;
    }

    private void Account(TcpStream stream)
    {
        var footprint = StreamOverheadBytes + stream.HeldBytes;
        _total += footprint - stream.Footprint;
        stream.Footprint = footprint;
    }

    /// <summary>Closes the least recently active streams until a quarter of the budget is free.</summary>
    private void Evict()
    {
        var target = maxBufferedBytes - maxBufferedBytes / 4;
        while (_total > target && _oldest is { } victim)
        {
            Unspill(victim);
            var pending = victim.PendingBytes;
            victim.Finish();
            Unlink(victim);
            _streams.Remove(victim.Key);
            _total -= victim.Footprint;
            _evictedStreams++;
            if (pending > 0)
            {
                if (_evictedWithDataStreams++ == 0)
                {
                    onNote(
                        $"TCP reassembly exceeded max_buffered_bytes ({maxBufferedBytes}); closed idle stream {victim.Key} early and dropped its {pending} unacknowledged bytes (later evictions are summed up at the end)."
                    );
                }
                _droppedBytes += pending;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Emit(StreamKey key, double? ts, PairBuffer? sent, PairBuffer? recv, bool closed)
    {
        // The pair borrows the streams' buffers for the duration of the callback.
        onPair(new ConversationPair(key, ts, Contents(sent), Contents(recv), closed));
        Recycle(sent);
        Recycle(recv);
    }

    private static ReadOnlyMemory<byte> Contents(PairBuffer? buffer) =>
        buffer is null ? default : buffer.Contents;

    // Pair buffers borrow their arrays from a pool of their own: big responses reuse the
    // arrays of earlier ones instead of growing new ones on the large object heap. Free arrays
    // up to 1 MiB long are kept, 8 MiB at most; larger ones are not pooled.
    private readonly PinnedArrayPool _pairArrays = new(1 << 20, 8 << 20);

    // Emptied buffer objects are kept so that each pair does not make new ones.
    private readonly Stack<PairBuffer> _spare = new();

    private PairBuffer Rent() =>
        _spare.TryPop(out var buffer) ? buffer : new PairBuffer(_pairArrays);

    private void Recycle(PairBuffer? buffer)
    {
        if (buffer is not null)
        {
            buffer.Clear();
            if (_spare.Count < 64)
            {
                _spare.Push(buffer);
            }
        }
    }

    private void Overflow(StreamKey key)
    {
        if (_overflowNotes++ == 0)
        {
            onNote(
                $"TCP stream {key} exceeded max_stream_bytes ({maxStreamBytes}); its excess data was dropped."
            );
        }
    }

    private readonly ref struct Segment(long seq, long ack, byte flags, ReadOnlySpan<byte> data)
    {
        public readonly long Seq = seq;
        public readonly long Ack = ack;
        public readonly byte Flags = flags;
        public readonly ReadOnlySpan<byte> Data = data;

        public Segment WithAck(long ack) => new(Seq, ack, Flags, Data);
    }

    /// <summary>
    /// A buffered segment (a value, so buffering costs no object per segment); its bytes live
    /// in a slab from <see cref="RentSlab"/>, given back on release.
    /// </summary>
    private readonly struct Chunk(byte[]? buffer, int length, double ts, long spilledAt = -1)
    {
        /// <summary>The bytes; null while spilled.</summary>
        public readonly byte[]? Buffer = buffer;
        public readonly int Length = length;
        public readonly double Ts = ts;

        /// <summary>Where the bytes are in the spill file while spilled.</summary>
        public readonly long SpilledAt = spilledAt;

        public ReadOnlySpan<byte> Data => Buffer.AsSpan(0, Length);
    }

    /// <summary>Segments up to this size (every Ethernet MSS) share a free list of slabs.</summary>
    private const int SlabBytes = 2048;

    /// <summary>
    /// Free slabs kept for reuse (8 MiB); more are left to the GC. Slabs are pinned, and
    /// pinned garbage waits for a full collection, so dropping them costs more than keeping.
    /// </summary>
    private const int MaxFreeSlabs = 4096;

    private readonly Stack<byte[]> _freeSlabs = new();

    private Chunk Copy(ReadOnlySpan<byte> data, double ts)
    {
        var buffer = NewBuffer(data.Length);
        data.CopyTo(buffer);
        return new Chunk(buffer, data.Length, ts);
    }

    private byte[] NewBuffer(int length)
    {
        // Small segments (ACK-sized requests, keep-alives) take arrays of their size, so that
        // the bytes held stay close to what the budget counts. New slabs go on the pinned
        // object heap, which is collected with gen2 only: a segment waits for its
        // acknowledgement as long as the capture's order makes it wait, and in a capture sorted
        // by flow tens of MiB of them pile up. Allocated in gen0, every collection promoted
        // them; the GC answered that survival rate by raising gen0's budget, and the heap grew
        // by 100+ MiB of garbage between collections (1 GiB sorted: 255 MiB peak, 75 MiB live).
        return length is > SlabBytes / 2 and <= SlabBytes
            ? (
                _freeSlabs.TryPop(out var slab)
                    ? slab
                    : GC.AllocateUninitializedArray<byte>(SlabBytes, pinned: true)
            )
            : ArrayPool<byte>.Shared.Rent(length);
    }

    private void Release(in Chunk chunk)
    {
        if (chunk.Buffer is null)
        {
            throw new InvalidOperationException("a spilled segment is restored before use");
        }
        if (chunk.Buffer.Length == SlabBytes)
        {
            if (_freeSlabs.Count < MaxFreeSlabs)
            {
                _freeSlabs.Push(chunk.Buffer);
            }
        }
        else
        {
            ArrayPool<byte>.Shared.Return(chunk.Buffer);
        }
    }

    // Per-stream segment tables are handed from finished streams to new ones.
    private readonly Stack<Dictionary<(long, long), Chunk>> _freePackets = new();
    private readonly Stack<Dictionary<(long, long), (long, long)>> _freeOrigins = new();
    private const int MaxFreeTables = 64;

    // AckPackets' chain of released segments, reused (streams are processed one at a time).
    private readonly List<Chunk> _chain = [];

    private enum State
    {
        InitSyn,
        InitSynAck,
        InitAck,
        Conn,
        ConnClosed,
        ConnFinish,
    }

    private sealed class TcpStream(TcpConversations owner, StreamKey key)
    {
        public readonly StreamKey Key = key;
        public TcpStream? Older;
        public TcpStream? Newer;

        /// <summary>What <see cref="TcpConversations"/> last counted for this stream.</summary>
        public long Footprint;

        // Allocated on first use and dropped after each pair, so that idle and finished
        // streams hold no buffers; only streams with unacknowledged or unpaired data do.
        private Dictionary<(long, long), Chunk>? _packets;
        private Dictionary<(long, long), (long, long)>? _origins;
        private PairBuffer? _sent;
        private PairBuffer? _recv;
        private long _buffered;
        private double? _ts;
        private long? _cli;
        private long? _srv;
        private State _state = State.InitSyn;

        /// <summary>Segments waiting for their acknowledgement.</summary>
        public long PendingBytes => _buffered;

        /// <summary>Its pair data and segments are in the spill file.</summary>
        public bool IsSpilled { get; private set; }

        public void Spill(SpillFile file)
        {
            _sent?.Spill(file);
            _recv?.Spill(file);
            if (_packets is not null)
            {
                // Values replaced in place: the table keeps its order and its version.
                foreach (var key in _packets.Keys)
                {
                    ref var chunk = ref CollectionsMarshal.GetValueRefOrNullRef(_packets, key);
                    var at = file.Write(chunk.Data);
                    owner.Release(chunk);
                    chunk = new Chunk(null, chunk.Length, chunk.Ts, at);
                }
            }
            IsSpilled = true;
        }

        public void Restore(SpillFile file)
        {
            _sent?.Restore(file);
            _recv?.Restore(file);
            if (_packets is not null)
            {
                foreach (var key in _packets.Keys)
                {
                    ref var chunk = ref CollectionsMarshal.GetValueRefOrNullRef(_packets, key);
                    var buffer = owner.NewBuffer(chunk.Length);
                    file.Read(chunk.SpilledAt, buffer.AsSpan(0, chunk.Length));
                    file.Release(chunk.Length);
                    chunk = new Chunk(buffer, chunk.Length, chunk.Ts);
                }
            }
            IsSpilled = false;
        }

        /// <summary>Everything this stream holds in memory.</summary>
        public long HeldBytes =>
            _buffered
            + (_sent?.Capacity ?? 0)
            + (_recv?.Capacity ?? 0)
            + (_packets is null ? 0 : 96L * _packets.Count);

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Process(double ts, Segment tcp, bool toServer)
        {
            switch (_state)
            {
                case State.InitSyn:
                    if (tcp.Flags != Syn || tcp.Data.Length > 0)
                    {
                        return;
                    }
                    _ts = ts;
                    _cli = tcp.Seq;
                    _state = State.InitSynAck;
                    return;
                case State.InitSynAck:
                    if (toServer && tcp.Flags == Syn)
                    {
                        return; // SYN retransmission (a dead host for httpreplay)
                    }
                    if (toServer || tcp.Flags != (Syn | Ack) || tcp.Data.Length > 0)
                    {
                        return;
                    }
                    _cli = tcp.Ack;
                    _srv = tcp.Seq + 1;
                    _state = State.InitAck;
                    return;
                case State.InitAck:
                    if (!toServer && tcp.Flags == (Syn | Ack))
                    {
                        return;
                    }
                    if (
                        tcp.Flags != Ack
                        || tcp.Seq != _cli
                        || tcp.Ack != _srv
                        || tcp.Data.Length > 0
                    )
                    {
                        return;
                    }
                    _state = State.Conn;
                    return;
                case State.Conn:
                    Conn(ts, tcp, toServer);
                    return;
                case State.ConnClosed:
                    Conn(ts, tcp, toServer);
                    AckPackets(tcp.Seq + tcp.Data.Length, tcp.Ack, toServer);
                    return;
                case State.ConnFinish:
                    ConnFinish(ts, tcp, toServer);
                    return;
            }
        }

        private void ConnFinish(double ts, Segment tcp, bool toServer)
        {
            if (_cli != tcp.Ack && _srv != tcp.Ack)
            {
                Conn(ts, tcp, toServer);
                return;
            }
            if ((tcp.Flags & Ack) != 0)
            {
                if (toServer)
                {
                    if (_srv != tcp.Ack)
                    {
                        return;
                    }
                    Conn(ts, tcp.WithAck(tcp.Ack - 1), toServer);
                    _srv = null;
                }
                else
                {
                    if (_cli != tcp.Ack)
                    {
                        return;
                    }
                    Conn(ts, tcp.WithAck(tcp.Ack - 1), toServer);
                    _cli = null;
                }
            }
            if ((tcp.Flags & Fin) != 0)
            {
                if (toServer)
                {
                    _cli = tcp.Seq + 1;
                }
                else
                {
                    _srv = tcp.Seq + 1;
                }
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void AckPackets(long seq, long ack, bool toServer)
        {
            if (_packets is null || _packets.Count == 0)
            {
                return;
            }
            var chain = owner._chain;
            chain.Clear();
            while (_packets.Remove((seq, ack), out var chunk))
            {
                chain.Add(chunk);
                seq -= chunk.Length;
                _origins!.Remove((seq, ack));
                _buffered -= chunk.Length;
            }
            if (chain.Count == 0)
            {
                return;
            }
            _ts ??= chain[^1].Ts;
            var target = toServer ? (_sent ??= owner.Rent()) : (_recv ??= owner.Rent());
            for (var i = chain.Count - 1; i >= 0; i--)
            {
                var data = chain[i].Data;
                var room = owner._maxStreamBytes - target.Length;
                if (room < data.Length)
                {
                    owner.Overflow(Key);
                    target.Write(data[..(int)Math.Max(0, room)]);
                }
                else
                {
                    target.Write(data);
                }
                owner.Release(chain[i]);
            }
            chain.Clear();
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Conn(double ts, Segment tcp, bool toServer)
        {
            if ((tcp.Flags & Ack) != 0)
            {
                AckPackets(tcp.Ack, tcp.Seq, !toServer);
            }
            if ((tcp.Flags & Rst) != 0)
            {
                _state = State.ConnClosed;
            }
            var tcpSeq = tcp.Seq + tcp.Data.Length;
            if ((tcp.Flags & Fin) != 0)
            {
                _state = State.ConnFinish;
                if (toServer)
                {
                    _cli = tcpSeq + 1;
                }
                else
                {
                    _srv = tcpSeq + 1;
                }
            }
            if (tcp.Data.Length == 0)
            {
                return;
            }
            if (toServer && _recv is { Length: > 0 })
            {
                Flush();
            }
            _packets ??= owner._freePackets.TryPop(out var packets) ? packets : [];
            _origins ??= owner._freeOrigins.TryPop(out var origins) ? origins : [];
            if (
                _origins.Remove((tcp.Seq, tcp.Ack), out var origin)
                && _packets.Remove(origin, out var duplicate)
            )
            {
                _buffered -= duplicate.Length;
                owner.Release(duplicate);
            }
            if (_buffered + tcp.Data.Length > owner._maxStreamBytes)
            {
                owner.Overflow(Key);
                return;
            }
            _origins[(tcp.Seq, tcp.Ack)] = (tcpSeq, tcp.Ack);
            if (_packets.Remove((tcpSeq, tcp.Ack), out var replaced))
            {
                _buffered -= replaced.Length;
                owner.Release(replaced);
            }
            _packets[(tcpSeq, tcp.Ack)] = owner.Copy(tcp.Data, ts);
            _buffered += tcp.Data.Length;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Flush()
        {
            var closed = _state is State.ConnFinish or State.ConnClosed;
            owner.Emit(Key, _ts, _sent, _recv, closed);
            _sent = null;
            _recv = null;
            _ts = null;
        }

        /// <summary>Both FINs acknowledged, or reset: nothing more will pair up.</summary>
        public bool IsFinished =>
            (_state == State.ConnFinish && _cli is null && _srv is null)
            || _state == State.ConnClosed;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Finish()
        {
            if (_sent is { Length: > 0 } || _recv is { Length: > 0 })
            {
                Flush();
            }
            if (_packets is not null)
            {
                foreach (var pending in _packets.Values)
                {
                    owner.Release(pending);
                }
                // Small tables go back for the next streams; a big one is left to the GC.
                if (_packets.EnsureCapacity(0) <= 1024 && owner._freePackets.Count < MaxFreeTables)
                {
                    _packets.Clear();
                    owner._freePackets.Push(_packets);
                }
            }
            if (
                _origins is not null
                && _origins.EnsureCapacity(0) <= 1024
                && owner._freeOrigins.Count < MaxFreeTables
            )
            {
                _origins.Clear();
                owner._freeOrigins.Push(_origins);
            }
            _packets = null;
            _origins = null;
            _buffered = 0;
        }
    }

    private long _maxStreamBytes => maxStreamBytes;
}

/// <summary>Client address first: the connection as its SYN named it.</summary>
internal readonly record struct StreamKey(
    IpAddress Client,
    ushort ClientPort,
    IpAddress Server,
    ushort ServerPort
)
{
    public override string ToString() => $"{Client}:{ClientPort} -> {Server}:{ServerPort}";
}

/// <summary>
/// What the client sent and the server answered, with httpreplay's timestamp. The bytes are
/// only valid during the callback that receives the pair.
/// </summary>
internal sealed record ConversationPair(
    StreamKey Stream,
    double? Timestamp,
    ReadOnlyMemory<byte> Sent,
    ReadOnlyMemory<byte> Received,
    bool StreamEnded
);
