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
        int chunk = 7
    )
    {
        var rows = new List<string>();
        await new JsonRowReader(maxRow, maxOutput).ReadAsync(
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
