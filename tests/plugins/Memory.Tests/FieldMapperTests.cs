using System.Text.Json;

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

        var fromCells = await Mapping.MapAsync("dlllist", rows);
        var fromParsedRows = await Mapping.MapAsync("dlllist", rows, parsed: true);

        Assert.True(
            JsonElement.DeepEquals(fromCells, fromParsedRows),
            $"from cells: {fromCells}\nfrom parsed rows: {fromParsedRows}"
        );
        // The comparison is only as good as the mapping itself: spot-check it.
        var groups = fromCells.EnumerateArray().ToList();
        var a = groups[^6];
        Assert.Equal(9, a.GetProperty("process_id").GetInt64());
        Assert.Equal("a.exe", Module(a, 0, "dll_full_name"));
        Assert.Equal("4194304", Module(a, 0, "dll_base"));
        var b = groups[^5];
        Assert.Equal("4194304", Module(b, 0, "dll_base"));
        Assert.Equal("8192", Module(b, 0, "dll_size"));
        Assert.Equal("C:\\a\\\u00e9.dll", Module(groups[^4], 0, "dll_full_name"));
        Assert.Equal(JsonValueKind.Null, groups[^3].GetProperty("process_id").ValueKind);
        var moved = groups[^2];
        Assert.Equal("moved.exe", moved.GetProperty("process_name").GetString());
        Assert.Equal(2, moved.GetProperty("loaded_modules").GetArrayLength());
        Assert.Equal("12", Module(moved, 1, "dll_full_name"));
    }

    private static string? Module(JsonElement group, int index, string field) =>
        group.GetProperty("loaded_modules")[index].GetProperty(field).GetString();
}
