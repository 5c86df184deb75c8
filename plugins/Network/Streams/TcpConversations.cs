using Microkernel.Plugins.Network.Capture;

namespace Microkernel.Plugins.Network.Streams;

/// <summary>
/// Cuckoo's Pcap2 (httpreplay's <c>TCPPacketStreamer</c>/<c>TCPStream</c>): per TCP connection,
/// payload is released in sequence order once the peer acknowledges it, and a (sent, received)
/// pair is cut each time the client speaks again after the server answered. Retransmissions
/// replace the buffered segment; out-of-order segments wait until acknowledged. Only
/// connections on handled ports (HTTP 80/8000/8080, SMTP 25/465/587) are tracked, and each
/// keeps at most <c>maxStreamBytes</c> buffered.
/// </summary>
internal sealed class TcpConversations(
    long maxStreamBytes,
    Action<ConversationPair> onPair,
    Action<string> onNote
)
{
    public static readonly HashSet<ushort> HttpPorts = [80, 8000, 8080];
    public static readonly HashSet<ushort> SmtpPorts = [25, 465, 587];

    private const byte Fin = 0x01;
    private const byte Syn = 0x02;
    private const byte Rst = 0x04;
    private const byte Ack = 0x10;

    private readonly Dictionary<StreamKey, TcpStream> _streams = [];
    private readonly List<TcpStream> _order = [];
    private int _overflowNotes;

    public static bool IsHandled(ushort sourcePort, ushort destinationPort) =>
        HttpPorts.Contains(sourcePort)
        || HttpPorts.Contains(destinationPort)
        || SmtpPorts.Contains(sourcePort)
        || SmtpPorts.Contains(destinationPort);

    public void Process(double ts, in DecodedPacket packet)
    {
        if (packet.Source.IsV6 || !IsHandled(packet.SourcePort, packet.DestinationPort))
        {
            return;
        }
        var forward = new StreamKey(
            packet.Source,
            packet.SourcePort,
            packet.Destination,
            packet.DestinationPort
        );
        var reverse = new StreamKey(
            packet.Destination,
            packet.DestinationPort,
            packet.Source,
            packet.SourcePort
        );
        if (!_streams.ContainsKey(forward) && packet.TcpFlags == Syn)
        {
            var created = new TcpStream(this, forward);
            _streams[forward] = created;
            _order.Add(created);
        }
        TcpStream? stream;
        bool toServer;
        if (_streams.TryGetValue(forward, out stream))
        {
            toServer = true;
        }
        else if (_streams.TryGetValue(reverse, out stream))
        {
            toServer = false;
        }
        else
        {
            return;
        }
        var segment = new Segment(
            packet.Sequence,
            packet.Acknowledgement,
            packet.TcpFlags,
            packet.Payload.ToArray()
        );
        // httpreplay raises on packets that break its state machine; those packets are dropped.
        stream.Process(ts, segment, toServer);
        if (stream.IsFinished)
        {
            // httpreplay flushes every stream at the end of the capture; doing it at close
            // gives the same pairs (they are sorted by time later) without holding the data.
            stream.Finish();
        }
    }

    public void Finish()
    {
        foreach (var stream in _order)
        {
            stream.Finish();
        }
        _streams.Clear();
        _order.Clear();
    }

    private void Emit(StreamKey key, double? ts, byte[] sent, byte[] recv, bool closed) =>
        onPair(new ConversationPair(key, ts, sent, recv, closed));

    private void Overflow(StreamKey key)
    {
        if (_overflowNotes++ == 0)
        {
            onNote(
                $"TCP stream {key} exceeded max_stream_bytes ({maxStreamBytes}); its excess data was dropped."
            );
        }
    }

    private readonly record struct Segment(long Seq, long Ack, byte Flags, byte[] Data);

    private sealed class Chunk(byte[] data, double ts)
    {
        public byte[] Data = data;
        public double Ts = ts;
    }

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
        // Buffers are dropped (not just emptied) after each pair so that idle and finished
        // streams hold no memory; only streams with unacknowledged or unpaired data do.
        private Dictionary<(long, long), Chunk> _packets = [];
        private Dictionary<(long, long), (long, long)> _origins = [];
        private MemoryStream _sent = new();
        private MemoryStream _recv = new();
        private long _buffered;
        private double? _ts;
        private long? _cli;
        private long? _srv;
        private State _state = State.InitSyn;

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
                    Conn(ts, tcp with { Ack = tcp.Ack - 1 }, toServer);
                    _srv = null;
                }
                else
                {
                    if (_cli != tcp.Ack)
                    {
                        return;
                    }
                    Conn(ts, tcp with { Ack = tcp.Ack - 1 }, toServer);
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

        private void AckPackets(long seq, long ack, bool toServer)
        {
            Chunk? released = null;
            List<Chunk>? chain = null;
            while (_packets.Remove((seq, ack), out var chunk))
            {
                (chain ??= []).Add(chunk);
                seq -= chunk.Data.Length;
                _origins.Remove((seq, ack));
                _buffered -= chunk.Data.Length;
                released = chunk;
            }
            if (_ts is null && released is not null)
            {
                _ts = released.Ts;
            }
            if (chain is null)
            {
                return;
            }
            var target = toServer ? _sent : _recv;
            for (var i = chain.Count - 1; i >= 0; i--)
            {
                var data = chain[i].Data;
                var room = owner._maxStreamBytes - target.Length;
                if (room < data.Length)
                {
                    owner.Overflow(key);
                    target.Write(data, 0, (int)Math.Max(0, room));
                }
                else
                {
                    target.Write(data);
                }
            }
        }

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
            if (toServer && _recv.Length > 0)
            {
                Flush();
            }
            if (
                _origins.Remove((tcp.Seq, tcp.Ack), out var origin)
                && _packets.Remove(origin, out var duplicate)
            )
            {
                _buffered -= duplicate.Data.Length;
            }
            if (_buffered + tcp.Data.Length > owner._maxStreamBytes)
            {
                owner.Overflow(key);
                return;
            }
            _origins[(tcp.Seq, tcp.Ack)] = (tcpSeq, tcp.Ack);
            if (_packets.Remove((tcpSeq, tcp.Ack), out var replaced))
            {
                _buffered -= replaced.Data.Length;
            }
            _packets[(tcpSeq, tcp.Ack)] = new Chunk(tcp.Data, ts);
            _buffered += tcp.Data.Length;
        }

        private void Flush()
        {
            var closed = _state is State.ConnFinish or State.ConnClosed;
            owner.Emit(key, _ts, _sent.ToArray(), _recv.ToArray(), closed);
            _sent = new MemoryStream();
            _recv = new MemoryStream();
            _ts = null;
        }

        /// <summary>Both FINs acknowledged, or reset: nothing more will pair up.</summary>
        public bool IsFinished =>
            (_state == State.ConnFinish && _cli is null && _srv is null)
            || _state == State.ConnClosed;

        public void Finish()
        {
            if (_sent.Length > 0 || _recv.Length > 0)
            {
                Flush();
            }
            _packets = [];
            _origins = [];
            _sent = new MemoryStream();
            _recv = new MemoryStream();
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

/// <summary>What the client sent and the server answered, with httpreplay's timestamp.</summary>
internal sealed record ConversationPair(
    StreamKey Stream,
    double? Timestamp,
    byte[] Sent,
    byte[] Received,
    bool StreamEnded
);
