using System.Text;
using System.Text.Json;
using Microkernel.Plugins.Memory.Volatility;

namespace Microkernel.Plugins.Memory.Tests;

public sealed class JsonRowReaderTests
{
    private static async Task<List<string>> ReadAsync(
        string text,
        int maxRow = 1 << 20,
        long maxOutput = long.MaxValue,
        int chunk = 7,
        int readBuffer = JsonRowReader.DefaultReadBuffer
    )
    {
        var rows = new List<string>();
        await new JsonRowReader(maxRow, maxOutput, readBuffer).ReadAsync(
            new TrickleStream(Encoding.UTF8.GetBytes(text), chunk),
            row => rows.Add(row.GetRawText()),
            CancellationToken.None
        );
        return rows;
    }

    [Fact]
    public async Task Rows_split_across_reads_and_a_banner_are_handled()
    {
        var rows = await ReadAsync(
            "Volatility 3 Framework 2.26.0\n[\n {\"PID\": 4, \"Name\": \"a\\\"b\"},\n {\"PID\": 8, \"__children\": [{\"PID\": 9}]}\n]\n"
        );
        Assert.Equal(2, rows.Count);
        Assert.Contains("\"__children\"", rows[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rows_larger_than_the_initial_buffer_grow_it()
    {
        var big = new string('x', 200_000);
        var rows = await ReadAsync($"[{{\"Name\": \"{big}\"}}, {{\"PID\": 1}}]", chunk: 4096);
        Assert.Equal(2, rows.Count);
    }

    [Fact]
    public async Task A_row_over_max_row_size_is_an_error_with_its_offset()
    {
        var big = new string('x', 300_000);
        var error = await Assert.ThrowsAsync<ToolOutputException>(() =>
            ReadAsync($"[{{\"PID\": 1}}, {{\"Name\": \"{big}\"}}]", maxRow: 128 * 1024, chunk: 4096)
        );
        Assert.Contains("max_row_size", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_read_buffer_larger_than_max_row_size_still_enforces_it()
    {
        // The runner reads in 1 MiB chunks; a 128 KiB max_row_size must still hold.
        var big = new string('x', 300_000);
        var error = await Assert.ThrowsAsync<ToolOutputException>(() =>
            ReadAsync(
                $"[{{\"PID\": 1}}, {{\"Name\": \"{big}\"}}]",
                maxRow: 128 * 1024,
                chunk: 65536,
                readBuffer: 1 << 20
            )
        );
        Assert.Contains("max_row_size", error.Message, StringComparison.Ordinal);
        // Where the row before the big one ended: the big row starts at byte 13.
        Assert.InRange(error.Offset, 11, 13);
    }

    [Fact]
    public async Task A_large_read_buffer_yields_the_same_rows_as_the_default_one()
    {
        // pslist-like rows, several MB, arriving in pipe-sized pieces that split rows anywhere.
        var text = new StringBuilder("Volatility 3 Framework 2.26.0\n[");
        for (var pid = 0; pid < 20_000; pid++)
        {
            text.Append(pid == 0 ? "\n" : ",\n")
                .Append(
                    $"  {{\"CreateTime\": \"2024-03-01T10:15:{pid % 60:00}+00:00\", \"ImageFileName\": \"svc{pid}.exe\", \"PID\": {pid}, \"PPID\": 4, \"__children\": []}}"
                );
        }
        text.Append("\n]\n");
        var json = text.ToString();
        Assert.True(json.Length > 2 << 20);

        var small = await ReadAsync(json, chunk: 65536);
        var large = await ReadAsync(json, chunk: 65536 + 17, readBuffer: 1 << 20);

        Assert.Equal(20_000, large.Count);
        Assert.Equal(small, large);
        Assert.Contains("\"PID\": 19999", large[^1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rows_before_max_output_size_are_kept_whatever_the_read_buffer()
    {
        var json =
            "["
            + string.Join(", ", Enumerable.Range(1, 1000).Select(p => $"{{\"PID\": {p}}}"))
            + "]";
        var cap = json.IndexOf("{\"PID\": 901}", StringComparison.Ordinal);
        var rows = new List<string>();
        var error = await Assert.ThrowsAsync<ToolOutputException>(() =>
            new JsonRowReader(1 << 20, cap, 1 << 20).ReadAsync(
                new MemoryStream(Encoding.UTF8.GetBytes(json)),
                row => rows.Add(row.GetRawText()),
                CancellationToken.None
            )
        );
        Assert.Contains("max_output_size", error.Message, StringComparison.Ordinal);
        Assert.Equal(900, rows.Count);
    }

    [Fact]
    public async Task Truncated_output_keeps_the_complete_rows_and_reports_the_end()
    {
        var rows = new List<string>();
        var reader = new JsonRowReader(1 << 20, long.MaxValue);
        var error = await Assert.ThrowsAsync<ToolOutputException>(() =>
            reader.ReadAsync(
                new MemoryStream("[{\"PID\": 4}, {\"PID\": 5, \"Na"u8.ToArray()),
                row => rows.Add(row.GetRawText()),
                CancellationToken.None
            )
        );
        Assert.Single(rows);
        Assert.True(error.Offset > 0);
    }

    [Fact]
    public async Task An_object_instead_of_an_array_is_rejected()
    {
        var error = await Assert.ThrowsAsync<ToolOutputException>(() =>
            ReadAsync("{\"error\": \"x\"}")
        );
        Assert.Contains("array", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Empty_output_is_an_error()
    {
        await Assert.ThrowsAsync<ToolOutputException>(() =>
            ReadAsync("Volatility 3 Framework 2.26.0\n")
        );
    }

    /// <summary>Returns at most <c>chunk</c> bytes per read, like a pipe under load.</summary>
    private sealed class TrickleStream(byte[] data, int chunk) : MemoryStream(data)
    {
        public override ValueTask<int> ReadAsync(
            Memory<byte> buffer,
            CancellationToken cancellationToken = default
        ) => base.ReadAsync(buffer[..Math.Min(buffer.Length, chunk)], cancellationToken);
    }
}
