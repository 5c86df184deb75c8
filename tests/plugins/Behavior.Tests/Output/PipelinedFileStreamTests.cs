using Microkernel.Plugins.Behavior.Output;
using Microkernel.TestSupport;

namespace Microkernel.Plugins.Behavior.Tests.Output;

public sealed class PipelinedFileStreamTests
{
    [Fact]
    public void Writes_every_byte_in_order_across_many_buffer_swaps()
    {
        using var folder = TempDirectory.Create();
        var path = folder.Combine("out.bin");
        var expected = new MemoryStream();
        var random = new Random(7);
        using (var stream = new PipelinedFileStream(path, bufferSize: 64))
        {
            for (var i = 0; i < 500; i++)
            {
                var chunk = new byte[random.Next(0, 200)];
                random.NextBytes(chunk);
                stream.Write(chunk);
                expected.Write(chunk);
                stream.WriteByte((byte)i);
                expected.WriteByte((byte)i);
            }
            Assert.Equal(expected.Length, stream.Position);
        }
        Assert.Equal(expected.ToArray(), File.ReadAllBytes(path));
    }

    [Fact]
    public void Exchanged_buffers_land_in_order_between_written_bytes()
    {
        using var folder = TempDirectory.Create();
        var path = folder.Combine("out.bin");
        var expected = new MemoryStream();
        var random = new Random(13);
        var given = new HashSet<byte[]>(ReferenceEqualityComparer.Instance);
        using (var stream = new PipelinedFileStream(path, bufferSize: 256))
        {
            var own = new byte[300]; // the caller's first buffer, bigger than the stream's
            for (var i = 0; i < 2000; i++)
            {
                if (random.Next(3) == 0)
                {
                    var chunk = new byte[random.Next(0, 100)];
                    random.NextBytes(chunk);
                    stream.Write(chunk);
                    expected.Write(chunk);
                }
                var length = random.Next(0, Math.Min(own.Length, 256) + 1);
                random.NextBytes(own.AsSpan(0, length));
                expected.Write(own, 0, length);
                given.Add(own);
                own = stream.Exchange(own, length);
                // The returned buffer is empty room: never one the writer may still be reading.
                Assert.True(own.Length >= stream.BufferSize);
                random.NextBytes(own); // scribbles over it at once, as a caller would
            }
            Assert.Equal(expected.Length, stream.Position);
        }
        Assert.Equal(expected.ToArray(), File.ReadAllBytes(path));
        // A copying Exchange would hand the caller's own buffer straight back every time, so the
        // caller would only ever see one. How many distinct buffers circulate beyond that depends
        // on how fast the writer thread drains them, so only "more than one" is certain.
        Assert.True(given.Count > 1, "buffers were exchanged, not copied");
    }

    [Fact]
    public void Disposing_twice_writes_once()
    {
        using var folder = TempDirectory.Create();
        var path = folder.Combine("out.bin");
        var stream = new PipelinedFileStream(path, bufferSize: 16);
        stream.Write("0123456789abcdefXYZ"u8);
        stream.Dispose();
        stream.Dispose();
        Assert.Equal("0123456789abcdefXYZ"u8.ToArray(), File.ReadAllBytes(path));
    }
}
