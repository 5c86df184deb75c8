using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Microkernel.Plugins.Strings.Tests;

/// <summary>
/// The bit-mask scanner against Cuckoo's two regexes run literally (over latin-1 text, which maps
/// every byte to the same code point), on generated data shaped to hit the scanner's edge cases:
/// runs crossing 64-byte blocks, wide runs at odd offsets, runs touching the end of the buffer.
/// </summary>
public sealed partial class PrintableStringsDifferentialTests
{
    [GeneratedRegex("[\x1f-\x7e]{6,}", RegexOptions.CultureInvariant)]
    private static partial Regex AsciiRule();

    [GeneratedRegex("(?:[\x1f-\x7e]\x00){6,}", RegexOptions.CultureInvariant)]
    private static partial Regex WideRule();

    private static List<string> Reference(byte[] data, int maxCount, int maxLength)
    {
        var text = Encoding.Latin1.GetString(data);
        return AsciiRule()
            .Matches(text)
            .Select(m => m.Value)
            .Concat(
                WideRule()
                    .Matches(text)
                    .Select(m => m.Value.Replace("\0", "", StringComparison.Ordinal))
            )
            .Take(maxCount)
            .Select(s => s.Length > maxLength ? s[..maxLength] : s)
            .ToList();
    }

    public static TheoryData<int> Seeds() => [.. Enumerable.Range(0, 40)];

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Generated_data_gives_what_the_regexes_give(int seed)
    {
        var random = new Random(seed);
        // Lengths around block multiples and odd ones, so runs end exactly at the buffer end.
        var length =
            seed % 4 == 0 ? 64 * random.Next(1, 40) + random.Next(-12, 13) : random.Next(0, 5000);
        var data = Generate(random, Math.Max(0, length));

        Assert.Equal(
            Reference(data, int.MaxValue, 1024),
            PrintableStrings.Extract(data, int.MaxValue, 1024)
        );
        var cap = random.Next(0, 30);
        var cut = random.Next(1, 20);
        Assert.Equal(Reference(data, cap, cut), PrintableStrings.Extract(data, cap, cut));
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void The_json_writer_gives_the_bytes_the_host_writes_for_the_list(int seed)
    {
        var random = new Random(seed);
        // Long enough for the writer's buffer to fill and flush a few times.
        var data = Generate(
            random,
            seed % 5 == 0 ? random.Next(200_000, 400_000) : random.Next(0, 5000)
        );
        var cap = seed % 2 == 0 ? int.MaxValue : random.Next(0, 30);

        // What the host's serialiser does with a list of strings: WriteStringValue per item.
        var expected = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(expected))
        {
            writer.WriteStartArray();
            foreach (var s in PrintableStrings.Extract(data, cap, 1024))
            {
                writer.WriteStringValue(s);
            }
            writer.WriteEndArray();
        }
        var actual = new MemoryStream();
        PrintableStrings.WriteJson(data, cap, 1024, actual);

        Assert.Equal(
            Encoding.UTF8.GetString(expected.WrittenSpan),
            Encoding.UTF8.GetString(actual.ToArray())
        );
    }

    [Fact]
    public void Strings_longer_than_the_writers_buffer_are_written_whole()
    {
        var random = new Random(3);
        var run = new byte[150_000];
        for (var i = 0; i < run.Length; i++)
        {
            run[i] = (byte)random.Next(0x1f, 0x7f);
        }
        var plain = Encoding.ASCII.GetBytes(new string('x', 100_000));
        var data = run.Concat(new byte[] { 0 })
            .Concat(plain)
            .Concat(new byte[] { 1 })
            .Concat(Encoding.Unicode.GetBytes(Encoding.ASCII.GetString(run[..70_000])))
            .ToArray();

        var expected = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(expected))
        {
            writer.WriteStartArray();
            foreach (var s in PrintableStrings.Extract(data, int.MaxValue, int.MaxValue))
            {
                writer.WriteStringValue(s);
            }
            writer.WriteEndArray();
        }
        var actual = new MemoryStream();
        PrintableStrings.WriteJson(data, int.MaxValue, int.MaxValue, actual);

        Assert.Equal(expected.WrittenSpan.ToArray(), actual.ToArray());
    }

    [Fact]
    public void Runs_of_every_length_at_every_offset_of_a_block()
    {
        for (var offset = 0; offset < 70; offset++)
        {
            for (var run = 4; run < 16; run++)
            {
                foreach (var wide in new[] { false, true })
                {
                    var data = new byte[offset + 2 * run + 80];
                    Array.Fill(data, (byte)0x80);
                    for (var i = 0; i < run; i++)
                    {
                        if (wide)
                        {
                            data[offset + 2 * i] = (byte)('a' + i);
                            data[offset + 2 * i + 1] = 0;
                        }
                        else
                        {
                            data[offset + i] = (byte)('a' + i);
                        }
                    }
                    foreach (var end in new[] { data.Length, offset + (wide ? 2 * run : run) })
                    {
                        var slice = data[..end];
                        Assert.Equal(
                            Reference(slice, int.MaxValue, 1024),
                            PrintableStrings.Extract(slice, int.MaxValue, 1024)
                        );
                    }
                }
            }
        }
    }

    /// <summary>A mix of random bytes, ASCII runs, UTF-16 runs (both parities), zeros and 0x1f/0x7f edges.</summary>
    private static byte[] Generate(Random random, int length)
    {
        var data = new List<byte>(length + 64);
        while (data.Count < length)
        {
            var size = random.Next(1, 90);
            switch (random.Next(7))
            {
                case 0:
                    for (var i = 0; i < size; i++)
                    {
                        data.Add((byte)random.Next(256));
                    }
                    break;
                case 1:
                case 2:
                    for (var i = 0; i < size; i++)
                    {
                        data.Add((byte)random.Next(0x1f, 0x7f));
                    }
                    break;
                case 3:
                    for (var i = 0; i < size; i++)
                    {
                        data.Add((byte)random.Next(0x1f, 0x7f));
                        data.Add(0);
                    }
                    break;
                case 4:
                    for (var i = 0; i < size; i++)
                    {
                        data.Add(random.Next(3) == 0 ? (byte)0 : (byte)random.Next(0x1d, 0x81));
                    }
                    break;
                case 5:
                    data.Add(random.Next(2) == 0 ? (byte)0x7f : (byte)0x1e);
                    break;
                default:
                    for (var i = 0; i < size; i++)
                    {
                        data.Add(0);
                    }
                    break;
            }
        }
        return data.GetRange(0, length).ToArray();
    }
}
