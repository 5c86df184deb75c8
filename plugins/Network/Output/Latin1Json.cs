using System.Buffers;
using System.Text.Json;

namespace Microkernel.Plugins.Network.Output;

/// <summary>
/// Writes Python 2 byte strings (latin-1) as JSON strings straight from the bytes. http_ex
/// request and response heads are a third of the output for web traffic; going through a
/// string and the writer's generic escaper cost more than the whole dissection.
/// </summary>
internal static class Latin1Json
{
    /// <summary>Above this the value is written the ordinary way rather than through a buffer.</summary>
    private const int MaxBuffered = 64 * 1024;

    // Printable ASCII except the two characters JSON requires escaped.
    private static readonly SearchValues<byte> Plain = SearchValues.Create(
        Enumerable
            .Range(0x20, 0x7F - 0x20)
            .Where(b => b is not '"' and not '\\')
            .Select(b => (byte)b)
            .ToArray()
    );

    [ThreadStatic]
    private static byte[]? t_buffer;

    public static void WriteString(
        Utf8JsonWriter json,
        string propertyName,
        ReadOnlySpan<byte> latin1
    )
    {
        byte[] buffer;
        int length;
        if (latin1.Length <= MaxBuffered)
        {
            buffer = t_buffer ??= new byte[6 * MaxBuffered + 2];
            length = Escape(latin1, buffer);
        }
        else
        {
            // A whole response body (no blank line) can be megabytes: binary data escapes to
            // about 2.1 bytes a byte, so try 3x and size exactly only when that is not enough.
            buffer = GC.AllocateUninitializedArray<byte>(3 * latin1.Length + 2);
            length = Escape(latin1, buffer);
            if (length < 0)
            {
                buffer = GC.AllocateUninitializedArray<byte>(6 * latin1.Length + 2);
                length = Escape(latin1, buffer);
            }
        }
        json.WritePropertyName(propertyName);
        json.WriteRawValue(buffer.AsSpan(0, length), skipInputValidation: true);
    }

    // 0: copied as is; 1: two UTF-8 bytes; 2: two-character escape; 3: \u00XX.
    private static readonly byte[] Kind = BuildKinds();

    private static byte[] BuildKinds()
    {
        var kinds = new byte[256];
        for (var b = 0; b < 256; b++)
        {
            kinds[b] = b switch
            {
                >= 0x80 => 1,
                '"' or '\\' or '\n' or '\r' or '\t' => 2,
                < 0x20 or 0x7F => 3,
                _ => 0,
            };
        }
        return kinds;
    }

    /// <summary>
    /// Quoted JSON string of <paramref name="latin1"/>, or -1 when <paramref name="output"/>
    /// is too small (6 bytes per input byte plus 2 always suffice).
    /// </summary>
    private static int Escape(ReadOnlySpan<byte> latin1, Span<byte> output)
    {
        var kinds = Kind;
        var o = 0;
        var limit = output.Length - 7; // room for the longest escape and the closing quote
        output[o++] = (byte)'"';
        var i = 0;
        while (i < latin1.Length)
        {
            if (o > limit)
            {
                return -1;
            }
            var b = latin1[i];
            switch (kinds[b])
            {
                case 0:
                    if (i + 1 < latin1.Length && kinds[latin1[i + 1]] == 0)
                    {
                        // Text: copy the whole run at once.
                        var run = latin1[i..].IndexOfAnyExcept(Plain);
                        if (run < 0)
                        {
                            run = latin1.Length - i;
                        }
                        if (o + run > limit)
                        {
                            return -1;
                        }
                        latin1.Slice(i, run).CopyTo(output[o..]);
                        o += run;
                        i += run;
                        continue;
                    }
                    output[o++] = b;
                    break;
                case 1:
                    output[o++] = (byte)(0xC0 | (b >> 6));
                    output[o++] = (byte)(0x80 | (b & 0x3F));
                    break;
                case 2:
                    output[o++] = (byte)'\\';
                    output[o++] = b switch
                    {
                        (byte)'\n' => (byte)'n',
                        (byte)'\r' => (byte)'r',
                        (byte)'\t' => (byte)'t',
                        _ => b,
                    };
                    break;
                default:
                    output[o++] = (byte)'\\';
                    output[o++] = (byte)'u';
                    output[o++] = (byte)'0';
                    output[o++] = (byte)'0';
                    output[o++] = Hex(b >> 4);
                    output[o++] = Hex(b & 0xF);
                    break;
            }
            i++;
        }
        output[o++] = (byte)'"';
        return o;
    }

    private static byte Hex(int value) => (byte)(value < 10 ? '0' + value : 'a' + value - 10);
}
