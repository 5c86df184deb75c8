using System.Numerics;

namespace Microkernel.Plugins.Network.Streams;

/// <summary>
/// Arrays for data that waits in TCP streams to be paired: power-of-two lengths from 256 bytes
/// up to a maximum, a few free arrays of each length kept for reuse, new ones allocated on the
/// pinned object heap. Longer requests get arrays of exactly their length, never kept. One per
/// <see cref="TcpConversations"/>; not thread-safe.
/// </summary>
/// <remarks>
/// Pinned because the data waits as long as the capture's order makes it wait. In a capture
/// sorted by flow (<c>sort_pcap</c>), a connection that straddles one of the sort's chunk
/// boundaries is split in two places of the file, and thousands of streams each hold a few KiB
/// until their other half comes, up to <c>max_buffered_bytes</c>. Allocated in gen0, every
/// collection promoted those arrays; the GC answered that survival rate by raising gen0's
/// budget, and the heap grew by tens of MiB of garbage between collections. The pinned object
/// heap is collected with gen2 only, so waiting data never counts as gen0 survival.
/// </remarks>
internal sealed class PinnedArrayPool
{
    private const int MinLength = 256;
    private readonly int _maxLength;
    private readonly int _perLength;
    private readonly Stack<byte[]>[] _free;

    /// <param name="maxLength">The longest array kept; a power of two of at least 256.</param>
    /// <param name="perLength">Free arrays kept of each length.</param>
    public PinnedArrayPool(int maxLength, int perLength)
    {
        if (maxLength < MinLength || !BitOperations.IsPow2(maxLength))
        {
            throw new ArgumentOutOfRangeException(nameof(maxLength));
        }
        _maxLength = maxLength;
        _perLength = perLength;
        _free = new Stack<byte[]>[Slot(maxLength) + 1];
        for (var i = 0; i < _free.Length; i++)
        {
            _free[i] = new Stack<byte[]>(perLength);
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
        return _free[Slot(size)].TryPop(out var array)
            ? array
            : GC.AllocateUninitializedArray<byte>(size, pinned: true);
    }

    /// <summary>Keeps the array for reuse if there is room for its length; otherwise drops it.</summary>
    public void Return(byte[] array)
    {
        var length = array.Length;
        if (length < MinLength || length > _maxLength || !BitOperations.IsPow2(length))
        {
            return;
        }
        var free = _free[Slot(length)];
        if (free.Count < _perLength)
        {
            free.Push(array);
        }
    }
}
