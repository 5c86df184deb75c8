using System.Buffers;
using System.Text;
using System.Text.Json;
using Microkernel.Plugins.Behavior.Bson;
using Microkernel.Plugins.Behavior.Monitor;
using Microkernel.Plugins.Behavior.Output;

namespace Microkernel.Plugins.Behavior.Tests.Output;

/// <summary><see cref="JsonFragments"/> must write exactly what the Utf8JsonWriter path writes.</summary>
public sealed class JsonFragmentsTests
{
    private static object? RandomValue(Random random, int depth = 0)
    {
        switch (random.Next(depth < 2 ? 9 : 7))
        {
            case 0:
                return random.Next(int.MinValue, int.MaxValue);
            case 1:
                return random.NextInt64(long.MinValue, long.MaxValue);
            case 2:
                return random.Next(4) switch
                {
                    0 => double.NaN,
                    1 => double.NegativeInfinity,
                    _ => random.NextDouble() * 1e6 - 5e5,
                };
            case 3:
                return random.Next(2) == 0;
            case 4:
                return null;
            case 5:
                var bytes = new byte[random.Next(0, 40)];
                random.NextBytes(bytes);
                return bytes;
            case 6:
                var text = new StringBuilder();
                for (var i = random.Next(0, 30); i > 0; i--)
                {
                    text.Append(
                        random.Next(5) switch
                        {
                            0 => (char)random.Next(0, 0x20),
                            1 => (char)random.Next(0x80, 0x800),
                            2 => "\U0001F600",
                            3 => random.Next(2) == 0 ? '"' : '\\',
                            _ => (char)random.Next(0x20, 0x7F),
                        }
                    );
                }
                return text.ToString();
            case 7:
                return Enumerable
                    .Range(0, random.Next(3))
                    .Select(i => ($"k{i}", RandomValue(random, depth + 1)))
                    .ToList();
            default:
                return Enumerable
                    .Range(0, random.Next(3))
                    .Select(_ => RandomValue(random, depth + 1))
                    .ToList();
        }
    }

    [Fact]
    public void Converted_and_raw_values_match_the_json_writer()
    {
        var random = new Random(3);
        var fragments = new JsonFragments(new Utf8Buffer(1 << 16));
        var expected = new ArrayBufferWriter<byte>();
        using var writer = new Utf8JsonWriter(expected, BehaviorJson.WriterOptions);
        for (var n = 0; n < 3000; n++)
        {
            var doc = MonitorLogWriter.Encode([("v", RandomValue(random))]);
            var elements = new BsonElementEnumerator(doc, 0);
            Assert.True(elements.MoveNext());
            var value = elements.Value;
            foreach (var converter in Enum.GetValues<ArgConverter>())
            {
                expected.ResetWrittenCount();
                writer.Reset(expected);
                ArgValues.WriteConverted(writer, doc, value, converter);
                writer.Flush();
                fragments.Output.Clear();
                fragments.Converted(doc, value, converter);
                Assert.Equal(Text(expected.WrittenSpan), Text(fragments.Output.WrittenSpan));
            }
            expected.ResetWrittenCount();
            writer.Reset(expected);
            ArgValues.WriteRaw(writer, doc, value);
            writer.Flush();
            fragments.Output.Clear();
            fragments.Raw(doc, value);
            Assert.Equal(Text(expected.WrittenSpan), Text(fragments.Output.WrittenSpan));
        }
    }

    [Fact]
    public void Every_byte_as_latin1_text_matches_the_json_writer()
    {
        var all = Enumerable.Range(0, 256).Select(b => (byte)b).ToArray();
        var doc = MonitorLogWriter.Encode([("v", all)]);
        var elements = new BsonElementEnumerator(doc, 0);
        Assert.True(elements.MoveNext());
        var expected = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(expected, BehaviorJson.WriterOptions))
        {
            ArgValues.WriteRaw(writer, doc, elements.Value);
        }
        var fragments = new JsonFragments(new Utf8Buffer(1 << 16));
        fragments.Raw(doc, elements.Value);
        Assert.Equal(Text(expected.WrittenSpan), Text(fragments.Output.WrittenSpan));
    }

    private static string Text(ReadOnlySpan<byte> utf8) => Encoding.UTF8.GetString(utf8);
}
