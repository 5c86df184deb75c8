using Microkernel.Plugins.Network.Streams;
using Microkernel.TestSupport;

namespace Microkernel.Plugins.Network.Tests.Streams;

public sealed class SpillFileTests
{
    private static byte[] Bytes(int length, byte seed) =>
        Enumerable.Range(0, length).Select(i => (byte)(i * 7 + seed)).ToArray();

    [Fact]
    public void Items_come_back_from_the_buffer_the_file_or_a_direct_write()
    {
        using var folder = TempDirectory.Create();
        var path = Path.Combine(folder.Path, "spill.bin");
        using var file = new SpillFile(path);
        var small = Bytes(1000, 1);
        var large = Bytes(100_000, 2); // over the 64 KiB buffer: written straight to the file
        var items = new List<(long At, byte[] Data)>();
        for (var i = 0; i < 70; i++)
        {
            items.Add((file.Write(small), small)); // 70 KB: the first ones get flushed
        }
        items.Add((file.Write(large), large));
        items.Add((file.Write(small), small)); // still in the buffer
        Assert.Equal(170_000 + 2 * 1000 - 1000, file.LiveBytes);
        foreach (var (at, data) in items)
        {
            var back = new byte[data.Length];
            file.Read(at, back);
            Assert.Equal(data, back);
        }
        Assert.True(File.Exists(path));
    }

    [Fact]
    public void With_nothing_left_to_read_the_file_starts_over()
    {
        using var folder = TempDirectory.Create();
        using var file = new SpillFile(Path.Combine(folder.Path, "spill.bin"));
        var a = Bytes(40_000, 3);
        var b = Bytes(40_000, 4);
        var atA = file.Write(a);
        var atB = file.Write(b);
        Assert.Equal(0, atA);
        Assert.Equal(40_000, atB);
        file.Release(a.Length);
        Assert.Equal(80_000, file.Write(a)); // b is still wanted: appended
        file.Release(b.Length);
        file.Release(a.Length);
        Assert.Equal(0, file.LiveBytes);
        Assert.Equal(0, file.Write(b));
        var back = new byte[b.Length];
        file.Read(0, back);
        Assert.Equal(b, back);
        Assert.Equal(120_000, file.PeakBytes);
    }

    [Fact]
    public void The_file_is_created_on_first_write_and_deleted_on_dispose()
    {
        using var folder = TempDirectory.Create();
        var path = Path.Combine(folder.Path, "spill.bin");
        var file = new SpillFile(path);
        Assert.False(File.Exists(path));
        file.Write(Bytes(70_000, 5));
        Assert.True(File.Exists(path));
        file.Dispose();
        Assert.False(File.Exists(path));
    }
}
