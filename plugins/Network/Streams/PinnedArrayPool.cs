using System.Numerics;

namespace Microkernel.Plugins.Network.Streams;

/// <summary>
/// Arrays for data that waits in TCP streams to be paired: power-of-two lengths from 256 bytes
/// up to a maximum, free arrays kept for reuse up to a total, new ones allocated on the pinned
/// object heap. Longer requests get arrays of exactly their length, never kept. One per
/// <see cref="TcpConversations"/>; not thread-safe.
/// </summary>
/// <remarks>
/// Pinned because the data waits as long as the capture's order makes it wait. In a capture
/// sorted by flow (<c>sort_pcap</c>), a connection that straddles one of the sort's chunk
/// boundaries is split in two places of the file, and thousands of streams each hold a few KiB
/// until their other half comes, up to <c>max_buffered_bytes</c>. Allocated in gen0, every
/// collection promoted those arrays; the GC answered that survival rate by raising gen0's
/// budget, and the heap grew by tens of MiB of garbage between collections. The pinned object
/// heap is collected with gen2 only, so waiting data never counts as gen0 survival. But garbage
/// there waits for a full collection too: with only a few free arrays kept per length, the
/// arrays of short exchanges piled up (20 MiB more peak on the unsorted 1 GiB capture), so
/// free arrays are kept up to a total in bytes, which covers the streams' usual concurrent
/// need (TCP reassembly spills idle streams above 8 MiB).
/// </remarks>
internal sealed class PinnedArrayPool
{
    private const int MinLength = 256;
    private readonly int _maxLength;
    private readonly long _maxFreeBytes;
    private readonly Stack<byte[]>[] _free;
    private long _freeBytes;

    /// <param name="maxLength">The longest array kept; a power of two of at least 256.</param>
    /// <param name="maxFreeBytes">Free arrays kept, in bytes, all lengths together.</param>
    public PinnedArrayPool(int maxLength, long maxFreeBytes)
    {
        if (maxLength < MinLength || !BitOperations.IsPow2(maxLength))
        {
            throw new ArgumentOutOfRangeException(nameof(maxLength));
        }
        _maxLength = maxLength;
        _maxFreeBytes = maxFreeBytes;
        _free = new Stack<byte[]>[Slot(maxLength) + 1];
        for (var i = 0; i < _free.Length; i++)
        {
            _free[i] = new Stack<byte[]>();
        }
    }

    private static int Slot(int powerOfTwo) =>
        BitOperations.Log2((uint)powerOfTwo) - BitOperations.Log2(MinLength);

    /// <summary>An array of at least <paramref name="length"/> bytes (uninitialised).</summary>
    public byte[] Rent(int length)
    {
        if (length > _maxLength)
        {
            return GC.AllocateUninitializedArray<byte>(length);
        }
        var size = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(length, MinLength));
        if (_free[Slot(size)].TryPop(out var array))
        {
            _freeBytes -= size;
            return array;
        }
        return GC.AllocateUninitializedArray<byte>(size, pinned: true);
    }

    /// <summary>Keeps the array for reuse if the free arrays stay within their total; otherwise drops it.</summary>
    public void Return(byte[] array)
    {
        var length = array.Length;
        if (
            length < MinLength
            || length > _maxLength
            || !BitOperations.IsPow2(length)
            || _freeBytes + length > _maxFreeBytes
        )
        {
            return;
        }
        _free[Slot(length)].Push(array);
        _freeBytes += length;
    }
}
