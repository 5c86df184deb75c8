using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Microkernel.Plugins.Memory.Volatility;

/// <summary>
/// Where mapped rows go: the open <c>data</c> array of one plugin. Applies Cuckoo's pid mask
/// (rows of masked pids are dropped unless malfind tainted the pid) and counts what it kept.
/// </summary>
internal sealed class RowSink(Utf8JsonWriter writer, Func<long?, bool> keep)
{
    private const int FlushThreshold = 1 << 16;

    public Utf8JsonWriter Writer { get; } = writer;

    /// <summary>
    /// Utf8JsonWriter buffers everything until flushed: flushing every 64 KiB keeps the section's
    /// memory bounded however many rows a plugin prints.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void FlushIfFull()
    {
        if (Writer.BytesPending >= FlushThreshold)
        {
            Writer.Flush();
        }
    }

    public long Rows { get; private set; }

    /// <summary>Whether a row of <paramref name="processId"/> is written; counts it when it is.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool Accept(long? processId)
    {
        if (!keep(processId))
        {
            return false;
        }
        Rows++;
        return true;
    }
}

/// <summary>Turns Volatility 3 rows (one JSON object each) into Cuckoo 2.0 rows.</summary>
internal abstract class RowMapper
{
    public abstract void Map(JsonElement row, RowSink sink);

    /// <summary>
    /// Maps a row straight from the reader's cells. Mappers that walk nested values or group rows
    /// keep the default: the row parsed into a document.
    /// </summary>
    public virtual void Map(RawRow row, RowSink sink) => MapParsed(row, sink);

    protected void MapParsed(RawRow row, RowSink sink)
    {
        using var document = row.Parse();
        Map(document.RootElement, sink);
    }

    /// <summary>Called once after the last row, for mappers that group consecutive rows.</summary>
    public virtual void Complete(RowSink sink) { }
}
