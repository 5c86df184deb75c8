using System.Text;

namespace Microkernel.Plugins.Strings;

/// <summary>
/// Cuckoo 2.0's strings rule without its regexes: ASCII <c>[\x1f-\x7e]{6,}</c> over the whole
/// buffer, then UTF-16LE <c>(?:[\x1f-\x7e]\x00){6,}</c> over the whole buffer (so wide hits may
/// start at odd offsets), ASCII first, the count cap applied after concatenation, each string cut
/// afterwards. Both passes use vectorised span searches, which keeps them well above 1 GB/s.
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

    private static void AddAscii(
        ReadOnlySpan<byte> data,
        List<string> strings,
        int maxCount,
        int maxLength
    )
    {
        var position = 0;
        while (strings.Count < maxCount && position < data.Length)
        {
            var start = data[position..].IndexOfAnyInRange(Lowest, Highest);
            if (start < 0)
            {
                return;
            }
            start += position;
            var run = data[start..].IndexOfAnyExceptInRange(Lowest, Highest);
            var end = run < 0 ? data.Length : start + run;
            if (end - start >= MinimumLength)
            {
                strings.Add(
                    Encoding.ASCII.GetString(data[start..Math.Min(end, start + maxLength)])
                );
            }
            position = end;
        }
    }

    private static void AddWide(
        ReadOnlySpan<byte> data,
        List<string> strings,
        int maxCount,
        int maxLength
    )
    {
        // A wide run is pairs (printable, 0). Every run ends a pair with a zero, so we hop from
        // zero to zero: only the first zero of a zero run can follow a printable byte.
        var position = 0;
        Span<char> buffer = stackalloc char[256];
        while (strings.Count < maxCount && position < data.Length)
        {
            var zero = data[position..].IndexOf((byte)0);
            if (zero < 0)
            {
                return;
            }
            zero += position;
            var start = zero - 1;
            if (start < position || !IsPrintable(data[start]))
            {
                var afterZeros = data[zero..].IndexOfAnyExcept((byte)0);
                if (afterZeros < 0)
                {
                    return;
                }
                position = zero + afterZeros;
                continue;
            }
            var end = start;
            while (end + 1 < data.Length && IsPrintable(data[end]) && data[end + 1] == 0)
            {
                end += 2;
            }
            var characters = (end - start) / 2;
            if (characters >= MinimumLength)
            {
                var kept = Math.Min(characters, maxLength);
                var chars = kept <= buffer.Length ? buffer[..kept] : new char[kept];
                for (var i = 0; i < kept; i++)
                {
                    chars[i] = (char)data[start + 2 * i];
                }
                strings.Add(new string(chars));
            }
            position = end;
        }
    }

    private static bool IsPrintable(byte value) => value is >= Lowest and <= Highest;
}
