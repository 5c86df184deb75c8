using System.Runtime.CompilerServices;

namespace Microkernel.Plugins.Network.Streams;

/// <summary>
/// A growable byte buffer whose arrays come from, and go back to, a pool: what one direction
/// of a conversation sends before the other answers. A MemoryStream here grew a fresh array
/// at every doubling, and past 85 KB each of those went to the large object heap, where
/// garbage waits for a full collection: resident memory rose with every big response.
/// </summary>
internal sealed class PairBuffer(PinnedArrayPool pool)
{
    private byte[] _array = [];

    public int Length { get; private set; }

    public int Capacity => _array.Length;

    public ReadOnlyMemory<byte> Contents => new(_array, 0, Length);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Write(ReadOnlySpan<byte> data)
    {
        if (data.Length > _array.Length - Length)
        {
            Grow(Length + data.Length);
        }
        data.CopyTo(_array.AsSpan(Length));
        Length += data.Length;
    }

    private void Grow(int needed)
    {
        var size = Math.Max(
            needed,
            Math.Max(256, (int)Math.Min(Array.MaxLength, 2L * _array.Length))
        );
        var larger = pool.Rent(size);
        _array.AsSpan(0, Length).CopyTo(larger);
        Release();
        _array = larger;
    }

    /// <summary>Empties the buffer; its array goes back to the pool.</summary>
    public void Clear()
    {
        Release();
        Length = 0;
    }

    private void Release()
    {
        if (_array.Length > 0)
        {
            pool.Return(_array);
            _array = [];
        }
    }
}
