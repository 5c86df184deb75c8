using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Unicode;
using Microkernel.Plugins.Behavior.Bson;
using Microkernel.Plugins.Behavior.Output;

namespace Microkernel.Plugins.Behavior.Monitor;

/// <summary>
/// Turns BSON values into report values the way Cuckoo's converters do: straight into a
/// <see cref="Utf8JsonWriter"/> on the hot path, or into a <see cref="JsonNode"/> where a
/// handler has to look at or rewrite the value.
/// </summary>
internal static class ArgValues
{
    /// <summary>Writes an argument after its converter.</summary>
    public static void WriteConverted(
        Utf8JsonWriter writer,
        ReadOnlySpan<byte> doc,
        BsonValue value,
        ArgConverter converter
    )
    {
        if (value.IsInteger)
        {
            var number = value.GetInt64(doc);
            switch (converter)
            {
                case ArgConverter.Hex32:
                    WriteHex(writer, (uint)number, 8);
                    return;
                case ArgConverter.Hex64:
                    WriteHex(writer, (ulong)number, 16);
                    return;
                case ArgConverter.Default32 when value.Type == BsonType.Boolean:
                    writer.WriteBooleanValue(number != 0);
                    return;
                case ArgConverter.Default32:
                    writer.WriteNumberValue(number < 0 ? (uint)number : number);
                    return;
                default:
                    if (value.Type == BsonType.Boolean)
                    {
                        writer.WriteBooleanValue(number != 0);
                    }
                    else
                    {
                        writer.WriteNumberValue(number);
                    }
                    return;
            }
        }
        WriteRaw(writer, doc, value);
    }

    /// <summary>
    /// Bytes that <see cref="Utf8JsonWriter"/> with <see cref="BehaviorJson.WriterOptions"/> writes
    /// into a string as they are (printable ASCII) or with a backslash before them (the quote and
    /// the backslash itself). Anything else takes the writer.
    /// </summary>
    private static readonly SearchValues<byte> PlainText = SearchValues.Create(
        "\u0020!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~"u8
    );

    private static readonly SearchValues<byte> QuoteOrBackslash = SearchValues.Create("\"\\"u8);

