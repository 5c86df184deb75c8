using System.Buffers.Binary;

namespace Microkernel.Plugins.Behavior.Bson;

/// <summary>
/// Checks one BSON document before anything reads it, so later reads can trust every length.
/// Hand-written rather than MongoDB.Bson because the monitor stream needs exact control over
/// bounds (error offsets, a fixed nesting limit) and positional arrays, and because the hot path
/// must not allocate per element: 1 million calls per second leaves about a microsecond each.
/// </summary>
internal static class BsonValidator
{
    /// <summary>Deeper nesting than this is treated as corruption (the monitor nests 4 levels).</summary>
    public const int MaxDepth = 32;

    /// <summary>Validates the document starting at offset 0 of <paramref name="doc"/>.</summary>
    /// <returns>null when valid, else what is wrong; <paramref name="errorOffset"/> is relative to <paramref name="doc"/>.</returns>
    public static string? Validate(ReadOnlySpan<byte> doc, out int errorOffset) =>
        ValidateDocument(doc, 0, doc.Length, 0, out errorOffset);

    private static string? ValidateDocument(
        ReadOnlySpan<byte> buffer,
        int offset,
        int limit,
        int depth,
        out int errorOffset
    )
    {
        errorOffset = offset;
        if (depth > MaxDepth)
        {
            return $"documents nested deeper than {MaxDepth} levels";
        }
        if (limit - offset < 5)
        {
            return "embedded document shorter than 5 bytes";
        }
        var length = BinaryPrimitives.ReadInt32LittleEndian(buffer[offset..]);
        if (length < 5 || length > limit - offset)
        {
            return $"document length {length} does not fit in the {limit - offset} bytes available";
        }
        var end = offset + length - 1;
        if (buffer[end] != 0)
        {
            return "document does not end with a NUL byte";
        }
        var position = offset + 4;
        while (position < end)
        {
            errorOffset = position;
            var type = buffer[position];
            var nameStart = position + 1;
            var nameLength = NameLength(buffer, nameStart, end);
            if (nameLength < 0)
            {
                return "element name is not NUL-terminated";
            }
            var valueOffset = nameStart + nameLength + 1;
            errorOffset = valueOffset;
            int size;
            switch (type)
            {
                case BsonType.Document:
                case BsonType.Array:
                    var nested = ValidateDocument(buffer, valueOffset, end, depth + 1, out var at);
                    if (nested is not null)
                    {
                        errorOffset = at;
                        return nested;
                    }
                    size = BinaryPrimitives.ReadInt32LittleEndian(buffer[valueOffset..]);
                    break;
                case BsonType.String:
                    if (end - valueOffset < 4)
                    {
                        return "string length runs past the document";
                    }
                    var stringLength = BinaryPrimitives.ReadInt32LittleEndian(
                        buffer[valueOffset..]
                    );
                    if (stringLength < 1 || stringLength > end - valueOffset - 4)
                    {
                        return $"string length {stringLength} does not fit in the document";
                    }
                    if (buffer[valueOffset + 4 + stringLength - 1] != 0)
                    {
                        return "string is not NUL-terminated";
                    }
                    size = 4 + stringLength;
                    break;
                case BsonType.Binary:
                    if (end - valueOffset < 5)
                    {
                        return "binary length runs past the document";
                    }
                    var binaryLength = BinaryPrimitives.ReadInt32LittleEndian(
                        buffer[valueOffset..]
                    );
                    if (binaryLength < 0 || binaryLength > end - valueOffset - 5)
                    {
                        return $"binary length {binaryLength} does not fit in the document";
                    }
                    size = 5 + binaryLength;
                    break;
                default:
                    size = FixedSize(type);
                    if (size < 0)
                    {
                        errorOffset = position;
                        return $"unsupported BSON element type 0x{type:x2}";
                    }
                    if (size > end - valueOffset)
                    {
                        return "value runs past the document";
                    }
                    break;
            }
            position = valueOffset + size;
        }
        errorOffset = offset;
        return position == end ? null : "elements overrun the document end";
    }

    /// <summary>
    /// Size of each fixed-size element type, -1 for variable-size or unsupported types: a table
    /// read costs less than the switch on the per-element hot path.
    /// </summary>
    private static ReadOnlySpan<sbyte> FixedSizes =>
        [
            -1,
            8,
            -1,
            -1,
            -1,
            -1,
            0,
            12,
            1,
            8,
            0,
            -1,
            -1,
            -1,
            -1,
            -1, // 0x00
            4,
            8,
            8,
            16,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1, // 0x10
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1, // 0x20
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1, // 0x30
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1, // 0x40
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1, // 0x50
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1, // 0x60
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            0, // 0x70
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1, // 0x80
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1, // 0x90
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1, // 0xa0
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1, // 0xb0
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1, // 0xc0
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1, // 0xd0
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1, // 0xe0
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            0, // 0xf0
        ];

    private static int FixedSize(byte type) => FixedSizes[type];

    /// <summary>
    /// Length of the NUL-terminated element name at <paramref name="start"/>, or -1 when no NUL
    /// comes before <paramref name="end"/>. Names in the monitor stream are a few bytes long, where
    /// a plain loop beats the vectorised search; longer ones fall back to it.
    /// </summary>
    public static int NameLength(ReadOnlySpan<byte> buffer, int start, int end)
    {
        var quickEnd = Math.Min(end, start + 16);
        for (var i = start; i < quickEnd; i++)
        {
            if (buffer[i] == 0)
            {
                return i - start;
            }
        }
        if (quickEnd >= end)
        {
            return -1;
        }
        var rest = buffer[quickEnd..end].IndexOf((byte)0);
        return rest < 0 ? -1 : quickEnd - start + rest;
    }

    /// <summary>Size of a value that has already been validated.</summary>
    public static int ValueSize(ReadOnlySpan<byte> buffer, byte type, int valueOffset)
    {
        int size = FixedSizes[type];
        if (size >= 0)
        {
            return size;
        }
        var length = BinaryPrimitives.ReadInt32LittleEndian(buffer[valueOffset..]);
        return type switch
        {
            BsonType.String => 4 + length,
            BsonType.Binary => 5 + length,
            _ => length, // document or array: the length includes itself
        };
    }
}
