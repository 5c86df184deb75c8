using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text.Json;

namespace Microkernel.Plugins.Network.Output;

/// <summary>
/// Writes Python 2 byte strings (latin-1) as JSON strings straight from the bytes. http_ex
/// request and response heads are a third of the output for web traffic; going through a
/// string and the writer's generic escaper cost more than the whole dissection.
/// </summary>
internal static class Latin1Json
{
    /// <summary>
    /// The per-thread escape buffer grows to the largest value seen up to this size and is kept;
    /// a larger value gets a buffer of its own (so one 16 MiB body does not stay pinned).
    /// </summary>
    private const int MaxRetainedBuffer = 4 * 1024 * 1024;

    /// <summary>Longest escape (<c>\u00XX</c>); every table entry is stored as 8 bytes.</summary>
    private const int MaxEscape = 6;

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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void WriteString(
        Utf8JsonWriter json,
        string propertyName,
        ReadOnlySpan<byte> latin1
    )
    {
        // Quotes, the worst case of 6 bytes a byte, and the stores' overhang.
        var needed = (long)MaxEscape * latin1.Length + 2 + Overhang;
        byte[] buffer;
        if (needed <= MaxRetainedBuffer)
        {
            buffer =
                t_buffer is { } kept && kept.Length >= needed
                    ? kept
                    : t_buffer = new byte[Math.Max(needed, Math.Min(64 * 1024, MaxRetainedBuffer))];
        }
        else
        {
            // Binary data escapes to about 2.1 bytes a byte: size by the actual need.
            buffer = GC.AllocateUninitializedArray<byte>(EscapedLength(latin1) + Overhang);
        }
        var length = Escape(latin1, buffer);
        json.WritePropertyName(propertyName);
        json.WriteRawValue(buffer.AsSpan(0, length), skipInputValidation: true);
    }

    // Each byte's escaped form, packed little-endian into 8 bytes, and its length.
    private static readonly ulong[] Packed = new ulong[256];
    private static readonly byte[] Lengths = BuildTable();

    private static byte[] BuildTable()
    {
        var lengths = new byte[256];
        Span<byte> form = stackalloc byte[8];
        for (var b = 0; b < 256; b++)
        {
            form.Clear();
            int length;
            if (b >= 0x80)
            {
                form[0] = (byte)(0xC0 | (b >> 6));
                form[1] = (byte)(0x80 | (b & 0x3F));
                length = 2;
            }
            else if (b is '"' or '\\' or '\n' or '\r' or '\t')
            {
                form[0] = (byte)'\\';
                form[1] = b switch
                {
                    '\n' => (byte)'n',
                    '\r' => (byte)'r',
                    '\t' => (byte)'t',
                    _ => (byte)b,
                };
                length = 2;
            }
            else if (b is < 0x20 or 0x7F)
            {
                "\\u00"u8.CopyTo(form);
                form[4] = Hex(b >> 4);
                form[5] = Hex(b & 0xF);
                length = 6;
            }
            else
            {
                form[0] = (byte)b;
                length = 1;
            }
            Packed[b] = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(form);
            lengths[b] = (byte)length;
        }
        return lengths;
    }

    private static int EscapedLength(ReadOnlySpan<byte> latin1)
    {
        var lengths = Lengths;
        long total = 2;
        foreach (var b in latin1)
        {
            total += lengths[b];
        }
        return (int)Math.Min(total, Array.MaxLength - 16);
    }

    /// <summary>
    /// Writes the quoted JSON string of <paramref name="latin1"/> into <paramref name="output"/>,
    /// which must hold its escaped length plus <see cref="Overhang"/> bytes (16 bytes are
    /// stored at a time, and each escape as 8).
    /// </summary>
    /// <remarks>
    /// 16 bytes at a time: a block of plain text is stored whole; in a block with a few escapes
    /// the plain bytes before the first one are stored with it; a block with many (binary
    /// data) goes byte by byte through the table.
    /// </remarks>
    private static int Escape(ReadOnlySpan<byte> latin1, Span<byte> output)
    {
        ref var packed = ref MemoryMarshal.GetArrayDataReference(Packed);
        ref var lengths = ref MemoryMarshal.GetArrayDataReference(Lengths);
        ref var source = ref MemoryMarshal.GetReference(latin1);
        ref var target = ref MemoryMarshal.GetReference(output);
        var o = 0;
        target = (byte)'"';
        o++;
        var i = 0;
        var n = latin1.Length;
        var space = Vector128.Create((byte)0x20);
        var plainRange = Vector128.Create((byte)(0x7F - 0x20));
        var quote = Vector128.Create((byte)'"');
        var backslash = Vector128.Create((byte)'\\');
        while (i + 16 <= n)
        {
            var block = Vector128.LoadUnsafe(ref source, (nuint)i);
            var plain =
                Vector128.LessThan(block - space, plainRange)
                & ~(Vector128.Equals(block, quote) | Vector128.Equals(block, backslash));
            var escapes = ~plain.ExtractMostSignificantBits() & 0xFFFF;
            if (escapes == 0)
            {
                block.StoreUnsafe(ref target, (nuint)o);
                o += 16;
                i += 16;
                continue;
            }
            if (BitOperations.PopCount(escapes) > 4)
            {
                for (var end = i + 16; i < end; i++)
                {
                    var b = Unsafe.Add(ref source, i);
                    Unsafe.WriteUnaligned(ref Unsafe.Add(ref target, o), Unsafe.Add(ref packed, b));
                    o += Unsafe.Add(ref lengths, b);
                }
                continue;
            }
            block.StoreUnsafe(ref target, (nuint)o);
            var run = BitOperations.TrailingZeroCount(escapes);
            o += run;
            i += run;
            var escaped = Unsafe.Add(ref source, i);
            Unsafe.WriteUnaligned(ref Unsafe.Add(ref target, o), Unsafe.Add(ref packed, escaped));
            o += Unsafe.Add(ref lengths, escaped);
            i++;
        }
        for (; i < n; i++)
        {
            var b = Unsafe.Add(ref source, i);
            Unsafe.WriteUnaligned(ref Unsafe.Add(ref target, o), Unsafe.Add(ref packed, b));
            o += Unsafe.Add(ref lengths, b);
        }
        output[o++] = (byte)'"';
        return o;
    }

    /// <summary>Room past the escaped length that <see cref="Escape"/> may write over.</summary>
    private const int Overhang = 16;

    private static byte Hex(int value) => (byte)(value < 10 ? '0' + value : 'a' + value - 10);
}
