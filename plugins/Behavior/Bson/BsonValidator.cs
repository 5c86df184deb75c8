using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Microkernel.Plugins.Behavior.Bson;

/// <summary>
/// Checks a BSON document before anything trusts its lengths. Hand-written rather than
/// MongoDB.Bson because the monitor stream needs exact control over bounds (error offsets, a
/// fixed nesting limit) and positional arrays, and because the hot path must not allocate per
/// element: 1 million calls per second leaves about a microsecond each. The checks live in
/// <see cref="BsonCheckedElements"/>, so a reader that walks a document anyway (the monitor log
/// parser) validates it in the same pass.
/// </summary>
internal static class BsonValidator
{
    /// <summary>Deeper nesting than this is treated as corruption (the monitor nests 4 levels).</summary>
    public const int MaxDepth = 32;

    /// <summary>Validates the document starting at offset 0 of <paramref name="doc"/>.</summary>
    /// <returns>null when valid, else what is wrong; <paramref name="errorOffset"/> is relative to <paramref name="doc"/>.</returns>
    public static string? Validate(ReadOnlySpan<byte> doc, out int errorOffset) =>
        ValidateDocument(doc, 0, doc.Length, 0, out errorOffset);

    /// <summary>
    /// Validates the elements of the embedded document or array <paramref name="value"/>, met at
    /// <paramref name="elements"/>' position (its header is already checked).
    /// </summary>
    public static string? ValidateNested(
        ReadOnlySpan<byte> buffer,
        in BsonCheckedElements elements,
        BsonValue value,
        out int errorOffset
    ) => ValidateDocument(buffer, value.Offset, elements.End, elements.Depth + 1, out errorOffset);

    private static string? ValidateDocument(
        ReadOnlySpan<byte> buffer,
        int offset,
        int limit,
        int depth,
        out int errorOffset
    )
    {
        var elements = new BsonCheckedElements(buffer, offset, limit, depth);
        while (elements.MoveNext())
        {
            if (elements.Value.IsDocumentLike)
            {
                var nested = ValidateNested(buffer, elements, elements.Value, out errorOffset);
                if (nested is not null)
                {
                    return nested;
                }
            }
        }
        errorOffset = elements.ErrorOffset;
        return elements.Error;
    }

    /// <summary>
    /// Size of each fixed-size element type, -1 for variable-size or unsupported types: a table
    /// read costs less than the switch on the per-element hot path.
    /// </summary>
    // csharpier-ignore
    private static ReadOnlySpan<sbyte> FixedSizes =>
    [
        -1, 8, -1, -1, -1, -1, 0, 12, 1, 8, 0, -1, -1, -1, -1, -1, // 0x00
        4, 8, 8, 16, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, // 0x10
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, // 0x20
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, // 0x30
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, // 0x40
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, // 0x50
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, // 0x60
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, // 0x70
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, // 0x80
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, // 0x90
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, // 0xa0
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, // 0xb0
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, // 0xc0
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, // 0xd0
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, // 0xe0
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, // 0xf0
    ];

    /// <summary>Size of a fixed-size element type, -1 for the others.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int FixedSize(byte type) => FixedSizes[type];

