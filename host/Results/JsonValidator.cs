using System.Buffers;
using System.Text.Json;

namespace Microkernel.Host.Results;

/// <summary>Checks that a stream holds exactly one JSON value, reading it in chunks.</summary>
internal static class JsonValidator
{
    /// <exception cref="JsonException">The stream is not one well-formed JSON value.</exception>
    public static void Validate(Stream stream)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(1 << 16);
        try
        {
            var state = new JsonReaderState(new JsonReaderOptions { MaxDepth = 4096 });
            var filled = 0;
            var sawValue = false;
            var finished = false;
            while (true)
            {
                var read = stream.Read(buffer, filled, buffer.Length - filled);
                filled += read;
                var isFinal = read == 0;
                var reader = new Utf8JsonReader(buffer.AsSpan(0, filled), isFinal, state);
                while (reader.Read())
                {
                    if (finished)
                    {
                        throw new JsonException("More than one JSON value.");
                    }
                    sawValue = true;
                    // At depth 0 every token but an opening bracket completes the root value.
                    if (
                        reader.CurrentDepth == 0
                        && reader.TokenType
                            is not (JsonTokenType.StartObject or JsonTokenType.StartArray)
                    )
                    {
                        finished = true;
                    }
                }
                state = reader.CurrentState;
                var consumed = (int)reader.BytesConsumed;
                if (isFinal)
                {
                    if (!sawValue || !finished)
                    {
                        throw new JsonException("Incomplete JSON value.");
                    }
                    return;
                }
                var remaining = filled - consumed;
                if (remaining == buffer.Length)
                {
                    // One token larger than the buffer (a huge string): grow.
                    var bigger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    buffer.AsSpan(0, remaining).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }
                else
                {
                    buffer.AsSpan(consumed, remaining).CopyTo(buffer);
                }
                filled = remaining;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
