using System.Text;
using System.Text.Json;
using Microkernel.Host.Results;
using Microkernel.TestSupport;

namespace Microkernel.Host.Tests.Results;

public sealed class SectionStoreTests
{
    [Fact]
    public void A_section_held_in_memory_is_read_parsed_and_spliced_like_a_file()
    {
        using var temp = TempDirectory.Create();
        using var store = new SectionStore(temp.Combine("sections"));
        var json = $$"""{"items": [{{string.Join(",", Enumerable.Range(0, 20_000))}}]}""";
        Assert.True(
            store.TryAdd("big", SectionContent.OfMemory(Encoding.UTF8.GetBytes(json)), "m")
        );
        Assert.True(store.TryAdd("small", SectionContent.OfMemory("[1]"u8.ToArray()), "m"));

        using (var read = new StreamReader(store.OpenSection("big")!))
        {
            Assert.Equal(json, read.ReadToEnd());
        }
        Assert.True(store.TryGetSection("big", out var big));
        Assert.Equal(19_999, big.GetProperty("items")[19_999].GetInt32());
        ReportWriter.WriteAtomically(store, "{}"u8.ToArray(), temp.Combine("report.json"));

        using var report = JsonDocument.Parse(File.ReadAllBytes(temp.Combine("report.json")));
        Assert.Equal(
            20_000,
            report.RootElement.GetProperty("big").GetProperty("items").GetArrayLength()
        );
        Assert.False(Directory.Exists(temp.Combine("sections")), "a memory section wrote a file");
    }

    [Fact]
    public void A_serialised_result_held_in_chunks_of_growing_size_is_spliced_whole()
    {
        using var temp = TempDirectory.Create();
        using var store = new SectionStore(temp.Combine("sections"));
        var result = new Dictionary<string, object>
        {
            ["rows"] = Enumerable
                .Range(0, 30_000)
                .Select(i => new Dictionary<string, object> { ["n"] = i, ["s"] = $"row {i}" })
                .ToList(),
        };

        var content = Microkernel.Host.Running.InProcessModuleExecutor.WriteSection(
            result,
            temp.Combine("module", "section.json")
        );
        store.TryAdd("rows", content, "m");
        ReportWriter.WriteAtomically(store, "{}"u8.ToArray(), temp.Combine("report.json"));

        Assert.Null(content.FilePath);
        using var report = JsonDocument.Parse(File.ReadAllBytes(temp.Combine("report.json")));
        var rows = report.RootElement.GetProperty("rows").GetProperty("rows");
        Assert.Equal(30_000, rows.GetArrayLength());
        Assert.Equal("row 29999", rows[29_999].GetProperty("s").GetString());
        Assert.False(Directory.Exists(temp.Combine("module")));
    }

    [Fact]
    public void A_worker_process_gets_a_memory_section_as_a_file_and_parsed_elements_stay_valid()
    {
        using var temp = TempDirectory.Create();
        using var store = new SectionStore(temp.Combine("sections"));
        store.TryAdd("info", SectionContent.OfMemory("""{"id": 7}"""u8.ToArray()), "m");
        Assert.True(store.TryGetSection("info", out var before));

        var path = store.FileOf("info")!;

        Assert.Equal("""{"id": 7}""", File.ReadAllText(path));
        Assert.Equal(path, store.FileOf("info"));
        Assert.Equal(7, before.GetProperty("id").GetInt32());
        using var read = new StreamReader(store.OpenSection("info")!);
        Assert.Equal("""{"id": 7}""", read.ReadToEnd());
    }
}
