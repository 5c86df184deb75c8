using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;
using Microkernel.Plugins.Network.Capture;

namespace Microkernel.Plugins.Network.Dissection;

/// <summary>One answer as Cuckoo reports it; <see cref="Type"/> null is Cuckoo's empty <c>{}</c>.</summary>
internal readonly record struct DnsAnswer(string? Type, string? Data);

/// <summary>
/// DNS parsing with dpkt 1.8.7's acceptance rules: the whole message (questions, answers,
/// authority and additional records) must unpack, or Cuckoo ignores it.
/// </summary>
internal static class DnsMessage
{
    public sealed class Parsed
    {
        public bool IsQuery;
        public string? QuestionName;
        public ushort QuestionType;
        public readonly List<DnsAnswer> Answers = [];
        public readonly List<IpAddress> AddressAnswers = [];
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static Parsed? TryParse(ReadOnlySpan<byte> buf)
    {
        if (buf.Length < 12)
        {
            return null;
        }
        var result = new Parsed { IsQuery = (buf[2] & 0x80) == 0 };
        int qd = BinaryPrimitives.ReadUInt16BigEndian(buf[4..]);
        int an = BinaryPrimitives.ReadUInt16BigEndian(buf[6..]);
        int ns = BinaryPrimitives.ReadUInt16BigEndian(buf[8..]);
        int ar = BinaryPrimitives.ReadUInt16BigEndian(buf[10..]);
        var off = 12;
        for (var i = 0; i < qd; i++)
        {
            var name = UnpackName(buf, ref off, 0);
            if (name is null || off + 4 > buf.Length)
            {
                return null;
            }
            if (i == 0)
            {
                result.QuestionName = name;
                result.QuestionType = BinaryPrimitives.ReadUInt16BigEndian(buf[off..]);
            }
            off += 4;
        }
        for (var i = 0; i < an + ns + ar; i++)
        {
            if (!UnpackRecord(buf, ref off, i < an ? result : null))
            {
                return null;
            }
        }
        return result;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool UnpackRecord(ReadOnlySpan<byte> buf, ref int off, Parsed? into)
    {
        if (UnpackName(buf, ref off, 0) is null || off + 10 > buf.Length)
        {
            return false;
        }
        var type = BinaryPrimitives.ReadUInt16BigEndian(buf[off..]);
        int rdLength = BinaryPrimitives.ReadUInt16BigEndian(buf[(off + 8)..]);
        off += 10;
        var rdStart = off;
        var rdata = buf[rdStart..Math.Min(buf.Length, rdStart + rdLength)];
        string? answerType = null;
        string? data = null;
        var skip = false;
        var nameOff = rdStart;
        switch (type)
        {
            case 1:
                answerType = "A";
                if (rdata.Length == 4)
                {
                    var address = IpAddress.V4(BinaryPrimitives.ReadUInt32BigEndian(rdata));
                    data = address.ToString();
                    into?.AddressAnswers.Add(address);
                }
                else
                {
                    skip = true;
                }
                break;
            case 28:
                answerType = "AAAA";
                if (rdata.Length == 16)
                {
                    var address = IpAddress.V6(rdata);
                    data = address.ToString();
                    into?.AddressAnswers.Add(address);
                }
                else
                {
                    skip = true;
                }
                break;
            case 2 or 5 or 12:
                answerType =
                    type == 2 ? "NS"
                    : type == 5 ? "CNAME"
                    : "PTR";
                data = UnpackName(buf, ref nameOff, 0);
                if (data is null)
                {
                    return false;
                }
                break;
            case 6:
            {
                answerType = "SOA";
                var mname = UnpackName(buf, ref nameOff, 0);
                var rname = mname is null ? null : UnpackName(buf, ref nameOff, 0);
                if (rname is null || nameOff + 20 > buf.Length)
                {
                    return false;
                }
                var numbers = buf.Slice(nameOff, 20);
                data = string.Join(
                    ',',
                    mname,
                    rname,
                    BinaryPrimitives.ReadUInt32BigEndian(numbers),
                    BinaryPrimitives.ReadUInt32BigEndian(numbers[4..]),
                    BinaryPrimitives.ReadUInt32BigEndian(numbers[8..]),
                    BinaryPrimitives.ReadUInt32BigEndian(numbers[12..]),
                    BinaryPrimitives.ReadUInt32BigEndian(numbers[16..])
                );
                break;
            }
            case 15:
                answerType = "MX";
                if (rdata.Length < 2)
                {
                    return false;
                }
                nameOff += 2;
                data = UnpackName(buf, ref nameOff, 0);
                if (data is null)
                {
                    return false;
                }
                break;
            case 13 or 16:
            {
                answerType = type == 13 ? "HINFO" : "TXT";
                var builder = new StringBuilder();
                var rest = rdata;
                var first = true;
                while (rest.Length > 0)
                {
                    var n = rest[0];
                    var piece = rest[1..Math.Min(rest.Length, 1 + n)];
                    if (!first)
                    {
                        builder.Append(' ');
                    }
                    builder.Append(Text.Latin1(piece));
                    first = false;
                    rest = rest[Math.Min(rest.Length, 1 + n)..];
                }
                data = builder.ToString();
                break;
            }
            case 33:
                // dpkt parses SRV (and fails on a short one) but Cuckoo reports it as {}.
                if (rdata.Length < 6)
                {
                    return false;
                }
                nameOff += 6;
                if (UnpackName(buf, ref nameOff, 0) is null)
                {
                    return false;
                }
                break;
            default:
                break;
        }
        off = rdStart + rdLength;
        if (into is not null && !skip)
        {
            into.Answers.Add(new DnsAnswer(answerType, data));
        }
        return true;
    }

    /// <summary>dpkt's <c>unpack_name</c>, with compression loops bounded instead of recursing forever.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static string? UnpackName(ReadOnlySpan<byte> buf, ref int off, int depth)
    {
        if (depth > 20)
        {
            return null;
        }
        var builder = new StringBuilder();
        for (var i = 0; i < 100; i++)
        {
            if (off >= buf.Length)
            {
                return null;
            }
            var n = buf[off];
            if (n == 0)
            {
                off++;
                break;
            }
            if ((n & 0xC0) == 0xC0)
            {
                if (off + 2 > buf.Length)
                {
                    return null;
                }
                var pointer = BinaryPrimitives.ReadUInt16BigEndian(buf[off..]) & 0x3FFF;
                off += 2;
                var target = pointer;
                var tail = UnpackName(buf, ref target, depth + 1);
                if (tail is null)
                {
                    return null;
                }
                builder.Append(tail).Append('.');
                break;
            }
            off++;
            var label = buf[off..Math.Min(buf.Length, off + n)];
            builder.Append(Text.Latin1(label)).Append('.');
            if (builder.Length > 255)
            {
                return null;
            }
            off += n;
        }
        return builder.ToString().Trim('.');
    }

    public static string TypeName(ushort type) =>
        type switch
        {
            1 => "A",
            28 => "AAAA",
            5 => "CNAME",
            15 => "MX",
            12 => "PTR",
            2 => "NS",
            6 => "SOA",
            13 => "HINFO",
            16 => "TXT",
            33 => "SRV",
            255 => "All",
            _ => "None",
        };
}
