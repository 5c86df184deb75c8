using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Microkernel.Plugins.Strings;

/// <summary>
/// Writes a JSON array of ASCII strings to a stream, byte for byte as the host's
/// <see cref="Utf8JsonWriter"/> (default options) writes the same strings, at a fraction of its
/// cost per string: text is copied between quotes, and the few bytes the writer's default encoder
/// escapes are replaced by what that encoder gives for them (asked once, through
/// <see cref="JsonEncodedText"/>, rather than listed by hand). For ASCII the encoder escapes each
/// character on its own, so escaping byte by byte gives its output.
/// </summary>
internal sealed class JsonStringArray : IDisposable
{
    /// <summary>Per ASCII byte: its escaped form, or null when the encoder keeps it as is.</summary>
    private static readonly byte[]?[] Replacements = Enumerable
        .Range(0, 128)
        .Select(b => JsonEncodedText.Encode([(byte)b]).EncodedUtf8Bytes.ToArray())
        .Select(encoded => encoded.Length == 1 ? null : encoded)
        .ToArray();

    /// <summary>The ASCII bytes that have a replacement.</summary>
    private static readonly SearchValues<byte> Escaped = SearchValues.Create(
        Enumerable
            .Range(0, 128)
            .Where(b => Replacements[b] is not null)
            .Select(b => (byte)b)
            .ToArray()
    );

    private const int BufferSize = 64 * 1024;

    private readonly Stream _output;
    private readonly byte[] _buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
    private byte[] _narrow = [];
    private int _used;
    private bool _empty = true;

    /// <summary>Opens the array.</summary>
    public JsonStringArray(Stream output)
    {
        _output = output;
        Put("["u8);
    }

    /// <summary>Adds a string of bytes in [0x00, 0x7f] (others would not be valid UTF-8 on their own).</summary>
    public void Add(ReadOnlySpan<byte> ascii)
    {
        var escape = ascii.IndexOfAny(Escaped);
        if (escape < 0 && ascii.Length + 3 <= BufferSize - _used)
        {
            // The common case, in one go: separator, quote, text, quote.
            var free = _buffer.AsSpan(_used);
            var at = 0;
            if (!_empty)
            {
                free[at++] = (byte)',';
            }
            free[at++] = (byte)'"';
            ascii.CopyTo(free[at..]);
            at += ascii.Length;
            free[at++] = (byte)'"';
            _used += at;
            _empty = false;
            return;
        }
        Put(_empty ? "\""u8 : ",\""u8);
        _empty = false;
        while (escape >= 0)
        {
            Put(ascii[..escape]);
            Put(Replacements[ascii[escape]]!);
            ascii = ascii[(escape + 1)..];
            escape = ascii.IndexOfAny(Escaped);
        }
        Put(ascii);
        Put("\""u8);
    }

    /// <summary>Adds a string of characters in [U+0000, U+007F].</summary>
    public void Add(ReadOnlySpan<char> ascii)
    {
        // The same characters as bytes give the same JSON.
        if (_narrow.Length < ascii.Length)
        {
            _narrow = new byte[Math.Max(ascii.Length, 2 * _narrow.Length)];
        }
        var length = Encoding.Latin1.GetBytes(ascii, _narrow);
        Add(_narrow.AsSpan(0, length));
    }

    /// <summary>Closes the array and writes out what is buffered.</summary>
    public void Finish()
    {
        Put("]"u8);
        Flush();
    }

    private void Put(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > BufferSize - _used)
        {
            Flush();
            if (bytes.Length > BufferSize)
            {
                _output.Write(bytes);
                return;
            }
        }
        bytes.CopyTo(_buffer.AsSpan(_used));
        _used += bytes.Length;
    }

    private void Flush()
    {
        _output.Write(_buffer, 0, _used);
        _used = 0;
    }

    /// <inheritdoc />
    public void Dispose() => ArrayPool<byte>.Shared.Return(_buffer);
}
