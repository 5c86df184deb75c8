using System.Text.Json;
using Microkernel.Plugins.Network.Output;

namespace Microkernel.Plugins.Network.Tests;

public sealed class Latin1JsonTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(1_200)] // 300 KB: through the kept buffer
    [InlineData(3_500)] // 896 KB: above the kept buffer, sized exactly
    public void Every_byte_value_reads_back_as_its_latin1_character(int repeat)
    {
        var bytes = new byte[256 * repeat];
        for (var i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)i;
        }
        using var output = new MemoryStream();
        using (var json = new Utf8JsonWriter(output, NetworkReportWriter.WriterOptions))
        {
            json.WriteStartObject();
            Latin1Json.WriteString(json, "value", bytes);
            json.WriteEndObject();
        }
        using var document = JsonDocument.Parse(output.ToArray());
        Assert.Equal(
            System.Text.Encoding.Latin1.GetString(bytes),
            document.RootElement.GetProperty("value").GetString()
        );
    }
}
