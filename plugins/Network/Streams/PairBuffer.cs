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

    // While spilled: where the contents are, and the capacity they had (still counted).
    private long _spilledAt = -1;
    private int _spilledCapacity;

    public int Length { get; private set; }

    /// <summary>The array's length; while spilled, the length it had (the TCP budget counts it).</summary>
    public int Capacity => _spilledAt >= 0 ? _spilledCapacity : _array.Length;

    public ReadOnlyMemory<byte> Contents => new(_array, 0, Length);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Write(ReadOnlySpan<byte> data)
    {
        if (_spilledAt >= 0)
        {
            throw new InvalidOperationException("a spilled pair buffer is restored before use");
        }
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

    /// <summary>Moves the contents to <paramref name="file"/>; the array goes back to the pool.</summary>
    public void Spill(SpillFile file)
    {
        if (_spilledAt >= 0 || _array.Length == 0)
        {
            return;
        }
        _spilledCapacity = _array.Length;
        _spilledAt = file.Write(_array.AsSpan(0, Length));
        Release();
    }

    /// <summary>Brings spilled contents back, into an array of the capacity they had.</summary>
    public void Restore(SpillFile file)
    {
        if (_spilledAt < 0)
        {
            return;
        }
        var array = pool.Rent(_spilledCapacity);
        file.Read(_spilledAt, array.AsSpan(0, Length));
        file.Release(Length);
        _array = array;
        _spilledAt = -1;
    }

    /// <summary>Empties the buffer; its array goes back to the pool.</summary>
    public void Clear()
    {
        if (_spilledAt >= 0)
        {
            throw new InvalidOperationException("a spilled pair buffer is restored before use");
        }
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
