using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Microkernel.Plugins.Network.Capture;

/// <summary>
/// Streaming reader for classic pcap (both byte orders, micro- and nanosecond) and pcapng.
/// </summary>
/// <remarks>
/// Hand-written on purpose: PacketDotNet allocates an object graph per packet and its file
/// reader comes from SharpPcap, which needs native libpcap. This reader keeps one reusable
/// buffer, hands out spans into it, never allocates by a length read from the file (records
/// above <see cref="MaxRecordBytes"/> are rejected as damage), and reports the byte offset of
/// the first damage it meets. Everything read before the damage stays valid.
/// </remarks>
internal sealed class CaptureReader : IDisposable
{
    /// <summary>tcpdump's own ceiling for a snapshot length.</summary>
    public const int MaxRecordBytes = 262_144;

    private const int MaxPcapNgBlockBytes = MaxRecordBytes + 64 * 1024;

    // Four times the largest pcapng block it must hold whole; two readers run at once.
    private const int BufferBytes = 1024 * 1024;

    // A capture smaller than the buffer gets a buffer just large enough for all of it (no record
    // can be longer than the file), and never less than this: a small capture then allocates
    // nothing on the large object heap, whose allocations bring full (gen2) collections, and a
    // daemon processes many small captures.
    private const int SmallBufferBytes = 64 * 1024;

    private readonly Stream _stream;
    private readonly string _name;
    private readonly Action<ReadOnlySpan<byte>>? _observer;
    private byte[] _buffer;
    private int _start;
    private int _end;
    private long _bufferOffset;
    private bool _eof;
    private bool _bigEndian;
    private bool _nanoseconds;
    private uint _snapLength;
    private readonly List<PcapNgInterface> _interfaces = [];

    private readonly record struct PcapNgInterface(
        int LinkType,
        ulong TicksPerSecond,
        bool PowerOfTwo,
        int Exponent
    );

    /// <param name="stream">The capture, read sequentially.</param>
    /// <param name="name">File name used in error messages.</param>
    /// <param name="observer">Sees every byte of the stream once, in order (e.g. a hash).</param>
    /// <param name="enforceSnapLength">
    /// False for Cuckoo's own dump_sorted.pcap, whose header always says 1500 while its records
    /// keep their full length (dpkt never checks); the sane maximum still applies.
    /// </param>
    public CaptureReader(
        Stream stream,
        string name,
        Action<ReadOnlySpan<byte>>? observer = null,
        bool enforceSnapLength = true
    )
    {
        _stream = stream;
        _name = name;
        _observer = observer;
        _enforceSnapLength = enforceSnapLength;
        // Rented: a task reads its capture twice, and a fresh zeroed buffer per pass was most of
        // what a small capture cost to read.
        _buffer = ArrayPool<byte>.Shared.Rent(BufferSizeFor(stream));
    }

    /// <summary>
    /// The capture's length as opened (a symbolic link's target, not the link), null when the
    /// stream cannot tell.
    /// </summary>
    public long? Length => _stream.CanSeek ? _stream.Length : null;

    private static int BufferSizeFor(Stream stream)
    {
        if (!stream.CanSeek)
        {
            return BufferBytes;
        }
        // One byte more than the rest of the file, so a full buffer still means "read again".
        var remaining = stream.Length - stream.Position + 1;
        return (int)Math.Clamp(remaining, SmallBufferBytes, BufferBytes);
    }

    private readonly bool _enforceSnapLength;

    public CaptureFormat Format { get; private set; }

    /// <summary>Link type of the last record (pcapng interfaces can differ).</summary>
    public int LinkType { get; private set; }

    /// <summary>Snapshot length from the pcap header (0 for pcapng).</summary>
    public uint SnapLength => _snapLength;

    /// <summary>The damage that stopped reading, naming file, offset and problem; null when clean.</summary>
    public string? Error { get; private set; }

    /// <summary>Byte offset just after the last record returned.</summary>
    public long Position => _bufferOffset + _start;

    /// <summary>Reads the file header. False (with <see cref="Error"/>) when it is not a capture.</summary>
    public bool Open()
    {
        if (!Ensure(4))
        {
            return Fail(0, $"file too short for a capture header ({Available} bytes)");
        }
        var magic = BinaryPrimitives.ReadUInt32LittleEndian(_buffer.AsSpan(_start));
        switch (magic)
        {
            case 0xA1B2C3D4:
            case 0xA1B23C4D:
            case 0xD4C3B2A1:
            case 0x4D3CB2A1:
                _bigEndian = magic is 0xD4C3B2A1 or 0x4D3CB2A1;
                _nanoseconds = magic is 0xA1B23C4D or 0x4D3CB2A1;
                if (!Ensure(24))
                {
                    return Fail(0, $"pcap header cut short ({Available} of 24 bytes)");
                }
                var header = _buffer.AsSpan(_start, 24);
                _snapLength = U32(header[16..]);
                LinkType = (int)(U32(header[20..]) & 0x0FFFFFFF);
                _start += 24;
                Format = CaptureFormat.Pcap;
                return true;
            case 0x0A0D0D0A:
                Format = CaptureFormat.PcapNg;
                return true;
            default:
                return Fail(0, $"bad magic 0x{magic:x8}: neither pcap nor pcapng");
        }
    }

