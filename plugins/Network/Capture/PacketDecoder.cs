using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Microkernel.Plugins.Network.Capture;

/// <summary>What the link, IP and transport headers of one frame say.</summary>
internal ref struct DecodedPacket
{
    public IpAddress Source;
    public IpAddress Destination;

    /// <summary>IP protocol number (after IPv6 extension headers).</summary>
    public byte Protocol;

    /// <summary>True when the transport header was parsed (TCP, UDP or ICMP).</summary>
    public bool HasTransport;
    public ushort SourcePort;
    public ushort DestinationPort;
    public uint Sequence;
    public uint Acknowledgement;
    public byte TcpFlags;
    public byte IcmpType;

    /// <summary>Transport payload (TCP/UDP data, or the ICMP body after type, code and checksum).</summary>
    public ReadOnlySpan<byte> Payload;
}

internal enum DecodeResult
{
    /// <summary>Not IPv4/IPv6 (ARP, unknown link type, ...): Cuckoo moves on.</summary>
    NotIp,

    /// <summary>IP parsed; transport parsed if <see cref="DecodedPacket.HasTransport"/>.</summary>
    Ip,

    /// <summary>IP parsed but its TCP/UDP/ICMP header is cut short: dpkt raises NeedData.</summary>
    TruncatedTransport,
}

/// <summary>
/// Link layers: Ethernet (with 802.1Q tags), raw IP, Linux cooked v1/v2, BSD loopback.
/// Follows dpkt 1.8.7 where Cuckoo's output depends on it (IP payload bounded by the IP
/// total length, TCP data after the data offset), and fixes it where dpkt misreads: a
/// non-first IPv4 fragment is not parsed as a transport header.
/// </summary>
internal static class PacketDecoder
{
    public const byte Tcp = 6;
    public const byte Udp = 17;
    public const byte Icmp = 1;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static DecodeResult Decode(
        int linkType,
        ReadOnlySpan<byte> frame,
        out DecodedPacket packet
    )
    {
        packet = default;
        ReadOnlySpan<byte> ip;
        switch (linkType)
        {
            case 1: // Ethernet
            {
                if (frame.Length < 14)
                {
                    return DecodeResult.NotIp;
                }
                var etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
                var offset = 14;
                while ((etherType == 0x8100 || etherType == 0x88A8) && frame.Length >= offset + 4)
                {
                    etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[(offset + 2)..]);
                    offset += 4;
                }
                if (etherType != 0x0800 && etherType != 0x86DD)
                {
                    return DecodeResult.NotIp;
                }
                ip = frame[offset..];
                break;
            }
            case 101 or 12 or 14 or 228 or 229: // raw IP
                ip = frame;
                break;
            case 113: // Linux cooked v1
                if (frame.Length < 16)
                {
                    return DecodeResult.NotIp;
                }
                ip = frame[16..];
                break;
            case 276: // Linux cooked v2
                if (frame.Length < 20)
                {
                    return DecodeResult.NotIp;
                }
                ip = frame[20..];
                break;
            case 0 or 108: // BSD loopback: 4-byte address family in host or network order
                if (frame.Length < 4)
                {
                    return DecodeResult.NotIp;
                }
                ip = frame[4..];
                break;
            default:
                return DecodeResult.NotIp;
        }
        if (ip.Length < 1)
        {
            return DecodeResult.NotIp;
        }
        var version = ip[0] >> 4;
        ReadOnlySpan<byte> transport;
        if (version == 4)
        {
            if (ip.Length < 20)
            {
                return DecodeResult.NotIp;
            }
            var headerLength = (ip[0] & 0x0F) * 4;
            if (headerLength < 20)
            {
                return DecodeResult.NotIp;
            }
            var totalLength = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
            packet.Source = IpAddress.V4(BinaryPrimitives.ReadUInt32BigEndian(ip[12..]));
            packet.Destination = IpAddress.V4(BinaryPrimitives.ReadUInt32BigEndian(ip[16..]));
            packet.Protocol = ip[9];
            var end = totalLength == 0 ? ip.Length : Math.Min(totalLength, ip.Length);
            transport = headerLength <= end ? ip[headerLength..end] : [];
            var fragmentOffset = BinaryPrimitives.ReadUInt16BigEndian(ip[6..]) & 0x1FFF;
            if (fragmentOffset != 0)
            {
                // A later fragment carries no transport header: report the IP layer only.
                return DecodeResult.Ip;
            }
        }
        else if (version == 6)
        {
            if (ip.Length < 40)
            {
                return DecodeResult.NotIp;
            }
            packet.Source = IpAddress.V6(ip[8..24]);
            packet.Destination = IpAddress.V6(ip[24..40]);
            var payloadLength = BinaryPrimitives.ReadUInt16BigEndian(ip[4..]);
            var body = ip[40..];
            if (payloadLength < body.Length)
            {
                body = body[..payloadLength];
            }
            var next = ip[6];
            var hops = 0;
            while (next is 0 or 43 or 44 or 60 or 51 && hops++ < 8)
            {
                if (body.Length < 8)
                {
                    return DecodeResult.TruncatedTransport;
                }
                var isFragment = next == 44;
                var length =
                    next == 51 ? (body[1] + 2) * 4
                    : isFragment ? 8
                    : (body[1] + 1) * 8;
                if (isFragment && (BinaryPrimitives.ReadUInt16BigEndian(body[2..]) & 0xFFF8) != 0)
                {
                    packet.Protocol = body[0];
                    return DecodeResult.Ip;
                }
                next = body[0];
                if (length > body.Length)
                {
                    return DecodeResult.TruncatedTransport;
                }
                body = body[length..];
            }
            packet.Protocol = next;
            transport = body;
        }
        else
        {
            return DecodeResult.NotIp;
        }

        switch (packet.Protocol)
        {
            case Tcp:
            {
                if (transport.Length < 20)
                {
                    return DecodeResult.TruncatedTransport;
                }
                packet.SourcePort = BinaryPrimitives.ReadUInt16BigEndian(transport);
                packet.DestinationPort = BinaryPrimitives.ReadUInt16BigEndian(transport[2..]);
                packet.Sequence = BinaryPrimitives.ReadUInt32BigEndian(transport[4..]);
                packet.Acknowledgement = BinaryPrimitives.ReadUInt32BigEndian(transport[8..]);
                var dataOffset = (transport[12] >> 4) * 4;
                if (dataOffset < 20)
                {
                    return DecodeResult.TruncatedTransport;
                }
                packet.TcpFlags = transport[13];
                packet.Payload = dataOffset < transport.Length ? transport[dataOffset..] : [];
                packet.HasTransport = true;
                return DecodeResult.Ip;
            }
            case Udp:
                if (transport.Length < 8)
                {
                    return DecodeResult.TruncatedTransport;
                }
                packet.SourcePort = BinaryPrimitives.ReadUInt16BigEndian(transport);
                packet.DestinationPort = BinaryPrimitives.ReadUInt16BigEndian(transport[2..]);
                packet.Payload = transport[8..];
                packet.HasTransport = true;
                return DecodeResult.Ip;
            case Icmp:
                if (transport.Length < 4)
                {
                    return DecodeResult.TruncatedTransport;
                }
                packet.IcmpType = transport[0];
                packet.Payload = transport[4..];
                packet.HasTransport = true;
                return DecodeResult.Ip;
            default:
                return DecodeResult.Ip;
        }
    }
}
