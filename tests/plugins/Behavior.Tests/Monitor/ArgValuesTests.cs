using System.Buffers;
using System.Text;
using System.Text.Json;
using Microkernel.Plugins.Behavior.Bson;
using Microkernel.Plugins.Behavior.Monitor;

namespace Microkernel.Plugins.Behavior.Tests.Monitor;

/// <summary>The writer-free fast path must write exactly what <see cref="ArgValues.WriteConverted"/> writes.</summary>
public sealed class ArgValuesTests
{
    private static readonly ArgConverter[] Converters =
    [
        ArgConverter.Default32,
        ArgConverter.Default64,
        ArgConverter.Hex32,
        ArgConverter.Hex64,
    ];

    public static TheoryData<string> Texts()
    {
        var data = new TheoryData<string>
        {
            "",
            @"C:\Users\bench\file1.txt",
            "HKEY_CURRENT_USER\\Software\\Bench",
            "say \"hi\"",
            "\\\\server\\share\\\"quoted\"",
            "tab\there",
            "line\nbreak",
            "<html>&'+`</html>",
            "caf\u00e9",
            "\u2028",
            "emoji \U0001F600",
            "\u007f",
            "\\",
            "\"",
            "trailing\\",
            "\\leading",
            "\\\\\\\"\"\"",
            @"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Run\a ""long"" value name\",
        };
        for (var c = 0; c < 128; c++)
        {
            data.Add(new string((char)c, 1));
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Texts))]
    public void Text_matches_the_json_writer(string text)
    {
        var doc = MonitorLogWriter.Encode([
            ("s", text),
            ("b", Encoding.Latin1.GetBytes(text.Where(c => c < 256).ToArray())),
        ]);
        foreach (var value in Values(doc))
        {
            foreach (var converter in Converters)
            {
                AssertSame(doc, value, converter);
            }
        }
    }

    [Fact]
    public void Every_byte_value_of_a_binary_matches_the_json_writer()
    {
        for (var b = 0; b < 256; b++)
        {
            var doc = MonitorLogWriter.Encode([("b", new[] { (byte)b, (byte)'x' })]);
            AssertSame(doc, Values(doc)[0], ArgConverter.Default32);
        }
    }

    [Fact]
    public void Integers_and_booleans_match_the_json_writer_for_every_converter()
    {
        object[] numbers =
        [
            0,
            1,
            -1,
            int.MinValue,
            int.MaxValue,
            0x80000000L,
            -5L,
            long.MinValue,
            long.MaxValue,
            true,
            false,
        ];
        var doc = MonitorLogWriter.Encode(
            numbers.Select((n, i) => (i.ToString(null, null), (object?)n))
        );
        foreach (var value in Values(doc))
        {
            foreach (var converter in Converters)
            {
                Assert.True(AssertSame(doc, value, converter));
            }
        }
    }

    [Fact]
    public void Plain_ascii_text_takes_the_fast_path_and_other_values_fall_back()
    {
        var doc = MonitorLogWriter.Encode([
            ("plain", "C:/Program Files/x y.dll <a&b> 'q' `+`"),
            ("backslash", @"C:\x.dll"),
            ("quote", "a\"b\\\""),
            ("control", "a\u0001"),
            ("non-ascii", "caf\u00e9"),
            ("double", 1.5),
            ("null", null),
            ("list", new List<object?> { 1, "a" }),
        ]);
        var values = Values(doc);
        Assert.True(AssertSame(doc, values[0], ArgConverter.Default32));
        Assert.True(AssertSame(doc, values[1], ArgConverter.Default32));
        Assert.True(AssertSame(doc, values[2], ArgConverter.Default32));
        foreach (var value in values.Skip(3))
        {
            Assert.False(AssertSame(doc, value, ArgConverter.Default32));
        }
    }

    private static List<BsonValue> Values(byte[] doc)
    {
        var values = new List<BsonValue>();
        var elements = new BsonElementEnumerator(doc, 0);
        while (elements.MoveNext())
        {
            values.Add(elements.Value);
        }
        return values;
    }

    /// <summary>Compares the two paths; returns whether the fast path handled the value.</summary>
    private static bool AssertSame(byte[] doc, BsonValue value, ArgConverter converter)
    {
        var buffer = doc;
        var expected = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(expected, BehaviorJson.WriterOptions))
        {
            ArgValues.WriteConverted(writer, buffer, value, converter);
        }
        var fast = new Microkernel.Plugins.Behavior.Output.Utf8Buffer();
        var handled = ArgValues.TryAppendConverted(fast, buffer, value, converter);
        if (handled)
        {
            Assert.Equal(
                Encoding.UTF8.GetString(expected.WrittenSpan),
                Encoding.UTF8.GetString(fast.WrittenSpan)
            );
        }
        else
        {
            Assert.Equal(0, fast.WrittenCount);
        }
        return handled;
    }
}
