using System.Runtime.Intrinsics;
using System.Text;

namespace Microkernel.Plugins.Strings;

/// <summary>
/// Cuckoo 2.0's strings rule without its regexes: ASCII <c>[\x1f-\x7e]{6,}</c> over the whole
/// buffer, then UTF-16LE <c>(?:[\x1f-\x7e]\x00){6,}</c> over the whole buffer (so wide hits may
/// start at odd offsets), ASCII first, the count cap applied after concatenation, each string cut
/// afterwards. Both passes work on 64-byte bit masks, which keeps them above 1 GB/s.
/// </summary>
public static class PrintableStrings
{
    /// <summary>Shortest run Cuckoo reports.</summary>
    public const int MinimumLength = 6;

    private const byte Lowest = 0x1f;
    private const byte Highest = 0x7e;

    /// <summary>The strings of <paramref name="data"/>, at most <paramref name="maxCount"/>, each at most <paramref name="maxLength"/> characters.</summary>
    public static List<string> Extract(ReadOnlySpan<byte> data, int maxCount, int maxLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxCount);
        ArgumentOutOfRangeException.ThrowIfNegative(maxLength);
        var strings = new List<string>();
        AddAscii(data, strings, maxCount, maxLength);
        AddWide(data, strings, maxCount, maxLength);
        return strings;
    }

    // Runs are found on 64-byte blocks turned into bit masks (bit i = byte i printable / zero),
    // so the cost is per block plus per run edge, not per byte. The last block is padded with
    // 0x01, which is neither printable nor zero, so padding never extends or creates a hit.
    private const int Block = 64;
    private const byte Padding = 0x01;

    private static void AddAscii(
        ReadOnlySpan<byte> data,
        List<string> strings,
        int maxCount,
        int maxLength
    )
    {
        Span<byte> tail = stackalloc byte[Block];
        var runStart = -1;
        var previous = 0UL; // bit 63 of the previous block's printable mask
        for (var start = 0; start <= data.Length && strings.Count < maxCount; start += Block)
        {
            var printable = Printable(BlockAt(data, start, tail));
            var shifted = (printable << 1) | previous;
            previous = printable >> 63;
            var edges = printable ^ shifted;
            while (edges != 0)
            {
                var bit = System.Numerics.BitOperations.TrailingZeroCount(edges);
                edges &= edges - 1;
                var position = start + bit;
                if ((printable >> bit & 1) != 0)
                {
                    runStart = position;
                }
                else
                {
                    var end = Math.Min(position, data.Length);
                    if (end - runStart >= MinimumLength && strings.Count < maxCount)
                    {
                        strings.Add(
                            Encoding.ASCII.GetString(
                                data[runStart..Math.Min(end, runStart + maxLength)]
                            )
                        );
                    }
                }
            }
        }
    }

    private static void AddWide(
        ReadOnlySpan<byte> data,
        List<string> strings,
        int maxCount,
        int maxLength
    )
    {
        // A pair starts at i when byte i is printable and byte i+1 is zero. A wide string is a
        // chain of pair starts two bytes apart; chains of the two parities never overlap (inside
        // a chain every other byte is zero, which is not printable), so edges in position order
        // give hits in the regex's order.
        Span<byte> tail = stackalloc byte[Block];
        Span<int> runStart = [-1, -1];
        var previous = 0UL; // bits 62 and 63 of the previous block's pair-start mask
        Span<char> buffer = stackalloc char[256];
        for (var start = 0; start <= data.Length && strings.Count < maxCount; start += Block)
        {
            var block = BlockAt(data, start, tail);
            var nextByte = start + Block < data.Length ? data[start + Block] : Padding;
            var zeros = Zero(block) >> 1 | (nextByte == 0 ? 1UL << 63 : 0);
            var pairs = Printable(block) & zeros;
            var shifted = (pairs << 2) | previous;
            previous = pairs >> 62;
            var edges = pairs ^ shifted;
            while (edges != 0)
            {
                var bit = System.Numerics.BitOperations.TrailingZeroCount(edges);
                edges &= edges - 1;
                var position = start + bit;
                var parity = bit & 1;
                if ((pairs >> bit & 1) != 0)
                {
                    runStart[parity] = position;
                    continue;
                }
                var characters = (position - runStart[parity]) / 2;
                if (characters >= MinimumLength && strings.Count < maxCount)
                {
                    var kept = Math.Min(characters, maxLength);
                    var chars = kept <= buffer.Length ? buffer[..kept] : new char[kept];
                    for (var i = 0; i < kept; i++)
                    {
                        chars[i] = (char)data[runStart[parity] + 2 * i];
                    }
                    strings.Add(new string(chars));
                }
            }
        }
    }

    private static ReadOnlySpan<byte> BlockAt(ReadOnlySpan<byte> data, int start, Span<byte> tail)
    {
        if (start + Block <= data.Length)
        {
            return data.Slice(start, Block);
        }
        tail.Fill(Padding);
        data[start..].CopyTo(tail);
        return tail;
    }

    private static ulong Printable(ReadOnlySpan<byte> block)
    {
        var low = Vector256.Create(block);
        var high = Vector256.Create(block[32..]);
        var offset = Vector256.Create(Lowest);
        var limit = Vector256.Create((byte)(Highest - Lowest + 1));
        var lowMask = Vector256.LessThan(low - offset, limit).ExtractMostSignificantBits();
        var highMask = Vector256.LessThan(high - offset, limit).ExtractMostSignificantBits();
        return lowMask | (ulong)highMask << 32;
    }

    private static ulong Zero(ReadOnlySpan<byte> block)
    {
        var lowMask = Vector256
            .Equals(Vector256.Create(block), Vector256<byte>.Zero)
            .ExtractMostSignificantBits();
        var highMask = Vector256
            .Equals(Vector256.Create(block[32..]), Vector256<byte>.Zero)
            .ExtractMostSignificantBits();
        return lowMask | (ulong)highMask << 32;
    }

    private static bool IsPrintable(byte value) => value is >= Lowest and <= Highest;
}
