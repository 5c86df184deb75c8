using System.Buffers.Binary;
using Microkernel.Plugins.Behavior.Bson;

namespace Microkernel.Plugins.Behavior.Tests.Bson;

/// <summary>
/// The standalone recursive validator as it was before validation moved into the parser's walk
/// (<see cref="BsonCheckedElements"/>): kept as the oracle that the new code must agree with.
/// </summary>
internal static class ReferenceBsonValidator
{
    /// <summary>Deeper nesting than this is treated as corruption (the monitor nests 4 levels).</summary>
    private const int MaxDepth = BsonValidator.MaxDepth;

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
            var nameLength = buffer[nameStart..end].IndexOf((byte)0);
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

    private static int FixedSize(byte type) =>
        type switch
        {
            BsonType.Double or BsonType.DateTime or BsonType.Timestamp or BsonType.Int64 => 8,
            BsonType.Int32 => 4,
            BsonType.Boolean => 1,
            BsonType.Null or BsonType.Undefined or BsonType.MinKey or BsonType.MaxKey => 0,
            BsonType.ObjectId => 12,
            BsonType.Decimal128 => 16,
            _ => -1,
        };
}
