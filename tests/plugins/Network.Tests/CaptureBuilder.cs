using System.Buffers.Binary;

namespace Microkernel.Plugins.Network.Tests;

/// <summary>Builds small captures in memory: classic pcap (either byte order/resolution) or pcapng.</summary>
internal static class CaptureBuilder
{
    public static byte[] Udp(string src, string dst, ushort sport, ushort dport, byte[] payload)
    {
        var ip = new byte[20 + 8 + payload.Length];
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(2), (ushort)ip.Length);
        ip[8] = 64;
        ip[9] = 17;
        System.Net.IPAddress.Parse(src).GetAddressBytes().CopyTo(ip, 12);
        System.Net.IPAddress.Parse(dst).GetAddressBytes().CopyTo(ip, 16);
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(20), sport);
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(22), dport);
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(24), (ushort)(8 + payload.Length));
        payload.CopyTo(ip, 28);
        return ip;
    }

    public static byte[] Tcp(
        string src,
        string dst,
        ushort sport,
        ushort dport,
        uint seq,
        uint ack,
        byte flags,
        byte[] payload
    )
    {
        var ip = new byte[20 + 20 + payload.Length];
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(2), (ushort)ip.Length);
        ip[8] = 64;
        ip[9] = 6;
        System.Net.IPAddress.Parse(src).GetAddressBytes().CopyTo(ip, 12);
        System.Net.IPAddress.Parse(dst).GetAddressBytes().CopyTo(ip, 16);
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(20), sport);
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(22), dport);
        BinaryPrimitives.WriteUInt32BigEndian(ip.AsSpan(24), seq);
        BinaryPrimitives.WriteUInt32BigEndian(ip.AsSpan(28), ack);
        ip[32] = 0x50;
        ip[33] = flags;
        payload.CopyTo(ip, 40);
        return ip;
    }

    /// <summary>A TCP segment in an Ethernet frame.</summary>
    public static byte[] EthernetTcp(
        string src,
        string dst,
        ushort sport,
        ushort dport,
        uint seq,
        uint ack,
        int flags,
        byte[] payload
    ) => Ethernet(Tcp(src, dst, sport, dport, seq, ack, (byte)flags, payload));

    public static byte[] Ethernet(byte[] ip)
    {
        var frame = new byte[14 + ip.Length];
        frame[12] = 0x08;
        ip.CopyTo(frame, 14);
        return frame;
    }

    public static byte[] DnsQuery(string name)
    {
        using var stream = new MemoryStream();
        stream.Write([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
        foreach (var label in name.Split('.'))
        {
            stream.WriteByte((byte)label.Length);
            stream.Write(System.Text.Encoding.ASCII.GetBytes(label));
        }
        stream.Write([0, 0, 1, 0, 1]);
        return stream.ToArray();
    }

    public static byte[] Pcap(
        IEnumerable<byte[]> frames,
        int linkType = 1,
        bool bigEndian = false,
        bool nanoseconds = false,
        uint snapLength = 65535
    )
    {
        using var stream = new MemoryStream();
        var header = new byte[24];
        Write32(header, 0, nanoseconds ? 0xA1B23C4D : 0xA1B2C3D4, bigEndian);
        Write16(header, 4, 2, bigEndian);
        Write16(header, 6, 4, bigEndian);
        Write32(header, 16, snapLength, bigEndian);
        Write32(header, 20, (uint)linkType, bigEndian);
        stream.Write(header);
        var second = 1_600_000_000u;
        foreach (var frame in frames)
        {
            var record = new byte[16];
            Write32(record, 0, second++, bigEndian);
            Write32(record, 4, nanoseconds ? 500_000_000u : 500_000u, bigEndian);
            Write32(record, 8, (uint)frame.Length, bigEndian);
            Write32(record, 12, (uint)frame.Length, bigEndian);
            stream.Write(record);
            stream.Write(frame);
        }
        return stream.ToArray();
    }

    public static byte[] PcapNg(IEnumerable<byte[]> frames, int linkType = 1)
    {
        using var stream = new MemoryStream();
        var shb = new byte[28];
        Write32(shb, 0, 0x0A0D0D0A, false);
        Write32(shb, 4, 28, false);
        Write32(shb, 8, 0x1A2B3C4D, false);
        Write16(shb, 12, 1, false);
        Array.Fill<byte>(shb, 0xFF, 16, 8);
        Write32(shb, 24, 28, false);
        stream.Write(shb);
        var idb = new byte[20];
        Write32(idb, 0, 1, false);
        Write32(idb, 4, 20, false);
        Write16(idb, 8, (ushort)linkType, false);
        Write32(idb, 12, 65535, false);
        Write32(idb, 16, 20, false);
        stream.Write(idb);
        var ticks = 1_600_000_000_000_000UL;
        foreach (var frame in frames)
        {
            var padded = (frame.Length + 3) & ~3;
            var block = new byte[32 + padded];
            Write32(block, 0, 6, false);
            Write32(block, 4, (uint)block.Length, false);
            Write32(block, 12, (uint)(ticks >> 32), false);
            Write32(block, 16, (uint)ticks, false);
            Write32(block, 20, (uint)frame.Length, false);
            Write32(block, 24, (uint)frame.Length, false);
            frame.CopyTo(block, 28);
            Write32(block, block.Length - 4, (uint)block.Length, false);
            stream.Write(block);
            ticks += 1_000_000;
        }
        return stream.ToArray();
    }

    private static void Write32(byte[] buffer, int offset, uint value, bool bigEndian)
    {
        if (bigEndian)
        {
            BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(offset), value);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(offset), value);
        }
    }

    private static void Write16(byte[] buffer, int offset, ushort value, bool bigEndian)
    {
        if (bigEndian)
        {
            BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(offset), value);
        }
        else
        {
            BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(offset), value);
        }
    }
}
