using System.Text;
using System.Text.Json;
using Microkernel.Plugins.Memory.Volatility;

namespace Microkernel.Plugins.Memory.Tests;

/// <summary>A plugin's mapping of JSON rows, through the reader as the module runs it.</summary>
internal static class Mapping
{
    /// <summary>
    /// <paramref name="plugin"/>'s mapping of <paramref name="rows"/>, all through one mapper:
    /// from the reader's cells, or with each row parsed into a document first (<paramref name="parsed"/>,
    /// the mapping every mapper has).
    /// </summary>
    public static async Task<JsonElement> MapAsync(
        string plugin,
        IEnumerable<string> rows,
        bool parsed = false
    )
    {
        var output = new MemoryStream();
        await using (var writer = new Utf8JsonWriter(output))
        {
            var mapper = VolatilityPlugins.All.Single(p => p.Name == plugin).CreateMapper();
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
