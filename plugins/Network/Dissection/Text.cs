using System.Runtime.CompilerServices;
using System.Text;

namespace Microkernel.Plugins.Network.Dissection;

/// <summary>Cuckoo's string conventions for bytes.</summary>
internal static class Text
{
    private static readonly bool[] Printable = BuildPrintable();

    private static bool[] BuildPrintable()
    {
        var table = new bool[256];
        for (var c = 0x20; c < 0x7F; c++)
        {
            table[c] = true;
        }
        table['\t'] = table['\r'] = table['\n'] = true;
        return table;
    }

    /// <summary>Python 2 byte strings are reported as latin-1 text.</summary>
    public static string Latin1(ReadOnlySpan<byte> bytes) => Encoding.Latin1.GetString(bytes);

    /// <summary>
    /// Cuckoo's <c>convert_to_printable</c>: ASCII letters, digits, punctuation, space, tab, CR
    /// and LF stay; every other byte becomes the literal text <c>\xNN</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static string ConvertToPrintable(ReadOnlySpan<byte> bytes)
    {
        var clean = true;
        foreach (var b in bytes)
        {
            if (!Printable[b])
            {
                clean = false;
                break;
            }
        }
        if (clean)
        {
            return Latin1(bytes);
        }
        var builder = new StringBuilder(bytes.Length + 16);
        foreach (var b in bytes)
        {
            if (Printable[b])
            {
                builder.Append((char)b);
            }
            else
            {
                builder.Append("\\x").Append(HexDigit(b >> 4)).Append(HexDigit(b & 0xF));
            }
        }
        return builder.ToString();
    }

    private static char HexDigit(int value) => (char)(value < 10 ? '0' + value : 'a' + value - 10);

    /// <summary>Python 2's <c>str.strip()</c> whitespace: space, \t, \n, \v, \f, \r.</summary>
    public static bool IsPythonSpace(byte b) => b is (byte)' ' or (>= 9 and <= 13);

    public static ReadOnlySpan<byte> Strip(ReadOnlySpan<byte> s)
    {
        var start = 0;
        while (start < s.Length && IsPythonSpace(s[start]))
        {
            start++;
        }
        var end = s.Length;
        while (end > start && IsPythonSpace(s[end - 1]))
        {
            end--;
        }
        return s[start..end];
    }

    public static ReadOnlySpan<byte> LStrip(ReadOnlySpan<byte> s)
    {
        var start = 0;
        while (start < s.Length && IsPythonSpace(s[start]))
        {
            start++;
        }
        return s[start..];
    }

    /// <summary>Python's <c>readline()</c>: up to and including the next LF.</summary>
    public static ReadOnlySpan<byte> ReadLine(ref ReadOnlySpan<byte> rest)
    {
        var newline = rest.IndexOf((byte)'\n');
        var line = newline < 0 ? rest : rest[..(newline + 1)];
        rest = rest[line.Length..];
        return line;
    }

    /// <summary>Python's whitespace <c>split()</c> into at most <paramref name="max"/> parts.</summary>
    public static int Split(ReadOnlySpan<byte> s, Span<Range> parts, int max)
    {
        var count = 0;
        var i = 0;
        while (i < s.Length && count < parts.Length)
        {
            while (i < s.Length && IsPythonSpace(s[i]))
            {
                i++;
            }
            if (i >= s.Length)
            {
                break;
            }
            if (count == max - 1)
            {
                var end = s.Length;
                while (end > i && IsPythonSpace(s[end - 1]))
                {
                    end--;
                }
                parts[count++] = new Range(i, end);
                break;
            }
            var start = i;
            while (i < s.Length && !IsPythonSpace(s[i]))
            {
                i++;
            }
            parts[count++] = new Range(start, i);
        }
        return count;
    }

    /// <summary>Lenient base64 like Python's <c>binascii.a2b_base64</c>: skips foreign bytes.</summary>
    public static byte[]? DecodeBase64Lenient(ReadOnlySpan<byte> text)
    {
        var output = new List<byte>(text.Length * 3 / 4);
        int buffer = 0,
            bits = 0;
        foreach (var c in text)
        {
            int value = c switch
            {
                >= (byte)'A' and <= (byte)'Z' => c - 'A',
                >= (byte)'a' and <= (byte)'z' => c - 'a' + 26,
                >= (byte)'0' and <= (byte)'9' => c - '0' + 52,
                (byte)'+' => 62,
                (byte)'/' => 63,
                (byte)'=' => -2,
                _ => -1,
            };
            if (value == -2)
            {
                break;
            }
            if (value < 0)
            {
                continue;
            }
            buffer = (buffer << 6) | value;
            bits += 6;
            if (bits >= 8)
            {
                bits -= 8;
                output.Add((byte)((buffer >> bits) & 0xFF));
            }
        }
        return bits >= 6 ? null : output.ToArray();
    }
}
