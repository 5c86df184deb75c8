using System.Buffers.Binary;
using System.Globalization;

namespace Microkernel.Plugins.Network.Capture;

/// <summary>An IPv4 or IPv6 address as a value (no allocation per packet).</summary>
internal readonly record struct IpAddress(ulong High, ulong Low, bool IsV6)
{
    public static IpAddress V4(uint address) => new(0, address, false);

    public static IpAddress V6(ReadOnlySpan<byte> bytes) =>
        new(
            BinaryPrimitives.ReadUInt64BigEndian(bytes),
            BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]),
            true
        );

    public uint V4Value => (uint)Low;

    /// <summary>Cuckoo's <c>_is_private_ip</c>: IPv6 never counts as private (inet_aton fails on it).</summary>
    public bool IsCuckooPrivate
    {
        get
        {
            if (IsV6)
            {
                return false;
            }
            var a = V4Value;
            return (a >> 24) == 0
                || (a >> 24) == 10
                || (a & 0xFFC00000) == 0x64400000
                || (a >> 24) == 127
                || (a & 0xFFFF0000) == 0xA9FE0000
                || (a & 0xFFF00000) == 0xAC100000
                || (a & 0xFFFFFF00) == 0xC0000000
                || (a & 0xFFFFFF00) == 0xC0000200
                || (a & 0xFFFFFF00) == 0xC0586300
                || (a & 0xFFFF0000) == 0xC0A80000
                || (a & 0xFFFE0000) == 0xC6120000
                || (a & 0xFFFFFF00) == 0xC6336400
                || (a & 0xFFFFFF00) == 0xCB007100
                || (a & 0xF0000000) == 0xF0000000
                || (a & 0xF0000000) == 0xE0000000;
        }
    }

    public override string ToString()
    {
        if (!IsV6)
        {
            var a = V4Value;
            return string.Create(
                CultureInfo.InvariantCulture,
                $"{a >> 24}.{(a >> 16) & 0xFF}.{(a >> 8) & 0xFF}.{a & 0xFF}"
            );
        }
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, High);
        BinaryPrimitives.WriteUInt64BigEndian(bytes[8..], Low);
        return new System.Net.IPAddress(bytes).ToString();
    }

    public static IpAddress Parse(string text)
    {
        var parsed = System.Net.IPAddress.Parse(text);
        var bytes = parsed.GetAddressBytes();
        return bytes.Length == 4 ? V4(BinaryPrimitives.ReadUInt32BigEndian(bytes)) : V6(bytes);
    }
}
