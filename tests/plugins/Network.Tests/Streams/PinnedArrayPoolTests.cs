using Microkernel.Plugins.Network.Streams;

namespace Microkernel.Plugins.Network.Tests.Streams;

/// <summary>The pair buffers' pool: the same lengths ArrayPool.Create gave (the TCP budget counts them), arrays off gen0.</summary>
public sealed class PinnedArrayPoolTests
{
    [Theory]
    [InlineData(1, 256)]
    [InlineData(256, 256)]
    [InlineData(257, 512)]
    [InlineData(1460, 2048)]
    [InlineData(4096, 4096)]
    [InlineData(1 << 20, 1 << 20)]
    [InlineData((1 << 20) + 1, (1 << 20) + 1)]
    public void Lengths_are_powers_of_two_up_to_the_maximum_then_exact(int asked, int given)
    {
        var pool = new PinnedArrayPool(1 << 20, 1 << 20);
        Assert.Equal(given, pool.Rent(asked).Length);
    }

    [Fact]
    public void Returned_arrays_are_reused_up_to_a_total_in_bytes()
    {
        var pool = new PinnedArrayPool(1 << 20, 2048 + 512);
        var arrays = Enumerable.Range(0, 3).Select(_ => pool.Rent(1000)).ToList();
        var small = pool.Rent(300);
        Assert.Equal(3, arrays.Distinct().Count());
        arrays.ForEach(pool.Return); // the third would pass 2.5 KiB: dropped
        pool.Return(small); // 512 more still fits
        // They come back last in, first out, then new ones.
        Assert.Same(arrays[1], pool.Rent(600));
        Assert.Same(arrays[0], pool.Rent(1024));
        var fresh = pool.Rent(1024);
        Assert.DoesNotContain(arrays, a => ReferenceEquals(a, fresh));
        Assert.Same(small, pool.Rent(257));
        // Renting freed room: a returned array is kept again.
        pool.Return(fresh);
        Assert.Same(fresh, pool.Rent(1024));
    }

    [Fact]
    public void Arrays_of_other_lengths_are_not_kept()
    {
        var pool = new PinnedArrayPool(4096, 1 << 20);
        var big = pool.Rent(5000);
        pool.Return(big);
        pool.Return(new byte[300]);
        Assert.NotSame(big, pool.Rent(5000));
        Assert.Equal(512, pool.Rent(300).Length);
    }

    [Fact]
    public void New_arrays_are_not_in_gen0()
    {
        // Pinned-heap arrays belong to gen2 from the start: waiting data is never promoted.
        var pool = new PinnedArrayPool(1 << 20, 1 << 20);
        Assert.Equal(GC.MaxGeneration, GC.GetGeneration(pool.Rent(2000)));
    }

    [Fact]
    public void The_maximum_must_be_a_power_of_two_of_at_least_256()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new PinnedArrayPool(1000, 1 << 20));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PinnedArrayPool(128, 1 << 20));
    }
}
