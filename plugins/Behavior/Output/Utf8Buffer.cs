using System.Buffers;
using System.Runtime.CompilerServices;

namespace Microkernel.Plugins.Behavior.Output;

/// <summary>
/// A growable UTF-8 byte buffer, like <see cref="ArrayBufferWriter{T}"/> but with members small
/// enough to inline into the call-list and summary hot paths (the BCL writer's checks stay out
/// of line there, and run unoptimised while the runtime tiers them up).
/// </summary>
internal sealed class Utf8Buffer : IBufferWriter<byte>
{
    private byte[] _buffer;
    private int _length;
    private bool _pooled;

    public Utf8Buffer(int initialCapacity = 256) =>
        _buffer = new byte[Math.Max(initialCapacity, 16)];

    private Utf8Buffer(byte[] rented)
    {
        _buffer = rented;
        _pooled = true;
    }

    /// <summary>
    /// A buffer on storage rented from <see cref="ArrayPool{T}.Shared"/>; <see cref="Return"/>
    /// gives it back. For buffers a task needs briefly: a daemon on small analyses allocated,
    /// zeroed and collected one per process log.
    /// </summary>
    public static Utf8Buffer Rented(int capacity) =>
        new(ArrayPool<byte>.Shared.Rent(Math.Max(capacity, 16)));

    /// <summary>Returns rented storage to the pool; the buffer must not be used afterwards.</summary>
    public void Return()
    {
        if (_pooled)
        {
            _pooled = false;
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = [];
            _length = 0;
        }
    }

    public int WrittenCount => _length;

    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _length);

    /// <summary>Forgets the written bytes and keeps the storage.</summary>
    public void Clear() => _length = 0;

    /// <summary>
    /// Gives the storage with the written bytes to <paramref name="take"/>, which returns the
    /// (empty) storage to continue in: whole buffers change hands instead of being copied.
    /// </summary>
    public void HandOver(Func<byte[], int, byte[]> take)
    {
        // The storage leaves this buffer for good: it is not returned to the pool.
        _pooled = false;
        var replacement = take(_buffer, _length);
        _buffer = replacement.Length >= 16 ? replacement : new byte[16];
        _length = 0;
    }

    /// <summary>Room for at least <paramref name="sizeHint"/> bytes (one at least) after the written ones.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Span<byte> GetSpan(int sizeHint = 0)
    {
        if (sizeHint >= _buffer.Length - _length)
        {
            Grow(sizeHint);
        }
        return _buffer.AsSpan(_length);
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        GetSpan(sizeHint);
        return _buffer.AsMemory(_length);
    }

    /// <summary>Marks <paramref name="count"/> bytes of the last <see cref="GetSpan"/> as written.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Advance(int count)
    {
        if ((uint)count > (uint)(_buffer.Length - _length))
        {
            ThrowAdvancedTooFar();
        }
        _length += count;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Write(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(GetSpan(bytes.Length));
        _length += bytes.Length;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Write(byte value)
    {
        if (_length == _buffer.Length)
        {
            Grow(1);
        }
        _buffer[_length++] = value;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Grow(int sizeHint)
    {
        var needed = (long)_length + Math.Max(sizeHint, 1);
        var size = Math.Max(needed, (long)_buffer.Length * 2);
        if (size > Array.MaxLength)
        {
            size = needed <= Array.MaxLength ? Array.MaxLength : throw new OutOfMemoryException();
        }
        if (_pooled)
        {
            var bigger = ArrayPool<byte>.Shared.Rent((int)size);
            _buffer.AsSpan(0, _length).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
            return;
        }
        Array.Resize(ref _buffer, (int)size);
    }

    private static void ThrowAdvancedTooFar() =>
        throw new InvalidOperationException("Advanced past the end of the buffer.");
}
