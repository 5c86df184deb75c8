using Microkernel.Plugins.Network.Streams;
using Microkernel.TestSupport;

namespace Microkernel.Plugins.Network.Tests.Streams;

public sealed class PairBufferTests
{
    [Fact]
    public void A_spilled_buffer_keeps_its_capacity_and_comes_back_whole()
    {
        using var folder = TempDirectory.Create();
        using var file = new SpillFile(Path.Combine(folder.Path, "spill.bin"));
        var pool = new PinnedArrayPool(1 << 20, 1 << 20);
        var buffer = new PairBuffer(pool);
        var data = Enumerable.Range(0, 3000).Select(i => (byte)i).ToArray();
        buffer.Write(data);
        Assert.Equal(4096, buffer.Capacity);

        buffer.Spill(file);
        Assert.Equal(4096, buffer.Capacity); // the TCP budget still counts it
        Assert.Equal(3000, buffer.Length);
        Assert.Equal(3000, file.LiveBytes);
        Assert.Throws<InvalidOperationException>(() => buffer.Write([1]));

        buffer.Restore(file);
        Assert.Equal(0, file.LiveBytes);
        Assert.Equal(4096, buffer.Capacity);
        Assert.Equal(data, buffer.Contents.ToArray());
        buffer.Write([7]);
        Assert.Equal([.. data, 7], buffer.Contents.ToArray());
    }

    [Fact]
    public void An_empty_buffer_has_nothing_to_spill()
    {
        using var folder = TempDirectory.Create();
        using var file = new SpillFile(Path.Combine(folder.Path, "spill.bin"));
        var buffer = new PairBuffer(new PinnedArrayPool(1 << 20, 1 << 20));
        buffer.Spill(file);
        buffer.Write([1, 2]);
        Assert.Equal(0, file.LiveBytes);
        Assert.Equal(new byte[] { 1, 2 }, buffer.Contents.ToArray());
    }
}
