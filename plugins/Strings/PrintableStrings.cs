using System.Diagnostics.CodeAnalysis;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text;

namespace Microkernel.Plugins.Strings;

/// <summary>
/// Cuckoo 2.0's strings rule without its regexes: ASCII <c>[\x1f-\x7e]{6,}</c> over the whole
/// buffer, then UTF-16LE <c>(?:[\x1f-\x7e]\x00){6,}</c> over the whole buffer (so wide hits may
/// start at odd offsets), ASCII first, the count cap applied after concatenation, each string cut
/// afterwards.
/// </summary>
/// <remarks>
/// One pass finds both kinds: each 64-byte block becomes two bit masks (printable, zero), and
/// shifted ANDs of them mark the positions where six printable bytes, or six printable/zero pairs,
/// begin. Binary data almost never has such a position, so most blocks cost a few vector compares
/// and no branch per byte; where one is found, the end of the run comes from the masks at hand
/// (or a vectorised span search for long runs). Wide hits are only remembered (offset, length)
/// and output after the ASCII ones, which keeps Cuckoo's "all ASCII, then all wide" order without
/// a second pass. The module writes hits straight to JSON (<see cref="WriteJson"/>), so no string
/// object is made per hit.
/// </remarks>
public static class PrintableStrings
{
    /// <summary>Shortest run Cuckoo reports.</summary>
    public const int MinimumLength = 6;

    private const byte Lowest = 0x1f;
    private const byte Highest = 0x7e;
    private const int Block = 64;

    // The last block is padded with 0x01, which is neither printable nor zero, so padding never
    // extends or creates a hit.
    private const byte Padding = 0x01;

    /// <summary>The strings of <paramref name="data"/>, at most <paramref name="maxCount"/>, each at most <paramref name="maxLength"/> characters.</summary>
    public static List<string> Extract(ReadOnlySpan<byte> data, int maxCount, int maxLength)
    {
        var sink = new ListSink(new List<string>());
        Scan(data, maxCount, maxLength, ref sink);
        return sink.Strings;
    }

    /// <summary>
    /// The same strings written to <paramref name="output"/> as one JSON array, byte for byte what
    /// the host's serialiser writes for <see cref="Extract"/>'s list, without a string object per hit.
    /// </summary>
    public static void WriteJson(
        ReadOnlySpan<byte> data,
        int maxCount,
        int maxLength,
        Stream output
    )
    {
        ArgumentNullException.ThrowIfNull(output);
        using var array = new JsonStringArray(output);
        var sink = new JsonSink(array);
        Scan(data, maxCount, maxLength, ref sink);
        array.Finish();
    }

    /// <summary>Receives the hits in output order; a struct so the calls inline.</summary>
    private interface ISink
    {
        /// <summary>An ASCII hit, already cut.</summary>
        void Ascii(ReadOnlySpan<byte> text);

        /// <summary>A wide hit, already cut.</summary>
        void Wide(ReadOnlySpan<char> text);
    }

    private readonly struct ListSink(List<string> strings) : ISink
    {
        public List<string> Strings { get; } = strings;

        public void Ascii(ReadOnlySpan<byte> text) => Strings.Add(Encoding.Latin1.GetString(text));

        public void Wide(ReadOnlySpan<char> text) => Strings.Add(new string(text));
    }

    private readonly struct JsonSink(JsonStringArray array) : ISink
    {
        public void Ascii(ReadOnlySpan<byte> text) => array.Add(text);

        public void Wide(ReadOnlySpan<char> text) => array.Add(text);
    }