    /// <summary>
    /// Next packet record. False at the end of the file or at damage (see <see cref="Error"/>).
    /// The span stays valid until the next call.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool TryReadNext(
        out double timestamp,
        out long recordOffset,
        out ReadOnlySpan<byte> data
    )
    {
        timestamp = 0;
        data = default;
        recordOffset = Position;
        if (Error is not null)
        {
            return false;
        }
        return Format == CaptureFormat.Pcap
            ? ReadPcapRecord(out timestamp, out recordOffset, out data)
            : ReadPcapNgRecord(out timestamp, out recordOffset, out data);
    }

    /// <summary>Feeds the rest of the file to the observer (so a hash covers damaged files too).</summary>
    public void DrainToObserver()
    {
        if (_observer is null)
        {
            return;
        }
        _start = _end;
        while (!_eof)
        {
            Fill();
            _start = _end;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool ReadPcapRecord(
        out double timestamp,
        out long recordOffset,
        out ReadOnlySpan<byte> data
    )
    {
        timestamp = 0;
        data = default;
        recordOffset = Position;
        if (!Ensure(16))
        {
            return Available == 0
                ? false
                : Fail(recordOffset, $"record header cut short ({Available} of 16 bytes)");
        }
        var header = _buffer.AsSpan(_start, 16);
        var seconds = U32(header);
        var fraction = U32(header[4..]);
        var captured = U32(header[8..]);
        var limit =
            _enforceSnapLength && _snapLength is > 0 and <= MaxRecordBytes
                ? _snapLength
                : MaxRecordBytes;
        if (captured > limit)
        {
            return Fail(
                recordOffset,
                $"record claims {captured} captured bytes, over the {(captured > MaxRecordBytes ? "sane maximum" : "snapshot length")} of {limit}"
            );
        }
        if (!Ensure(16 + (int)captured))
        {
            return Fail(
                recordOffset,
                $"record body cut short ({Available - 16} of {captured} bytes)"
            );
        }
        // dpkt computes float(sec) + float(usec) / 1e6; the same double keeps `time` identical.
        timestamp = seconds + fraction / (_nanoseconds ? 1e9 : 1e6);
        data = _buffer.AsSpan(_start + 16, (int)captured);
        _start += 16 + (int)captured;
        return true;
    }

    private bool ReadPcapNgRecord(
        out double timestamp,
        out long recordOffset,
        out ReadOnlySpan<byte> data
    )
    {
        timestamp = 0;
        data = default;
        while (true)
        {
            recordOffset = Position;
            if (!Ensure(12))
            {
                return Available == 0
                    ? false
                    : Fail(
                        recordOffset,
                        $"pcapng block header cut short ({Available} of 12 bytes)"
                    );
            }
            var head = _buffer.AsSpan(_start, 12);
            var type = BinaryPrimitives.ReadUInt32LittleEndian(head);
            if (type == 0x0A0D0D0A)
            {
                var bom = BinaryPrimitives.ReadUInt32LittleEndian(head[8..]);
                if (bom == 0x1A2B3C4D)
                {
                    _bigEndian = false;
                }
                else if (bom == 0x4D3C2B1A)
                {
                    _bigEndian = true;
                }
                else
                {
                    return Fail(
                        recordOffset,
                        $"pcapng section header has bad byte-order magic 0x{bom:x8}"
                    );
                }
                _interfaces.Clear();
            }
            else
            {
                type = U32(head);
            }
            var length = U32(head[4..]);
            if (length < 12 || length % 4 != 0)
            {
                return Fail(recordOffset, $"pcapng block length {length} is invalid");
            }
            var isPacket = type is 6 or 3 or 2 or 1;
            if (!isPacket || type == 0x0A0D0D0A)
            {
                if (!Skip(length))
                {
                    return Fail(recordOffset, $"pcapng block of {length} bytes cut short");
                }
                continue;
            }
            if (length > MaxPcapNgBlockBytes)
            {
                return Fail(
                    recordOffset,
                    $"pcapng block length {length} exceeds the sane maximum of {MaxPcapNgBlockBytes}"
                );
            }
            if (!Ensure((int)length))
            {
                return Fail(
                    recordOffset,
                    $"pcapng block cut short ({Available} of {length} bytes)"
                );
            }
            var block = _buffer.AsSpan(_start, (int)length);
            var body = block[8..^4];
            _start += (int)length;
            if (type == 1)
            {
                if (body.Length < 8)
                {
                    return Fail(recordOffset, "pcapng interface block too short");
                }
                _interfaces.Add(ReadInterface(body));
                continue;
            }
            int interfaceId;
            ulong ticks;
            uint captured;
            int dataStart;
            switch (type)
            {
                case 6:
                    if (body.Length < 20)
                    {
                        return Fail(recordOffset, "pcapng enhanced packet block too short");
                    }
                    interfaceId = (int)U32(body);
                    ticks = ((ulong)U32(body[4..]) << 32) | U32(body[8..]);
                    captured = U32(body[12..]);
                    dataStart = 20;
                    break;
                case 2:
                    if (body.Length < 20)
                    {
                        return Fail(recordOffset, "pcapng packet block too short");
                    }
                    interfaceId = _bigEndian
                        ? BinaryPrimitives.ReadUInt16BigEndian(body)
                        : BinaryPrimitives.ReadUInt16LittleEndian(body);
                    ticks = ((ulong)U32(body[4..]) << 32) | U32(body[8..]);
                    captured = U32(body[12..]);
                    dataStart = 20;
                    break;
                default:
                    if (body.Length < 4)
                    {
                        return Fail(recordOffset, "pcapng simple packet block too short");
                    }
                    interfaceId = 0;
                    ticks = 0;
                    captured = Math.Min(U32(body), (uint)(body.Length - 4));
                    dataStart = 4;
                    break;
            }
            if (captured > body.Length - dataStart)
            {
                return Fail(
                    recordOffset,
                    $"pcapng packet claims {captured} bytes in a {length}-byte block"
                );
            }
            if ((uint)interfaceId >= (uint)_interfaces.Count)
            {
                return Fail(
                    recordOffset,
                    $"pcapng packet names interface {interfaceId}, which was never described"
                );
            }
            var itf = _interfaces[interfaceId];
            LinkType = itf.LinkType;
            var whole = ticks / itf.TicksPerSecond;
            var part = ticks % itf.TicksPerSecond;
            timestamp = whole + part / (double)itf.TicksPerSecond;
            data = body.Slice(dataStart, (int)captured);
            return true;
        }
    }

    private PcapNgInterface ReadInterface(ReadOnlySpan<byte> body)
    {
        var linkType = _bigEndian
            ? BinaryPrimitives.ReadUInt16BigEndian(body)
            : BinaryPrimitives.ReadUInt16LittleEndian(body);
        ulong ticks = 1_000_000;
        var powerOfTwo = false;
        var exponent = 6;
        var options = body[8..];
        while (options.Length >= 4)
        {
            var code = _bigEndian
                ? BinaryPrimitives.ReadUInt16BigEndian(options)
                : BinaryPrimitives.ReadUInt16LittleEndian(options);
            var size = _bigEndian
                ? BinaryPrimitives.ReadUInt16BigEndian(options[2..])
                : BinaryPrimitives.ReadUInt16LittleEndian(options[2..]);
            if (code == 0 || 4 + size > options.Length)
            {
                break;
            }
            if (code == 9 && size >= 1)
            {
                var value = options[4];
                powerOfTwo = (value & 0x80) != 0;
                exponent = value & 0x7F;
                // Resolutions finer than a tick that fits 64 bits are clamped; nothing real uses them.
                if (powerOfTwo)
                {
                    ticks = 1UL << Math.Min(exponent, 63);
                }
                else
                {
                    ticks = 1;
                    for (var i = 0; i < Math.Min(exponent, 19); i++)
                    {
                        ticks *= 10;
                    }
                }
            }
            options = options[(4 + ((size + 3) & ~3))..];
        }
        return new PcapNgInterface(linkType, ticks, powerOfTwo, exponent);
    }

    private uint U32(ReadOnlySpan<byte> span) =>
        _bigEndian
            ? BinaryPrimitives.ReadUInt32BigEndian(span)
            : BinaryPrimitives.ReadUInt32LittleEndian(span);

    private int Available => _end - _start;

    private bool Fail(long offset, string problem)
    {
        Error = $"{_name}: damaged capture at byte offset {offset}: {problem}";
        return false;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool Ensure(int count)
    {
        while (_end - _start < count)
        {
            if (_eof)
            {
                return false;
            }
            if (_start > 0 && (_buffer.Length - _start < count || _start == _end))
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _bufferOffset += _start;
                _end -= _start;
                _start = 0;
            }
            Fill();
        }
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Fill()
    {
        if (_end == _buffer.Length)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _bufferOffset += _start;
            _end -= _start;
            _start = 0;
        }
        var read = _stream.Read(_buffer, _end, _buffer.Length - _end);
        if (read <= 0)
        {
            _eof = true;
            return;
        }
        _observer?.Invoke(_buffer.AsSpan(_end, read));
        _end += read;
    }

    private bool Skip(uint length)
    {
        long remaining = length;
        while (remaining > 0)
        {
            if (_start == _end)
            {
                if (_eof)
                {
                    return false;
                }
                _bufferOffset += _start;
                _start = _end = 0;
                Fill();
                continue;
            }
            var step = (int)Math.Min(remaining, _end - _start);
            _start += step;
            remaining -= step;
        }
        return true;
    }

    public void Dispose()
    {
        _stream.Dispose();
        var buffer = _buffer;
        _buffer = [];
        _start = _end = 0;
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}

internal enum CaptureFormat
{
    Pcap,
    PcapNg,
}
