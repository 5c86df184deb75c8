using System.Text;
using Microkernel.Contracts;
using Microkernel.TestSupport;

namespace Microkernel.Plugins.Strings.Tests;

public sealed class StringsTests
{
    [Fact]
    public async Task Cuckoos_own_test_0x1000_lines_give_exactly_2048_strings()
    {
        using var analysis = TempDirectory.Create();
        await File.WriteAllTextAsync(
            analysis.Combine("binary"),
            string.Concat(Enumerable.Repeat("ABCDEFGH\n", 0x1000))
        );

        using var result = await ModuleHarness.RunAsync(new Strings(), analysis.Path);

        Assert.Equal(2048, result!.RootElement.GetArrayLength());
    }

    [Fact]
    public async Task Cuckoos_own_test_long_lines_are_cut_to_1024()
    {
        using var analysis = TempDirectory.Create();
        await File.WriteAllTextAsync(
            analysis.Combine("binary"),
            string.Concat(Enumerable.Repeat(new string('A', 4096) + "\n", 200))
        );

        using var result = await ModuleHarness.RunAsync(new Strings(), analysis.Path);

        var strings = result!.RootElement.EnumerateArray().ToList();
        Assert.Equal(200, strings.Count);
        Assert.All(strings, s => Assert.Equal(1024, s.GetString()!.Length));
    }

    [Fact]
    public void Ascii_comes_first_then_wide_hits_including_odd_offsets()
    {
        var data = new List<byte>();
        data.AddRange(Encoding.Unicode.GetBytes("WideOne"));
        data.AddRange("\u0001ascii_string\u0001"u8.ToArray());
        data.Add(0x41); // shifts the next wide string to an odd offset
        data.AddRange(Encoding.Unicode.GetBytes("WideTwo!"));
        data.AddRange(Encoding.Unicode.GetBytes("\u0001short"));

        var strings = PrintableStrings.Extract(data.ToArray(), 2048, 1024);

        Assert.Equal(["ascii_string", "WideOne", "WideTwo!"], strings);
    }

    [Fact]
    public void The_class_includes_0x1f_and_stops_at_0x7f()
    {
        var strings = PrintableStrings.Extract("\u001fabcde\u007fabcdef"u8, 10, 10);

        Assert.Equal(["\u001fabcde", "abcdef"], strings);
    }

    [Fact]
    public async Task Options_change_the_three_limits()
    {
        using var analysis = TempDirectory.Create();
        await File.WriteAllTextAsync(
            analysis.Combine("binary"),
            "first_string\0second_string\0third_string_is_beyond"
        );

        using var result = await ModuleHarness.RunAsync(
            new Strings(),
            analysis.Path,
            options: new Dictionary<string, string>
            {
                ["max_size"] = "30",
                ["max_count"] = "2",
                ["max_length"] = "8",
            }
        );

        Assert.Equal(
            ["first_st", "second_s"],
            result!.RootElement.EnumerateArray().Select(s => s.GetString())
        );
    }

    [Fact]
    public async Task A_missing_sample_is_a_processing_error()
    {
        using var analysis = TempDirectory.Create();

        var error = await Assert.ThrowsAsync<ProcessingException>(() =>
            ModuleHarness.RunAsync(new Strings(), analysis.Path)
        );
        Assert.Contains("doesn't exist", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Url_tasks_store_nothing()
    {
        using var analysis = TempDirectory.Create();

        var result = await ModuleHarness.RunAsync(
            new Strings(),
            analysis.Path,
            task: new TaskInfo { Category = "url", Target = "http://x" }
        );

        Assert.Null(result);
    }
}