    // Runs once per sample, so tiered compilation would leave the loop in its unoptimised or
    // on-stack-replaced form; compile it fully optimised at once.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Scan<TSink>(
        ReadOnlySpan<byte> data,
        int maxCount,
        int maxLength,
        ref TSink sink
    )
        where TSink : struct, ISink
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxCount);
        ArgumentOutOfRangeException.ThrowIfNegative(maxLength);
        if (maxCount == 0)
        {
            return;
        }
        var count = 0;
        // Wide hits found while ASCII ones are still being collected; never more than maxCount.
        var wide = new List<(int Start, int Characters)>();
        Span<byte> tail = stackalloc byte[Block];

        var asciiFrom = 0; // the ASCII regex resumes here (one past the end of its last hit)
        var wideFrom = 0; // the same for the wide regex
        var (printable, zero) = Masks(BlockAt(data, 0, tail));
        for (var start = 0; start < data.Length; start += Block)
        {
            // Six-byte runs need five bytes of the next block, six pairs need eleven.
            var (nextPrintable, nextZero) = Masks(BlockAt(data, start + Block, tail));
            var asciiStarts = RunsOfSix(printable, nextPrintable, 1);
            var pairs = printable & ((zero >> 1) | (nextZero << 63));
            // Bit 63 of nextPairs would need the block after next, but only bits 0..9 are used.
            var nextPairs = nextPrintable & (nextZero >> 1);
            var wideStarts =
                (pairs | nextPairs) != 0 && wide.Count < maxCount
                    ? RunsOfSix(pairs, nextPairs, 2)
                    : 0;
            if ((asciiStarts | wideStarts) != 0)
            {
                asciiStarts &= From(asciiFrom - start);
                while (asciiStarts != 0)
                {
                    var at = start + BitOperations.TrailingZeroCount(asciiStarts);
                    var end = AsciiRunEnd(data, at, start, printable, nextPrintable);
                    sink.Ascii(data.Slice(at, Math.Min(end - at, maxLength)));
                    if (++count == maxCount)
                    {
                        return;
                    }
                    // The byte at end is not printable: the next run starts after it.
                    asciiFrom = end + 1;
                    asciiStarts &= From(asciiFrom - start);
                }

                wideStarts &= From(wideFrom - start);
                while (wideStarts != 0 && wide.Count < maxCount)
                {
                    var at = start + BitOperations.TrailingZeroCount(wideStarts);
                    var characters = WideRunLength(data, at);
                    wide.Add((at, characters));
                    wideFrom = at + 2 * characters;
                    wideStarts &= From(wideFrom - start);
                }
            }
            printable = nextPrintable;
            zero = nextZero;
        }

        foreach (var (at, characters) in wide)
        {
            if (count++ == maxCount)
            {
                break;
            }
            sink.Wide(
                MemoryMarshal.Cast<byte, char>(data.Slice(at, 2 * Math.Min(characters, maxLength)))
            );
        }
    }

    /// <summary>
    /// Bit i set when bits i, i+step, ..., i+5*step of the 128-bit value (<paramref name="high"/>:<paramref name="low"/>)
    /// are all set, by doubling: runs of two, of four, then four and two. Only the low 6 * step
    /// bits of <paramref name="high"/> are read.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong RunsOfSix(ulong low, ulong high, [ConstantExpected] int step)
    {
        var two = low & Shifted(low, high, step);
        var twoHigh = high & (high >> step);
        var four = two & Shifted(two, twoHigh, 2 * step);
        return four & Shifted(two, twoHigh, 4 * step);
    }

    /// <summary>Bits <paramref name="by"/> .. 63 + <paramref name="by"/> of (high:low), as a 64-bit value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Shifted(ulong low, ulong high, int by) =>
        (low >> by) | (high << (Block - by));

    /// <summary>Bits at positions &gt;= <paramref name="offset"/> (all for negative, none past 63).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong From(int offset) =>
        offset <= 0 ? ulong.MaxValue
        : offset >= Block ? 0
        : ulong.MaxValue << offset;

    /// <summary>One past the last printable byte of the run starting (with six) at <paramref name="at"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int AsciiRunEnd(
        ReadOnlySpan<byte> data,
        int at,
        int start,
        ulong printable,
        ulong nextPrintable
    )
    {
        // Most runs end within the two blocks whose masks are at hand.
        var stops = ~printable & From(at - start);
        if (stops != 0)
        {
            return start + BitOperations.TrailingZeroCount(stops);
        }
        if (~nextPrintable != 0)
        {
            return start + Block + BitOperations.TrailingZeroCount(~nextPrintable);
        }
        var rest = data[(start + 2 * Block)..];
        var end = rest.IndexOfAnyExceptInRange(Lowest, Highest);
        return start + 2 * Block + (end < 0 ? rest.Length : end);
    }

    /// <summary>Characters in the printable/zero pair chain starting (with six) at <paramref name="at"/>.</summary>
    private static int WideRunLength(ReadOnlySpan<byte> data, int at)
    {
        // A little-endian 16-bit unit is in [0x1f, 0x7e] exactly when its low byte is printable
        // and its high byte zero; a trailing odd byte is dropped by the cast, as it cannot pair.
        var rest = MemoryMarshal.Cast<byte, ushort>(data[(at + 2 * MinimumLength)..]);
        var end = rest.IndexOfAnyExceptInRange((ushort)Lowest, (ushort)Highest);
        return MinimumLength + (end < 0 ? rest.Length : end);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ReadOnlySpan<byte> BlockAt(ReadOnlySpan<byte> data, int start, Span<byte> tail)
    {
        if (start + Block <= data.Length)
        {
            return data.Slice(start, Block);
        }
        tail.Fill(Padding);
        if (start < data.Length)
        {
            data[start..].CopyTo(tail);
        }
        return tail;
    }

    /// <summary>Bit i of each mask: byte i is printable / is zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (ulong Printable, ulong Zero) Masks(ReadOnlySpan<byte> block)
    {
        var low = Vector256.Create(block);
        var high = Vector256.Create(block[32..]);
        var offset = Vector256.Create(Lowest);
        var limit = Vector256.Create((byte)(Highest - Lowest + 1));
        var printable =
            Vector256.LessThan(low - offset, limit).ExtractMostSignificantBits()
            | (ulong)Vector256.LessThan(high - offset, limit).ExtractMostSignificantBits() << 32;
        var zero =
            Vector256.Equals(low, Vector256<byte>.Zero).ExtractMostSignificantBits()
            | (ulong)Vector256.Equals(high, Vector256<byte>.Zero).ExtractMostSignificantBits()
                << 32;
        return (printable, zero);
    }
}
