using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Microkernel.Plugins.Behavior.Bson;

/// <summary>
/// One element value inside an already validated document: its type byte and where its bytes
/// start. A plain struct so argument lists can live in pooled arrays without allocating.
/// </summary>
internal readonly record struct BsonValue(byte Type, int Offset)
{
    public static readonly BsonValue Missing = new(0, -1);

    public bool Exists
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Offset >= 0;
    }

    public bool IsInteger
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => BsonType.IsInteger(Type);
    }

    /// <summary>int32, int64 or boolean as a 64-bit integer (callers check <see cref="IsInteger"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long GetInt64(ReadOnlySpan<byte> doc) =>
        Type switch
        {
            BsonType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(doc[Offset..]),
            BsonType.Int64 => BinaryPrimitives.ReadInt64LittleEndian(doc[Offset..]),
            BsonType.Boolean => doc[Offset] != 0 ? 1 : 0,
            _ => 0,
        };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public double GetDouble(ReadOnlySpan<byte> doc) =>
        BinaryPrimitives.ReadDoubleLittleEndian(doc[Offset..]);

    /// <summary>The UTF-8 bytes of a string (without the trailing NUL).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ReadOnlySpan<byte> GetStringBytes(ReadOnlySpan<byte> doc)
    {
        var length = BinaryPrimitives.ReadInt32LittleEndian(doc[Offset..]);
        return doc.Slice(Offset + 4, length - 1);
    }

    /// <summary>The payload of a binary value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ReadOnlySpan<byte> GetBinary(ReadOnlySpan<byte> doc)
    {
        var length = BinaryPrimitives.ReadInt32LittleEndian(doc[Offset..]);
        return doc.Slice(Offset + 5, length);
    }

    /// <summary>The whole embedded document or array, length prefix included.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ReadOnlySpan<byte> GetDocument(ReadOnlySpan<byte> doc)
    {
        var length = BinaryPrimitives.ReadInt32LittleEndian(doc[Offset..]);
        return doc.Slice(Offset, length);
    }

    public bool IsString => Type == BsonType.String;

    public bool IsDocumentLike
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Type is BsonType.Document or BsonType.Array;
    }

    /// <summary>Whether this is a string whose bytes equal <paramref name="utf8"/>.</summary>
    public bool StringEquals(ReadOnlySpan<byte> doc, ReadOnlySpan<byte> utf8) =>
        Type == BsonType.String && GetStringBytes(doc).SequenceEqual(utf8);
}
