using System.Text.Json;

namespace Microkernel.Host.Tests.Running.Faults;

/// <summary>One top-level section of a report, read without holding it in memory.</summary>
/// <param name="Bytes">The section's JSON text length in bytes.</param>
/// <param name="Value">The section itself when it is small enough to keep, else null.</param>
/// <param name="Items">Elements of the section when it is an array.</param>
/// <param name="StringBytes">Total length of the string elements of an array section (as written, escapes included).</param>
internal sealed record SectionDigest(long Bytes, JsonElement? Value, long Items, long StringBytes);

/// <summary>
/// Reads a report.json of any size in one streaming pass: small sections are kept as JSON,
/// big ones (a 500 MB result) are only measured, so a test never loads them whole.
/// </summary>
internal static class ReportDigest
{
    private const int KeptSectionBytes = 1 << 20;

    public static IReadOnlyDictionary<string, SectionDigest> Read(string path)
    {
        var sections = new Dictionary<string, SectionDigest>(StringComparer.Ordinal);
        var walker = new Walker(sections);
        using var file = new FileStream(
            path,
            FileMode.Open,
            FileAccess.Read,
            FileShare.Read,
            1,
            FileOptions.SequentialScan
        );
        var buffer = new byte[1 << 20];
        var filled = 0;
        long offset = 0;
        var final = false;
        var state = new JsonReaderState();
        while (true)
        {
            while (!final && filled < buffer.Length)
            {
                var read = file.Read(buffer, filled, buffer.Length - filled);
                final = read == 0;
                filled += read;
            }
            var reader = new Utf8JsonReader(buffer.AsSpan(0, filled), final, state);
            while (reader.Read())
            {
                walker.Token(ref reader, offset);
            }
            if (final)
            {
                break;
            }
            var consumed = (int)reader.BytesConsumed;
            if (consumed == 0)
            {
                // One token longer than the buffer.
                Array.Resize(ref buffer, buffer.Length * 2);
            }
            Buffer.BlockCopy(buffer, consumed, buffer, 0, filled - consumed);
            filled -= consumed;
            offset += consumed;
            state = reader.CurrentState;
        }
        return sections;
    }

    private sealed class Walker(Dictionary<string, SectionDigest> sections)
    {
        private string? _key;
        private long _start;
        private long _items;
        private long _stringBytes;
        private MemoryStream? _kept;
        private Utf8JsonWriter? _writer;

        public void Token(ref Utf8JsonReader reader, long offset)
        {
            var depth = reader.CurrentDepth;
            var type = reader.TokenType;
            if (depth == 0)
            {
                return;
            }
            if (depth == 1 && type == JsonTokenType.PropertyName)
            {
                _key = reader.GetString();
                _items = 0;
                _stringBytes = 0;
                _kept = new MemoryStream();
                _writer = new Utf8JsonWriter(_kept);
                return;
            }
            if (depth == 1 && type is not (JsonTokenType.EndObject or JsonTokenType.EndArray))
            {
                _start = offset + reader.TokenStartIndex;
            }
            if (
                depth == 2
                && type
                    is not (
                        JsonTokenType.PropertyName
                        or JsonTokenType.EndObject
                        or JsonTokenType.EndArray
                    )
            )
            {
                _items++;
                if (type == JsonTokenType.String)
                {
                    _stringBytes += reader.ValueSpan.Length;
                }
            }
            Keep(ref reader);
            var ended =
                depth == 1 && type is not (JsonTokenType.StartObject or JsonTokenType.StartArray);
            if (ended)
            {
                Finish(offset + reader.BytesConsumed);
            }
        }

        private void Keep(ref Utf8JsonReader reader)
        {
            if (_writer is null)
            {
                return;
            }
            switch (reader.TokenType)
            {
                case JsonTokenType.StartObject:
                    _writer.WriteStartObject();
                    break;
                case JsonTokenType.EndObject:
                    _writer.WriteEndObject();
                    break;
                case JsonTokenType.StartArray:
                    _writer.WriteStartArray();
                    break;
                case JsonTokenType.EndArray:
                    _writer.WriteEndArray();
                    break;
                case JsonTokenType.PropertyName:
                    _writer.WritePropertyName(reader.GetString()!);
                    break;
                case JsonTokenType.String:
                    _writer.WriteStringValue(reader.GetString());
                    break;
                case JsonTokenType.Number:
                    _writer.WriteRawValue(reader.ValueSpan, skipInputValidation: true);
                    break;
                case JsonTokenType.True:
                case JsonTokenType.False:
                    _writer.WriteBooleanValue(reader.GetBoolean());
                    break;
                case JsonTokenType.Null:
                    _writer.WriteNullValue();
                    break;
            }
            if (_writer.BytesPending + _writer.BytesCommitted > KeptSectionBytes)
            {
                // Too big to keep: measure the rest only.
                _writer.Dispose();
                _writer = null;
                _kept = null;
            }
        }

        private void Finish(long end)
        {
            JsonElement? value = null;
            if (_writer is not null && _kept is not null)
            {
                _writer.Flush();
                using var document = JsonDocument.Parse(_kept.ToArray());
                value = document.RootElement.Clone();
                _writer.Dispose();
            }
            sections[_key!] = new SectionDigest(end - _start, value, _items, _stringBytes);
            _writer = null;
            _kept = null;
        }
    }
}
