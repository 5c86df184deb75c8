using System.Collections;
using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Microkernel.Contracts;

namespace Microkernel.Host.Results;

/// <summary>
/// Writes a module's result as JSON by walking it with plain reflection.
/// </summary>
/// <remarks>
/// System.Text.Json's reflection serializer caches metadata for every type it sees in the
/// default load context, which keeps a plugin's context alive forever (measured in
/// plugin-hosting.md, appendix; dotnet/runtime#65323). This walker caches nothing, so a
/// plugin-defined result type never outlives the plugin. Output follows Cuckoo's JSON reporter:
/// datetimes as epoch-seconds floats, byte strings as latin-1 text.
/// </remarks>
internal static class ResultSerializer
{
    private const int MaxDepth = 512;

    /// <exception cref="ProcessingException">The value cannot be written (a cycle, an unsupported type).</exception>
    public static void Write(Utf8JsonWriter writer, object? value) => WriteValue(writer, value, 0);

    private static void WriteValue(Utf8JsonWriter writer, object? value, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new ProcessingException(
                $"The result nests deeper than {MaxDepth} levels; is there a cycle?"
            );
        }
        switch (value)
        {
            case null:
                writer.WriteNullValue();
                return;
            case string s:
                writer.WriteStringValue(s);
                return;
            case bool b:
                writer.WriteBooleanValue(b);
                return;
            case int i:
                writer.WriteNumberValue(i);
                return;
            case long l:
                writer.WriteNumberValue(l);
                return;
            case double d:
                WriteDouble(writer, d);
                return;
            case float f:
                WriteDouble(writer, f);
                return;
            case decimal m:
                writer.WriteNumberValue(m);
                return;
            case uint ui:
                writer.WriteNumberValue(ui);
                return;
            case ulong ul:
                writer.WriteNumberValue(ul);
                return;
            case short sh:
                writer.WriteNumberValue(sh);
                return;
            case ushort us:
                writer.WriteNumberValue(us);
                return;
            case byte by:
                writer.WriteNumberValue(by);
                return;
            case sbyte sb:
                writer.WriteNumberValue(sb);
                return;
            case char c:
                writer.WriteStringValue(c.ToString());
                return;
            case DateTime dt:
                WriteDouble(writer, EpochSeconds(dt));
                return;
            case DateTimeOffset dto:
                WriteDouble(writer, EpochSeconds(dto.UtcDateTime));
                return;
            case TimeSpan ts:
                WriteDouble(writer, ts.TotalSeconds);
                return;
            case Guid g:
                writer.WriteStringValue(g.ToString());
                return;
            case Enum e:
                writer.WriteStringValue(e.ToString());
                return;
            case byte[] bytes:
                writer.WriteStringValue(Latin1(bytes));
                return;
            case ReadOnlyMemory<byte> rom:
                writer.WriteStringValue(Latin1(rom.Span));
                return;
            case Memory<byte> mem:
                writer.WriteStringValue(Latin1(mem.Span));
                return;
            case JsonElement element:
                element.WriteTo(writer);
                return;
            case JsonDocument document:
                document.RootElement.WriteTo(writer);
                return;
            case JsonNode node:
                node.WriteTo(writer);
                return;
            case JsonSection:
                throw new ProcessingException(
                    "A JsonSection can only be the whole result, not a nested value."
                );
            case IDictionary dictionary:
                WriteDictionary(writer, dictionary, depth);
                return;
            case ITuple tuple:
                writer.WriteStartArray();
                for (var i = 0; i < tuple.Length; i++)
                {
                    WriteValue(writer, tuple[i], depth + 1);
                }
                writer.WriteEndArray();
                return;
            case IEnumerable sequence:
                WriteSequence(writer, sequence, depth);
                return;
            default:
                WriteObject(writer, value, depth);
                return;
        }
    }

    private static void WriteDouble(Utf8JsonWriter writer, double value)
    {
        // Python's json writes NaN/Infinity, which is not JSON; null keeps the report parseable.
        if (double.IsFinite(value))
        {
            writer.WriteNumberValue(value);
        }
        else
        {
            writer.WriteNullValue();
        }
    }

    /// <summary>Cuckoo's <c>calendar.timegm(dt.timetuple()) + dt.microsecond / 1e6</c>; naive times are UTC.</summary>
    internal static double EpochSeconds(DateTime value)
    {
        var utc = value.Kind == DateTimeKind.Local ? value.ToUniversalTime() : value;
        var ticks = utc.Ticks - DateTime.UnixEpoch.Ticks;
        var seconds = Math.Floor((double)ticks / TimeSpan.TicksPerSecond);
        var microseconds = ticks / 10 % 1_000_000;
        if (microseconds < 0)
        {
            microseconds += 1_000_000;
        }
        return seconds + microseconds / 1e6;
    }

    private static string Latin1(ReadOnlySpan<byte> bytes) =>
        System.Text.Encoding.Latin1.GetString(bytes);

    private static void WriteDictionary(Utf8JsonWriter writer, IDictionary dictionary, int depth)
    {
        writer.WriteStartObject();
        foreach (DictionaryEntry entry in dictionary)
        {
            writer.WritePropertyName(KeyText(entry.Key));
            WriteValue(writer, entry.Value, depth + 1);
            FlushIfFull(writer);
        }
        writer.WriteEndObject();
    }

    /// <summary>
    /// A writer over a stream buffers everything until flushed, doubling its buffer as it goes:
    /// flushing at 16 KiB keeps a large result from costing buffers of twice its size.
    /// </summary>
    private static void FlushIfFull(Utf8JsonWriter writer)
    {
        if (writer.BytesPending >= 16 * 1024)
        {
            writer.Flush();
        }
    }

    private static string KeyText(object key) =>
        key switch
        {
            string s => s,
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => key.ToString() ?? "",
        };

    private static void WriteSequence(Utf8JsonWriter writer, IEnumerable sequence, int depth)
    {
        var enumerator = sequence.GetEnumerator();
        try
        {
            if (!enumerator.MoveNext())
            {
                writer.WriteStartArray();
                writer.WriteEndArray();
                return;
            }
            // Sequences of KeyValuePair (ImmutableDictionary, IReadOnlyDictionary wrappers) become objects.
            var first = enumerator.Current;
            if (first is not null && IsKeyValuePair(first.GetType()))
            {
                writer.WriteStartObject();
                do
                {
                    var pair = enumerator.Current!;
                    var type = pair.GetType();
                    writer.WritePropertyName(KeyText(type.GetProperty("Key")!.GetValue(pair)!));
                    WriteValue(writer, type.GetProperty("Value")!.GetValue(pair), depth + 1);
                } while (enumerator.MoveNext());
                writer.WriteEndObject();
                return;
            }
            writer.WriteStartArray();
            do
            {
                WriteValue(writer, enumerator.Current, depth + 1);
                FlushIfFull(writer);
            } while (enumerator.MoveNext());
            writer.WriteEndArray();
        }
        finally
        {
            (enumerator as IDisposable)?.Dispose();
        }
    }

    private static bool IsKeyValuePair(Type type) =>
        type.IsGenericType && type.GetGenericTypeDefinition() == typeof(KeyValuePair<,>);

    private static void WriteObject(Utf8JsonWriter writer, object value, int depth)
    {
        writer.WriteStartObject();
        foreach (
            var property in value
                .GetType()
                .GetProperties(BindingFlags.Public | BindingFlags.Instance)
        )
        {
            if (
                property.GetIndexParameters().Length > 0
                || property.GetMethod is not { IsPublic: true }
            )
            {
                continue;
            }
            var ignore = property.GetCustomAttribute<JsonIgnoreAttribute>();
            if (ignore is { Condition: JsonIgnoreCondition.Always })
            {
                continue;
            }
            var propertyValue = property.GetValue(value);
            if (
                propertyValue is null
                && ignore is { Condition: JsonIgnoreCondition.WhenWritingNull }
            )
            {
                continue;
            }
            var name =
                property.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name ?? property.Name;
            writer.WritePropertyName(name);
            WriteValue(writer, propertyValue, depth + 1);
        }
        writer.WriteEndObject();
    }
}
