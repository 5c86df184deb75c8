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
}
