using System.Globalization;
using System.Text;
using System.Text.Json;
using Microkernel.Plugins.Memory.Volatility;

namespace Microkernel.Plugins.Memory.Tests;

public sealed class ColumnsTests
{
    private static Cell Number(string json) =>
        new(JsonTokenType.Number, Encoding.UTF8.GetBytes(json));

    /// <summary>What <see cref="Columns.TryWritePlainHex"/> wrote for the cell, or null if it declined.</summary>
    private static string? PlainHex(Cell cell, int digits)
    {
        var output = new MemoryStream();
        bool written;
        using (var writer = new Utf8JsonWriter(output))
        {
            writer.WriteStartObject();
            written = Columns.TryWritePlainHex(
                writer,
                JsonEncodedText.Encode("v"),
                cell,
                "x" + digits.ToString(CultureInfo.InvariantCulture)
            );
            writer.WriteEndObject();
        }
        var root = JsonDocument.Parse(output.ToArray()).RootElement;
        Assert.Equal(written, root.TryGetProperty("v", out _));
        return written ? root.GetProperty("v").GetString() : null;
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(1L)]
    [InlineData(255L)]
    [InlineData(-1L)]
    [InlineData(-255L)]
    [InlineData(2147352576L)]
    [InlineData(long.MaxValue)]
    [InlineData(long.MinValue)]
    public void Plain_integers_are_written_as_the_general_conversion_formats_them(long value)
    {
        var cell = Number(value.ToString(CultureInfo.InvariantCulture));
        foreach (var digits in new[] { 0, 8, 16 })
        {
            Assert.Equal(Columns.Hex(cell, digits), PlainHex(cell, digits));
        }
    }

    [Fact]
    public void Spot_check_the_format()
    {
        Assert.Equal("0x7ffe0000", PlainHex(Number("2147352576"), 8));
        Assert.Equal("0x000000ff", PlainHex(Number("255"), 8));
        Assert.Equal("-0x1", PlainHex(Number("-1"), 0));
    }

    [Fact]
    public void Anything_but_a_plain_integer_is_left_to_the_general_conversion()
    {
        Assert.Null(PlainHex(Number("1.5"), 8));
        Assert.Null(PlainHex(Number("18446744073709551615"), 8)); // above long.MaxValue
        Assert.Null(PlainHex(new Cell(JsonTokenType.String, "\"0x10\""u8.ToArray()), 8));
        Assert.Equal("0xffffffffffffffff", Columns.Hex(Number("18446744073709551615"), 0));
    }
}