    /// <summary>
    /// Appends the JSON text of a converted argument for the common cases (integers, hex, plain
    /// ASCII text), byte for byte what <see cref="WriteConverted"/> would write, without a
    /// <see cref="Utf8JsonWriter"/>. False (nothing appended) for anything else.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TryAppendConverted(
        Utf8Buffer output,
        ReadOnlySpan<byte> doc,
        BsonValue value,
        ArgConverter converter
    )
    {
        if (value.IsInteger)
        {
            var number = value.GetInt64(doc);
            switch (converter)
            {
                case ArgConverter.Hex32:
                    AppendHex(output, (uint)number, 8);
                    return true;
                case ArgConverter.Hex64:
                    AppendHex(output, (ulong)number, 16);
                    return true;
                case ArgConverter.Default32 when value.Type == BsonType.Boolean:
                case ArgConverter.Default64 when value.Type == BsonType.Boolean:
                    Append(output, number != 0 ? "true"u8 : "false"u8);
                    return true;
                case ArgConverter.Default32 when number < 0:
                    AppendNumber(output, (uint)number);
                    return true;
                default:
                    AppendNumber(output, number);
                    return true;
            }
        }
        ReadOnlySpan<byte> text;
        if (value.Type == BsonType.String)
        {
            text = value.GetStringBytes(doc);
        }
        else if (value.Type == BsonType.Binary)
        {
            text = value.GetBinary(doc);
        }
        else
        {
            return false;
        }
        if (text.ContainsAnyExcept(PlainText))
        {
            return false;
        }
        AppendPlainString(output, text);
        return true;
    }

    /// <summary>A JSON string of printable ASCII: quoted, with \" and \\ escaped as the writer does.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AppendPlainString(Utf8Buffer output, ReadOnlySpan<byte> text)
    {
        var next = text.IndexOfAny(QuoteOrBackslash);
        if (next < 0)
        {
            var plain = output.GetSpan(text.Length + 2);
            plain[0] = (byte)'"';
            text.CopyTo(plain[1..]);
            plain[text.Length + 1] = (byte)'"';
            output.Advance(text.Length + 2);
            return;
        }
        // Windows paths and registry keys: a backslash every few bytes. Room for the worst case
        // (every byte escaped), then the runs between escapes are copied whole.
        var span = output.GetSpan(text.Length * 2 + 2);
        span[0] = (byte)'"';
        var at = 1;
        while (true)
        {
            text[..next].CopyTo(span[at..]);
            at += next;
            span[at++] = (byte)'\\';
            span[at++] = text[next];
            text = text[(next + 1)..];
            next = text.IndexOfAny(QuoteOrBackslash);
            if (next < 0)
            {
                break;
            }
        }
        text.CopyTo(span[at..]);
        at += text.Length;
        span[at++] = (byte)'"';
        output.Advance(at);
    }

    private static void Append(Utf8Buffer output, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(output.GetSpan(bytes.Length));
        output.Advance(bytes.Length);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AppendNumber(Utf8Buffer output, long number)
    {
        number.TryFormat(
            output.GetSpan(20),
            out var written,
            default,
            CultureInfo.InvariantCulture
        );
        output.Advance(written);
    }

    /// <summary><c>"0x"</c> and exactly <paramref name="digits"/> lower-case hex digits, quoted.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AppendHex(Utf8Buffer output, ulong number, int digits)
    {
        // The callers pass values that fit (uint for 8 digits), so "x8"/"x16" would print exactly
        // this many digits too; the table loop avoids the general formatter's format parsing.
        var span = output.GetSpan(digits + 4)[..(digits + 4)];
        span[0] = (byte)'"';
        span[1] = (byte)'0';
        span[2] = (byte)'x';
        for (var i = digits + 2; i >= 3; i--)
        {
            span[i] = (byte)"0123456789abcdef"[(int)(number & 0xF)];
            number >>= 4;
        }
        span[^1] = (byte)'"';
        output.Advance(digits + 4);
    }

    /// <summary>Writes a value without conversion (nested values, <c>T</c>, <c>e</c>, <c>E</c>, <c>s</c>).</summary>
    public static void WriteRaw(Utf8JsonWriter writer, ReadOnlySpan<byte> doc, BsonValue value)
    {
        switch (value.Type)
        {
            case BsonType.Int32:
            case BsonType.Int64:
                writer.WriteNumberValue(value.GetInt64(doc));
                break;
            case BsonType.Boolean:
                writer.WriteBooleanValue(doc[value.Offset] != 0);
                break;
            case BsonType.Double:
                WriteDouble(writer, value.GetDouble(doc));
                break;
            case BsonType.String:
                WriteUtf8String(writer, value.GetStringBytes(doc));
                break;
            case BsonType.Binary:
                WriteLatin1String(writer, value.GetBinary(doc));
                break;
            case BsonType.Document:
                writer.WriteStartObject();
                var fields = new BsonElementEnumerator(doc, value.Offset);
                while (fields.MoveNext())
                {
                    WritePropertyName(writer, fields.Name);
                    WriteRaw(writer, doc, fields.Value);
                }
                writer.WriteEndObject();
                break;
            case BsonType.Array:
                writer.WriteStartArray();
                var items = new BsonElementEnumerator(doc, value.Offset);
                while (items.MoveNext())
                {
                    WriteRaw(writer, doc, items.Value);
                }
                writer.WriteEndArray();
                break;
            case BsonType.DateTime:
                WriteDouble(
                    writer,
                    BinaryPrimitives.ReadInt64LittleEndian(doc[value.Offset..]) / 1000.0
                );
                break;
            case BsonType.ObjectId:
                writer.WriteStringValue(Convert.ToHexStringLower(doc.Slice(value.Offset, 12)));
                break;
            default:
                writer.WriteNullValue();
                break;
        }
    }

    public static void WriteDouble(Utf8JsonWriter writer, double number)
    {
        if (double.IsFinite(number))
        {
            writer.WriteNumberValue(number);
        }
        else
        {
            // JSON has no NaN/Infinity literals; keep Python's spelling as text.
            writer.WriteStringValue(
                double.IsNaN(number) ? "NaN"
                : number > 0 ? "Infinity"
                : "-Infinity"
            );
        }
    }

    public static void WriteHex(Utf8JsonWriter writer, ulong number, int digits)
    {
        Span<byte> text = stackalloc byte[18];
        text[0] = (byte)'0';
        text[1] = (byte)'x';
        number.TryFormat(text[2..], out var written, digits == 8 ? "x8" : "x16");
        writer.WriteStringValue(text[..(2 + written)]);
    }

    public static string FormatHex(ulong number, int digits) =>
        "0x" + number.ToString(digits == 8 ? "x8" : "x16", null);

    public static void WritePropertyName(Utf8JsonWriter writer, ReadOnlySpan<byte> utf8)
    {
        if (Utf8.IsValid(utf8))
        {
            writer.WritePropertyName(utf8);
        }
        else
        {
            writer.WritePropertyName(Encoding.UTF8.GetString(utf8));
        }
    }

    public static void WriteUtf8String(Utf8JsonWriter writer, ReadOnlySpan<byte> utf8)
    {
        if (Utf8.IsValid(utf8))
        {
            writer.WriteStringValue(utf8);
        }
        else
        {
            // pymongo would refuse the document; keep the value with U+FFFD replacements instead.
            writer.WriteStringValue(Encoding.UTF8.GetString(utf8));
        }
    }

    /// <summary>Binary values are bytes; Cuckoo shows them as latin-1 text (one character per byte).</summary>
    public static void WriteLatin1String(Utf8JsonWriter writer, ReadOnlySpan<byte> bytes)
    {
        if (!bytes.ContainsAnyInRange((byte)0x80, (byte)0xFF))
        {
            writer.WriteStringValue(bytes); // ASCII is valid UTF-8 as it stands
            return;
        }
        var chars = ArrayPool<char>.Shared.Rent(bytes.Length);
        try
        {
            var count = Encoding.Latin1.GetChars(bytes, chars);
            writer.WriteStringValue(chars.AsSpan(0, count));
        }
        finally
        {
            ArrayPool<char>.Shared.Return(chars);
        }
    }

    /// <summary>The converted argument as a node (null for BSON null).</summary>
    public static JsonNode? ToConvertedNode(
        ReadOnlySpan<byte> doc,
        BsonValue value,
        ArgConverter converter
    )
    {
        if (value.IsInteger)
        {
            var number = value.GetInt64(doc);
            return converter switch
            {
                ArgConverter.Hex32 => JsonValue.Create(FormatHex((uint)number, 8)),
                ArgConverter.Hex64 => JsonValue.Create(FormatHex((ulong)number, 16)),
                _ when value.Type == BsonType.Boolean => JsonValue.Create(number != 0),
                ArgConverter.Default32 => JsonValue.Create(number < 0 ? (uint)number : number),
                _ => JsonValue.Create(number),
            };
        }
        return ToRawNode(doc, value);
    }

    public static JsonNode? ToRawNode(ReadOnlySpan<byte> doc, BsonValue value)
    {
        switch (value.Type)
        {
            case BsonType.Int32:
            case BsonType.Int64:
                return JsonValue.Create(value.GetInt64(doc));
            case BsonType.Boolean:
                return JsonValue.Create(doc[value.Offset] != 0);
            case BsonType.Double:
                var number = value.GetDouble(doc);
                return double.IsFinite(number)
                    ? JsonValue.Create(number)
                    : JsonValue.Create(
                        double.IsNaN(number) ? "NaN"
                        : number > 0 ? "Infinity"
                        : "-Infinity"
                    );
            case BsonType.String:
                return JsonValue.Create(Encoding.UTF8.GetString(value.GetStringBytes(doc)));
            case BsonType.Binary:
                return JsonValue.Create(Encoding.Latin1.GetString(value.GetBinary(doc)));
            case BsonType.Document:
                var obj = new JsonObject();
                var fields = new BsonElementEnumerator(doc, value.Offset);
                while (fields.MoveNext())
                {
                    obj[Encoding.UTF8.GetString(fields.Name)] = ToRawNode(doc, fields.Value);
                }
                return obj;
            case BsonType.Array:
                var array = new JsonArray();
                var items = new BsonElementEnumerator(doc, value.Offset);
                while (items.MoveNext())
                {
                    array.Add(ToRawNode(doc, items.Value));
                }
                return array;
            case BsonType.DateTime:
                return JsonValue.Create(
                    BinaryPrimitives.ReadInt64LittleEndian(doc[value.Offset..]) / 1000.0
                );
            case BsonType.ObjectId:
                return JsonValue.Create(Convert.ToHexStringLower(doc.Slice(value.Offset, 12)));
            default:
                return null;
        }
    }

    /// <summary>
    /// The number a flag table is matched against: Cuckoo parses converted hex strings back with
    /// int(x, 16) and uses integers as they are; anything else cannot be resolved.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TryGetFlagNumber(
        ReadOnlySpan<byte> doc,
        BsonValue value,
        ArgConverter converter,
        out Int128 number
    )
    {
        if (!value.IsInteger)
        {
            number = 0;
            return false;
        }
        var raw = value.GetInt64(doc);
        number = converter switch
        {
            ArgConverter.Hex32 => (uint)raw,
            ArgConverter.Hex64 => (ulong)raw,
            ArgConverter.Default32 => raw < 0 ? (uint)raw : raw,
            _ => raw,
        };
        return true;
    }

    /// <summary>The text of a string or binary value, else null.</summary>
    public static string? GetText(ReadOnlySpan<byte> doc, BsonValue value) =>
        value.Type switch
        {
            BsonType.String => Encoding.UTF8.GetString(value.GetStringBytes(doc)),
            BsonType.Binary => Encoding.Latin1.GetString(value.GetBinary(doc)),
            _ => null,
        };

    /// <summary>Python truthiness of a converted value.</summary>
    public static bool IsTruthy(JsonNode? node) =>
        node switch
        {
            null => false,
            JsonArray array => array.Count > 0,
            JsonObject obj => obj.Count > 0,
            JsonValue v when v.TryGetValue<bool>(out var b) => b,
            JsonValue v when v.TryGetValue<long>(out var l) => l != 0,
            JsonValue v when v.TryGetValue<uint>(out var u) => u != 0,
            JsonValue v when v.TryGetValue<double>(out var d) => d != 0,
            JsonValue v when v.TryGetValue<string>(out var s) => s.Length > 0,
            _ => true,
        };

    /// <summary>Compact JSON text of a node: the identity of a summary value (Python set semantics).</summary>
    public static string ToJsonText(JsonNode? node)
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        using (var writer = new Utf8JsonWriter(buffer, BehaviorJson.WriterOptions))
        {
            if (node is null)
            {
                writer.WriteNullValue();
            }
            else
            {
                node.WriteTo(writer);
            }
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
