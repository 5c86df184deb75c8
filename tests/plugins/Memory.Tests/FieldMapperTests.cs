using System.Text;
using System.Text.Json;
using Microkernel.Plugins.Memory.Volatility;

namespace Microkernel.Plugins.Memory.Tests;

public sealed class FieldMapperTests
{
    // Besides the recorded reply: a process whose rows are interrupted by another one and then
    // resume (a new group, as Cuckoo's per-process rows would have it), a null path that falls
    // back to the name, numbers given as strings and floats, a missing PID and process, a
    // column order that changes, and a row that is not an object.
    private static readonly string[] EdgeRows =
    [
        """{"PID": 9, "Process": "a.exe", "Base": 4194304, "Size": 4096, "Name": "a.exe", "Path": null}""",
        """{"PID": 10, "Process": "b.exe", "Base": "0x400000", "Size": 8192.0, "Path": "C:\\b\\b.exe"}""",
        """{"PID": 9, "Process": "a.exe", "Base": 1, "Size": 2, "Path": "C:\\a\\\u00e9.dll"}""",
        """{"Base": 5, "Size": 6, "Name": "orphan.dll"}""",
        """{"Path": "C:\\x.dll", "Size": 7, "Base": 8, "Process": "moved.exe", "Pid": 11}""",
        """{"PID": 11, "Process": "moved.exe", "Base": true, "Size": null, "Path": 12}""",
        "[1, 2]",
    ];

    [Fact]
    public async Task Dlllist_maps_the_same_from_the_readers_cells_as_from_parsed_rows()
    {
        var recorded = JsonDocument
            .Parse(
                await File.ReadAllBytesAsync(
                    Path.Combine(AppContext.BaseDirectory, "Recorded", "dlllist.json")
                )
            )
            .RootElement.EnumerateArray()
            .Select(row => row.GetRawText());
        string[] rows = [.. recorded, .. EdgeRows];

        var fromCells = await MapAsync(rows, parsed: false);
        var fromParsedRows = await MapAsync(rows, parsed: true);

        Assert.True(
            JsonElement.DeepEquals(fromCells, fromParsedRows),
            $"from cells: {fromCells}\nfrom parsed rows: {fromParsedRows}"
        );
        // The comparison is only as good as the mapping itself: spot-check it.
        var groups = fromCells.EnumerateArray().ToList();
        var a = groups[^6];
        Assert.Equal(9, a.GetProperty("process_id").GetInt64());
        Assert.Equal(
            "a.exe",
            a.GetProperty("loaded_modules")[0].GetProperty("dll_full_name").GetString()
        );
        Assert.Equal(
            "4194304",
            a.GetProperty("loaded_modules")[0].GetProperty("dll_base").GetString()
        );
        var b = groups[^5];
        Assert.Equal(
            "4194304",
            b.GetProperty("loaded_modules")[0].GetProperty("dll_base").GetString()
        );
        Assert.Equal(
            "8192",
            b.GetProperty("loaded_modules")[0].GetProperty("dll_size").GetString()
        );
        Assert.Equal(
            "C:\\a\\\u00e9.dll",
            groups[^4].GetProperty("loaded_modules")[0].GetProperty("dll_full_name").GetString()
        );
        Assert.Equal(JsonValueKind.Null, groups[^3].GetProperty("process_id").ValueKind);
        var moved = groups[^2];
        Assert.Equal("moved.exe", moved.GetProperty("process_name").GetString());
        Assert.Equal(2, moved.GetProperty("loaded_modules").GetArrayLength());
        Assert.Equal(
            "12",
            moved.GetProperty("loaded_modules")[1].GetProperty("dll_full_name").GetString()
        );
    }

    /// <summary>
    /// dlllist's mapping of <paramref name="rows"/> through one mapper: from the reader's cells,
    /// or with each row parsed into a document first (the mapping every mapper has).
    /// </summary>
    private static async Task<JsonElement> MapAsync(IEnumerable<string> rows, bool parsed)
    {
        var output = new MemoryStream();
        await using (var writer = new Utf8JsonWriter(output))
        {
            var mapper = VolatilityPlugins.All.Single(p => p.Name == "dlllist").CreateMapper();
            var sink = new RowSink(writer, _ => true);
            writer.WriteStartArray();
            await new JsonRowReader(1 << 20, long.MaxValue).ReadRowsAsync(
                new MemoryStream(Encoding.UTF8.GetBytes($"[{string.Join(",", rows)}]")),
                row =>
                {
                    if (parsed)
                    {
                        using var document = row.Parse();
                        mapper.Map(document.RootElement, sink);
                    }
                    else
                    {
                        mapper.Map(row, sink);
                    }
                },
                CancellationToken.None
            );
            mapper.Complete(sink);
            writer.WriteEndArray();
        }
        return JsonDocument.Parse(output.ToArray()).RootElement;
    }
}
