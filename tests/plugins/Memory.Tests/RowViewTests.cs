using System.Text;
using System.Text.Json;
using Microkernel.Plugins.Memory.Volatility;

namespace Microkernel.Plugins.Memory.Tests;

public sealed class RowViewTests
{
    private const string System4 =
        """{"PID": 4, "PPID": 0, "ImageFileName": "System", "Threads": 100, "Handles": 5, "SessionId": null, "CreateTime": "2019-01-01T00:00:00+00:00", "ExitTime": null}""";

    // Columns that move, vanish and come back from one row to the next: where a column was in
    // the previous row is only ever a guess.
    private static readonly string[] ShuffledRows =
    [
        System4,
        """{"ImageFileName": "smss.exe", "PID": 300, "Threads": 2, "PPID": 4, "CreateTime": null}""",
        """{"Handles": 7, "PID": 400, "ImageFileName": "csrss.exe", "PPID": 300, "Threads": 9, "SessionId": 0, "ExitTime": "2019-01-01T00:00:01+00:00", "CreateTime": "2019-01-01T00:00:00+00:00"}""",
        """{"PID": 500}""",
        """{"Pid": 600, "ImageFileName": "lower.exe"}""",
        System4,
    ];

    [Fact]
    public async Task Each_row_maps_as_it_would_alone_whatever_the_previous_rows_columns()
    {
        var together = await Mapping.MapAsync("pslist", ShuffledRows);

        Assert.Equal(ShuffledRows.Length, together.GetArrayLength());
        for (var i = 0; i < ShuffledRows.Length; i++)
        {
            var alone = (await Mapping.MapAsync("pslist", [ShuffledRows[i]]))[0];
            Assert.True(
                JsonElement.DeepEquals(alone, together[i]),
                $"row {i}: {together[i]} mapped with the others, {alone} alone"
            );
        }
        // The comparison above is only as good as the mapping itself: spot-check it.
        Assert.Equal(300, together[1].GetProperty("process_id").GetInt64());
        Assert.Equal(4, together[1].GetProperty("parent_id").GetInt64());
        Assert.Equal(JsonValueKind.Null, together[1].GetProperty("num_handles").ValueKind);
        Assert.Equal("7", together[2].GetProperty("num_handles").GetString());
        Assert.Equal(
            "2019-01-01 00:00:01 UTC+0000",
            together[2].GetProperty("exit_time").GetString()
        );
        Assert.Equal(JsonValueKind.Null, together[3].GetProperty("process_name").ValueKind);
        Assert.Equal("lower.exe", together[4].GetProperty("process_name").GetString());
    }

    [Fact]
    public void A_null_column_gives_way_to_the_next_alternative_on_every_row()
    {
        // The second row finds "Path" where the first did, but null there: "Name" is next.
        var columns = Columns.Utf8(["Path", "Name"]);
        var view = new RowView();
        string[] rows =
        [
            """{"Path": "C:\\a.dll", "Name": "a.dll"}""",
            """{"Path": null, "Name": "b.dll"}""",
            """{"Path": null, "Name": null}""",
        ];
        var found = new List<string?>();
        foreach (var text in rows)
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            var reader = new Utf8JsonReader(bytes);
            reader.Read();
            var row = new RawRow();
            JsonRowReader.IndexRow(ref reader, bytes, row);
            view.Load(row);
            found.Add(view.TryGet(columns, out var cell) ? Columns.Text(cell) : null);
        }

        Assert.Equal(["C:\\a.dll", "b.dll", null], found);
    }

    [Fact]
    public async Task A_comment_in_the_output_is_malformed_json()
    {
        // Python's json module never writes comments; the reader takes the strict (fast) path.
        var error = await Assert.ThrowsAsync<ToolOutputException>(() =>
            Mapping.MapAsync("pslist", [System4, "/* not JSON */ " + System4])
        );
        Assert.Contains("malformed JSON", error.Message, StringComparison.Ordinal);
    }
}
