using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Microkernel.Plugins.Behavior.Bson;

/// <summary>
/// Walks the elements of a document that <see cref="BsonValidator"/> has accepted. Arrays are
/// walked the same way and their element names ignored: the monitor writes arrays whose element
/// names repeat ("0", "0", …), so only the position means anything.
/// </summary>
internal ref struct BsonElementEnumerator
{
    private readonly ReadOnlySpan<byte> _buffer;
    private readonly int _end;
    private int _position;

    /// <param name="buffer">The buffer the offsets refer to.</param>
    /// <param name="documentOffset">Where the document's length prefix starts.</param>
    public BsonElementEnumerator(ReadOnlySpan<byte> buffer, int documentOffset)
    {
        _buffer = buffer;
        var length = BinaryPrimitives.ReadInt32LittleEndian(buffer[documentOffset..]);
        _end = documentOffset + length - 1;
        _position = documentOffset + 4;
        Name = default;
        Value = default;
    }

    public ReadOnlySpan<byte> Name { get; private set; }

    public BsonValue Value { get; private set; }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool MoveNext()
    {
        if (_position >= _end)
        {
            return false;
        }
        var type = _buffer[_position];
        var nameStart = _position + 1;
        var nameLength = BsonValidator.NameLength(_buffer, nameStart, _end);
        Name = _buffer.Slice(nameStart, nameLength);
        var valueOffset = nameStart + nameLength + 1;
        Value = new BsonValue(type, valueOffset);
        _position = valueOffset + BsonValidator.ValueSize(_buffer, type, valueOffset);
        return true;
    }
}
