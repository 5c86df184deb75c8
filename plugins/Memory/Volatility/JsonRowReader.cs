using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Microkernel.Plugins.Memory.Volatility;

/// <summary>The tool's JSON is broken; <see cref="Offset"/> is the byte offset in its standard output.</summary>
internal sealed class ToolOutputException(string message, long offset) : Exception(message)
{
    public long Offset { get; } = offset;
}

/// <summary>
/// Reads Volatility 3's <c>-r json</c> output (one top-level array of row objects) from a stream
/// and hands each row over as soon as it is complete, so memory stays bounded by the largest row,
/// never by the output. Hand-written over <see cref="Utf8JsonReader"/> because
/// <c>JsonSerializer.DeserializeAsyncEnumerable</c> can neither skip Volatility's banner line, nor
/// cap a row's size, nor say at which byte the JSON broke.
/// </summary>
internal sealed class JsonRowReader(
    int maxRowBytes,
    long maxOutputBytes,
    int readBufferBytes = JsonRowReader.DefaultReadBuffer
)
{
    /// <summary>The buffer a read starts with; it grows only for a row larger than it.</summary>
    public const int DefaultReadBuffer = 64 * 1024;

    /// <summary>Bytes read from the stream.</summary>
    public long BytesRead { get; private set; }

    /// <summary>Rows handed to the callback.</summary>
    public long Rows { get; private set; }

    /// <summary>Reads rows until the array ends or the stream does, each parsed into a <see cref="JsonElement"/>.</summary>
    /// <exception cref="ToolOutputException">The output is not a JSON array of rows, a row is too large, or the output exceeds its cap.</exception>
    public Task ReadAsync(
        Stream stream,
        Action<JsonElement> onRow,
        CancellationToken cancellationToken
    ) =>
        ReadRowsAsync(
            stream,
            row =>
            {
                using var document = row.Parse();
                onRow(document.RootElement);
            },
            cancellationToken
        );

    /// <summary>
    /// Reads rows until the array ends or the stream does. Each row is handed over as the cells
    /// the reader's single pass found (no <see cref="JsonDocument"/>), valid only during the call.
    /// </summary>
    /// <exception cref="ToolOutputException">The output is not a JSON array of rows, a row is too large, or the output exceeds its cap.</exception>
    public async Task ReadRowsAsync(
        Stream stream,
        Action<RawRow> onRow,
        CancellationToken cancellationToken
    )
    {
        var row = new RawRow();
        // Never start above max_row_size (the buffer's growth is what enforces it).
        var buffer = ArrayPool<byte>.Shared.Rent(
            Math.Min(readBufferBytes, Math.Max(maxRowBytes, DefaultReadBuffer))
        );
        try
        {
            var start = 0; // first unconsumed byte in buffer
            var end = 0; // end of valid data in buffer
            long bufferOffset = 0; // stream offset of buffer[0]
            var eof = false;
            var seenStart = false;
            var finished = false;
            // Comments are disallowed (the default): Volatility's renderer is Python's json module,
            // which never writes them, and skipping them sends every token down the reader's slower path.
            var state = new JsonReaderState();

            while (!finished)
            {
                if (!eof && (end == buffer.Length || start == end || NeedMore))
                {
                    // Compact, then grow if a single row fills the whole buffer.
                    if (start > 0)
                    {
                        Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
                        bufferOffset += start;
                        end -= start;
                        start = 0;
                    }
                    if (end == buffer.Length)
                    {
                        if (buffer.Length >= maxRowBytes)
                        {
                            throw new ToolOutputException(
                                $"a row is larger than max_row_size ({maxRowBytes} bytes)",
                                bufferOffset
                            );
                        }
                        var bigger = ArrayPool<byte>.Shared.Rent(
                            Math.Min(buffer.Length * 2, maxRowBytes)
                        );
                        Buffer.BlockCopy(buffer, 0, bigger, 0, end);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = bigger;
                    }
                    // Read up to max_output_size, then one byte to see whether there is more:
                    // the rows before the cap are handed over however large the read buffer is.
                    var room = buffer.Length - end;
                    if (maxOutputBytes - BytesRead < room)
                    {
                        room = (int)Math.Max(maxOutputBytes - BytesRead, 1);
                    }
                    var read = await stream
                        .ReadAsync(buffer.AsMemory(end, room), cancellationToken)
                        .ConfigureAwait(false);
                    if (read == 0)
                    {
                        eof = true;
                    }
                    else
                    {
                        end += read;
                        BytesRead += read;
                        if (BytesRead > maxOutputBytes)
                        {
                            throw new ToolOutputException(
                                $"the output exceeds max_output_size ({maxOutputBytes} bytes)",
                                maxOutputBytes
                            );
                        }
                    }
                    NeedMore = false;
                }

                if (!seenStart)
                {
                    // Volatility prints a banner ("Volatility 3 Framework 2.x") before the JSON.
                    var first = buffer.AsSpan(start, end - start).IndexOfAny((byte)'[', (byte)'{');
                    if (first < 0)
                    {
                        start = end;
                        if (eof)
                        {
                            throw new ToolOutputException(
                                "no JSON in the output",
                                bufferOffset + end
                            );
                        }
                        continue;
                    }
                    start += first;
                    seenStart = true;
                }

                var window = buffer.AsMemory(start, end - start);
                var reader = new Utf8JsonReader(window.Span, eof, state);
                var consumed = ReadRows(
                    ref reader,
                    window,
                    row,
                    onRow,
                    bufferOffset + start,
                    ref finished
                );
                start += consumed.Bytes;
                state = consumed.State;
                if (!finished)
                {
                    if (eof)
                    {
                        throw new ToolOutputException(
                            "the output ends inside the JSON array (truncated)",
                            bufferOffset + end
                        );
                    }
                    NeedMore = true;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private bool NeedMore { get; set; }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private (int Bytes, JsonReaderState State) ReadRows(
        ref Utf8JsonReader reader,
        ReadOnlyMemory<byte> window,
        RawRow row,
        Action<RawRow> onRow,
        long absoluteStart,
        ref bool finished
    )
    {
        var safeBytes = 0;
        var safeState = reader.CurrentState;
        try
        {
            while (true)
            {
                var before = (int)reader.BytesConsumed;
                var beforeState = reader.CurrentState;
                if (!reader.Read())
                {
                    return (before, beforeState);
                }
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartArray when reader.CurrentDepth == 0:
                        break;
                    case JsonTokenType.StartObject when reader.CurrentDepth == 0:
                        throw new ToolOutputException(
                            "expected a JSON array of rows, found an object",
                            absoluteStart + before
                        );
                    case JsonTokenType.EndArray when reader.CurrentDepth == 0:
                        finished = true;
                        return ((int)reader.BytesConsumed, reader.CurrentState);
                    case JsonTokenType.StartObject
                    or JsonTokenType.StartArray when reader.CurrentDepth == 1:
                        // One pass over the row indexes its top-level cells in place (no copy:
                        // the row is handed over before the buffer is reused).
                        if (!IndexRow(ref reader, window, row))
                        {
                            // The row is not complete yet: resume before its first byte.
                            return (before, beforeState);
                        }
                        Rows++;
                        onRow(row);
                        break;
                    default:
                        if (reader.CurrentDepth == 0)
                        {
                            throw new ToolOutputException(
                                $"expected a JSON array of rows, found {reader.TokenType}",
                                absoluteStart + before
                            );
                        }
                        // Scalars directly in the array are not rows; skip them.
                        break;
                }
                safeBytes = (int)reader.BytesConsumed;
                safeState = reader.CurrentState;
            }
        }
        catch (JsonException ex)
        {
            throw new ToolOutputException(
                $"malformed JSON at or after byte {absoluteStart + safeBytes}: {FirstSentence(ex.Message)}",
                absoluteStart + safeBytes
            );
        }
    }

    /// <summary>
    /// Reads the row starting at the reader's current token up to its end, recording each
    /// top-level property's name and raw value. False when the buffer ends inside the row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static bool IndexRow(
        ref Utf8JsonReader reader,
        ReadOnlyMemory<byte> window,
        RawRow row
    )
    {
        var rowStart = (int)reader.TokenStartIndex;
        row.Reset(window, reader.TokenType == JsonTokenType.StartObject);
        if (reader.TokenType == JsonTokenType.StartArray)
        {
            if (!reader.TrySkip())
            {
                return false;
            }
            row.Complete(rowStart, (int)reader.BytesConsumed);
            return true;
        }
        while (true)
        {
            if (!reader.Read())
            {
                return false;
            }
            if (reader.TokenType == JsonTokenType.EndObject)
            {
                row.Complete(rowStart, (int)reader.BytesConsumed);
                return true;
            }
            // A property name: its bytes without quotes, then its value.
            var nameStart = (int)reader.TokenStartIndex + 1;
            var nameLength = reader.ValueSpan.Length;
            var nameEscaped = reader.ValueIsEscaped;
            if (!reader.Read())
            {
                return false;
            }
            var valueStart = (int)reader.TokenStartIndex;
            var kind = reader.TokenType;
            if (kind is JsonTokenType.StartObject or JsonTokenType.StartArray && !reader.TrySkip())
            {
                return false;
            }
            row.Add(
                nameStart,
                nameLength,
                nameEscaped,
                kind,
                valueStart,
                (int)reader.BytesConsumed
            );
        }
    }

    private static string FirstSentence(string message)
    {
        var end = message.IndexOf(" LineNumber", StringComparison.Ordinal);
        return (end > 0 ? message[..end] : message).TrimEnd('.', ' ');
    }
}
