using Microkernel.Plugins.Behavior.Output;

namespace Microkernel.Plugins.Behavior.Tests.Output;

public sealed class Utf8BufferTests
{
    [Fact]
    public void A_rented_buffer_keeps_every_byte_when_it_outgrows_its_storage()
    {
        var buffer = Utf8Buffer.Rented(64);
        var expected = new List<byte>();
        for (var i = 0; i < 10_000; i++)
        {
            var value = (byte)(i * 31);
            buffer.Write(value);
            expected.Add(value);
            if (i % 7 == 0)
            {
                buffer.Write("abc"u8);
                expected.AddRange("abc"u8.ToArray());
            }
        }

        Assert.Equal(expected, buffer.WrittenSpan.ToArray());
        buffer.Return();
        Assert.Equal(0, buffer.WrittenCount);
    }
}
