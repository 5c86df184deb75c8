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
        // A whole response body (no blank line) can be megabytes: size its buffer exactly
        // rather than keep a worst-case one around.
        var buffer =
            latin1.Length > MaxBuffered
                ? GC.AllocateUninitializedArray<byte>(EscapedLength(latin1))
                : t_buffer ??= new byte[6 * MaxBuffered + 2];
        var length = Escape(latin1, buffer);
        json.WritePropertyName(propertyName);
        json.WriteRawValue(buffer.AsSpan(0, length), skipInputValidation: true);
    }

    private static int EscapedLength(ReadOnlySpan<byte> latin1)
    {
        var length = 2;
        var rest = latin1;
        while (!rest.IsEmpty)
        {
            var plain = rest.IndexOfAnyExcept(Plain);
            if (plain < 0)
            {
                return length + rest.Length;
            }
            length += plain;
            var b = rest[plain];
            length += b switch
            {
                (byte)'"' or (byte)'\\' or (byte)'\n' or (byte)'\r' or (byte)'\t' or >= 0x80 => 2,
                _ => 6,
            };
            rest = rest[(plain + 1)..];
        }
        return length;
    }

    /// <summary>Quoted JSON string of <paramref name="latin1"/>; the output needs 6 bytes per input byte at most, plus 2.</summary>
    private static int Escape(ReadOnlySpan<byte> latin1, Span<byte> output)
    {
        var o = 0;
        output[o++] = (byte)'"';
        var rest = latin1;
        while (!rest.IsEmpty)
        {
            var plain = rest.IndexOfAnyExcept(Plain);
            if (plain < 0)
            {
                plain = rest.Length;
            }
            rest[..plain].CopyTo(output[o..]);
            o += plain;
            if (plain == rest.Length)
            {
                break;
            }
            var b = rest[plain];
            rest = rest[(plain + 1)..];
            switch (b)
            {
                case (byte)'"':
                    output[o++] = (byte)'\\';
                    output[o++] = (byte)'"';
                    break;
                case (byte)'\\':
                    output[o++] = (byte)'\\';
                    output[o++] = (byte)'\\';
                    break;
                case (byte)'\n':
                    output[o++] = (byte)'\\';
                    output[o++] = (byte)'n';
                    break;
                case (byte)'\r':
                    output[o++] = (byte)'\\';
                    output[o++] = (byte)'r';
                    break;
                case (byte)'\t':
                    output[o++] = (byte)'\\';
                    output[o++] = (byte)'t';
                    break;
                case >= 0x80:
                    output[o++] = (byte)(0xC0 | (b >> 6));
                    output[o++] = (byte)(0x80 | (b & 0x3F));
                    break;
                default: // other control characters and DEL
                    output[o++] = (byte)'\\';
                    output[o++] = (byte)'u';
                    output[o++] = (byte)'0';
                    output[o++] = (byte)'0';
                    output[o++] = Hex(b >> 4);
                    output[o++] = Hex(b & 0xF);
                    break;
            }
        }
        output[o++] = (byte)'"';
        return o;
    }

    private static byte Hex(int value) => (byte)(value < 10 ? '0' + value : 'a' + value - 10);
}