    /// <summary>
    /// Length of the NUL-terminated element name at <paramref name="start"/>, or -1 when no NUL
    /// comes before <paramref name="end"/>. Names in the monitor stream are a few bytes long, where
    /// a plain loop beats the vectorised search; longer ones fall back to it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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

/// <summary>
/// Walks the elements of one document level while checking them: the document's header, then
/// each element's name, type and length, and the header of every embedded document or array.
/// The elements of an embedded document are not checked here: the caller walks them with another
/// <see cref="BsonCheckedElements"/> or hands them to <see cref="BsonValidator.ValidateNested"/>
/// before moving on, which keeps the order (and so the first error reported) of a depth-first check.
/// </summary>
internal ref struct BsonCheckedElements
{
    private readonly ReadOnlySpan<byte> _buffer;
    private readonly int _offset;
    private int _position;

    /// <param name="buffer">The buffer the offsets refer to.</param>
    /// <param name="offset">Where the document's length prefix starts.</param>
    /// <param name="limit">Where the enclosing document's elements end.</param>
    /// <param name="depth">Nesting depth of this document (0 for the top).</param>
    public BsonCheckedElements(ReadOnlySpan<byte> buffer, int offset, int limit, int depth)
    {
        _buffer = buffer;
        _offset = offset;
        Depth = depth;
        Name = default;
        Value = default;
        ErrorOffset = offset;
        Error = CheckHeader(buffer, offset, limit, depth, out var end);
        End = end;
        _position = offset + 4;
    }

    /// <summary>Where this document's elements end (its closing NUL).</summary>
    public int End { get; }

    public int Depth { get; }

    public ReadOnlySpan<byte> Name { get; private set; }

    public BsonValue Value { get; private set; }

    /// <summary>What is wrong, once <see cref="MoveNext"/> has returned false; null for a clean end.</summary>
    public string? Error { get; private set; }

    /// <summary>Where the problem is, relative to the buffer.</summary>
    public int ErrorOffset { get; private set; }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool MoveNext()
    {
        if (Error is not null)
        {
            return false;
        }
        var end = End;
        if (_position >= end)
        {
            if (_position != end)
            {
                Fail(_offset, "elements overrun the document end");
            }
            return false;
        }
        var position = _position;
        var type = _buffer[position];
        var nameStart = position + 1;
        var nameLength = BsonValidator.NameLength(_buffer, nameStart, end);
        if (nameLength < 0)
        {
            return Fail(position, "element name is not NUL-terminated");
        }
        var valueOffset = nameStart + nameLength + 1;
        int size = BsonValidator.FixedSize(type);
        if (size >= 0)
        {
            if (size > end - valueOffset)
            {
                return Fail(valueOffset, "value runs past the document");
            }
        }
        else
        {
            switch (type)
            {
                case BsonType.Document:
                case BsonType.Array:
                    var nested = CheckHeader(
                        _buffer,
                        valueOffset,
                        end,
                        Depth + 1,
                        out var nestedEnd
                    );
                    if (nested is not null)
                    {
                        return Fail(valueOffset, nested);
                    }
                    size = nestedEnd + 1 - valueOffset;
                    break;
                case BsonType.String:
                    if (end - valueOffset < 4)
                    {
                        return Fail(valueOffset, "string length runs past the document");
                    }
                    var stringLength = BinaryPrimitives.ReadInt32LittleEndian(
                        _buffer[valueOffset..]
                    );
                    if (stringLength < 1 || stringLength > end - valueOffset - 4)
                    {
                        return Fail(
                            valueOffset,
                            $"string length {stringLength} does not fit in the document"
                        );
                    }
                    if (_buffer[valueOffset + 4 + stringLength - 1] != 0)
                    {
                        return Fail(valueOffset, "string is not NUL-terminated");
                    }
                    size = 4 + stringLength;
                    break;
                case BsonType.Binary:
                    if (end - valueOffset < 5)
                    {
                        return Fail(valueOffset, "binary length runs past the document");
                    }
                    var binaryLength = BinaryPrimitives.ReadInt32LittleEndian(
                        _buffer[valueOffset..]
                    );
                    if (binaryLength < 0 || binaryLength > end - valueOffset - 5)
                    {
                        return Fail(
                            valueOffset,
                            $"binary length {binaryLength} does not fit in the document"
                        );
                    }
                    size = 5 + binaryLength;
                    break;
                default:
                    return Fail(position, $"unsupported BSON element type 0x{type:x2}");
            }
        }
        Name = _buffer.Slice(nameStart, nameLength);
        Value = new BsonValue(type, valueOffset);
        _position = valueOffset + size;
        return true;
    }

    private bool Fail(int offset, string error)
    {
        ErrorOffset = offset;
        Error = error;
        return false;
    }

    /// <summary>A document's depth, length and closing NUL; <paramref name="end"/> is the NUL's offset.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static string? CheckHeader(
        ReadOnlySpan<byte> buffer,
        int offset,
        int limit,
        int depth,
        out int end
    )
    {
        end = offset;
        if (depth > BsonValidator.MaxDepth)
        {
            return $"documents nested deeper than {BsonValidator.MaxDepth} levels";
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
        end = offset + length - 1;
        return buffer[end] != 0 ? "document does not end with a NUL byte" : null;
    }
}
