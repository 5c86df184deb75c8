using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Microkernel.Plugins.Memory.Volatility;

/// <summary>
/// Tolerant readers for Volatility 3 JSON cells. The JSON renderer writes hex-hinted columns as
/// numbers, absent/unreadable values as <c>null</c> and datetimes as ISO 8601 text; older or
/// customised renderers may quote numbers, so both forms are accepted.
/// </summary>
internal static class Columns
{
    public static bool TryGet(JsonElement row, string column, out JsonElement value)
    {
        if (
            row.ValueKind == JsonValueKind.Object
            && row.TryGetProperty(column, out value)
            && value.ValueKind != JsonValueKind.Null
        )
        {
            return true;
        }
        value = default;
        return false;
    }

    /// <summary>Column names as UTF-8, so lookups skip transcoding on every row.</summary>
    public static byte[][] Utf8(string[] columns) =>
        [.. columns.Select(c => System.Text.Encoding.UTF8.GetBytes(c))];

    /// <summary>The first of <paramref name="columns"/> (UTF-8) that the row has and that is not null.</summary>
    public static bool TryGetAny(JsonElement row, out JsonElement value, byte[][] columns)
    {
        if (row.ValueKind == JsonValueKind.Object)
        {
            foreach (var column in columns)
            {
                if (row.TryGetProperty(column, out value) && value.ValueKind != JsonValueKind.Null)
                {
                    return true;
                }
            }
        }
        value = default;
        return false;
    }

    /// <summary>The first of <paramref name="columns"/> that the row has and that is not null.</summary>
    public static bool TryGetAny(JsonElement row, out JsonElement value, params string[] columns)
    {
        foreach (var column in columns)
        {
            if (TryGet(row, column, out value))
            {
                return true;
            }
        }
        value = default;
        return false;
    }

    public static long? Integer(JsonElement row, params string[] columns) =>
        TryGetAny(row, out var value, columns) ? Integer(value) : null;

    public static long? Integer(JsonElement row, byte[][] columns) =>
        TryGetAny(row, out var value, columns) ? Integer(value) : null;

    public static long? Integer(JsonElement value)
    {
        return value.ValueKind switch
        {
            JsonValueKind.Number when value.TryGetInt64(out var n) => n,
            JsonValueKind.Number when value.TryGetDouble(out var d) => (long)d,
            JsonValueKind.String => ParseInteger(value.GetString()),
            JsonValueKind.True => 1,
            JsonValueKind.False => 0,
            _ => null,
        };
    }

    public static string? Text(JsonElement row, params string[] columns) =>
        TryGetAny(row, out var value, columns) ? Text(value) : null;

    public static string? Text(JsonElement value)
    {
        return value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            // Python's str() of a bool, as Cuckoo's str(...) calls produced.
            JsonValueKind.True => "True",
            JsonValueKind.False => "False",
            JsonValueKind.Number => value.GetRawText(),
            _ => value.GetRawText(),
        };
    }

    public static bool? Boolean(JsonElement row, byte[][] columns) =>
        TryGetAny(row, out var value, columns) ? Boolean(value) : null;

    public static bool? Boolean(JsonElement value)
    {
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.Number => value.TryGetInt64(out var n) && n != 0,
            JsonValueKind.String => bool.TryParse(value.GetString(), out var b) && b,
            _ => null,
        };
    }

    /// <summary>Python's <c>"{0:#x}"</c>, or <c>"0x%0Nx"</c> with <paramref name="digits"/>.</summary>
    public static string? Hex(JsonElement row, int digits, params string[] columns) =>
        TryGetAny(row, out var value, columns) ? Hex(value, digits) : null;

    public static string? Hex(JsonElement row, int digits, byte[][] columns) =>
        TryGetAny(row, out var value, columns) ? Hex(value, digits) : null;

    public static string? Hex(JsonElement value, int digits)
    {
        if (value.ValueKind == JsonValueKind.String)
        {
            var text = value.GetString();
            var parsed = ParseInteger(text);
            return parsed is null ? text : FormatHex(parsed.Value, digits);
        }
        if (value.ValueKind == JsonValueKind.Number)
        {
            if (value.TryGetInt64(out var n))
            {
                return FormatHex(n, digits);
            }
            if (value.TryGetUInt64(out var u))
            {
                return "0x"
                    + u.ToString(
                        "x" + digits.ToString(CultureInfo.InvariantCulture),
                        CultureInfo.InvariantCulture
                    );
            }
        }
        return value.GetRawText();
    }

    /// <summary>
    /// Volatility 2's time text (<c>2016-08-25 22:44:59 UTC+0000</c>), which Cuckoo stored via
    /// <c>str()</c>; Volatility 3 writes ISO 8601. Unparsable text is kept as it is.
    /// </summary>
    public static string? Time(JsonElement row, byte[][] columns)
    {
        if (!TryGetAny(row, out var value, columns))
        {
            return null;
        }
        // The renderer's isoformat() is what the fast ISO 8601 path reads.
        if (value.ValueKind == JsonValueKind.String && value.TryGetDateTimeOffset(out var iso))
        {
            return iso.ToUniversalTime()
                .ToString("yyyy-MM-dd HH:mm:ss 'UTC+0000'", CultureInfo.InvariantCulture);
        }
        var text = Text(value);
        if (text is null)
        {
            return null;
        }
        return DateTimeOffset.TryParse(
            text,
            CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal,
            out var time
        )
            ? time.ToUniversalTime()
                .ToString("yyyy-MM-dd HH:mm:ss 'UTC+0000'", CultureInfo.InvariantCulture)
            : text;
    }

    /// <summary>Writes <see cref="Time(JsonElement, byte[][])"/>'s text without allocating for ISO 8601 input.</summary>
    public static void WriteTime(Utf8JsonWriter writer, JsonEncodedText name, JsonElement value)
    {
        if (value.ValueKind == JsonValueKind.String && value.TryGetDateTimeOffset(out var iso))
        {
            WriteIsoTime(writer, name, iso);
            return;
        }
        writer.WriteString(name, Text(value) is { } raw ? Time(raw) : "");
    }

    // The same conversions over a reader cell (the hot path, no document): a reader over the
    // cell's bytes does the number, unescaping and ISO 8601 work.

    /// <summary>A number cell that is a plain integer (nearly every numeric cell), parsed straight from its bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool TryPlainInteger(Cell cell, out long value)
    {
        value = 0;
        return cell.Kind == JsonTokenType.Number
            && System.Buffers.Text.Utf8Parser.TryParse(cell.Raw.Span, out value, out var used)
            && used == cell.Raw.Length;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static long? Integer(Cell cell)
    {
        if (TryPlainInteger(cell, out var plain))
        {
            return plain;
        }
        var reader = cell.Reader();
        return cell.Kind switch
        {
            JsonTokenType.Number when reader.TryGetInt64(out var n) => n,
            JsonTokenType.Number when reader.TryGetDouble(out var d) => (long)d,
            JsonTokenType.String => ParseInteger(reader.GetString()),
            JsonTokenType.True => 1,
            JsonTokenType.False => 0,
            _ => null,
        };
    }

    public static string? Text(Cell cell) =>
        cell.Kind switch
        {
            JsonTokenType.String => cell.GetString(),
            JsonTokenType.True => "True",
            JsonTokenType.False => "False",
            _ => System.Text.Encoding.UTF8.GetString(cell.Raw.Span),
        };

    public static bool? Boolean(Cell cell)
    {
        var reader = cell.Reader();
        return cell.Kind switch
        {
            JsonTokenType.True => true,
            JsonTokenType.False => false,
            JsonTokenType.Number => reader.TryGetInt64(out var n) && n != 0,
            JsonTokenType.String => bool.TryParse(reader.GetString(), out var b) && b,
            _ => null,
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static string? Hex(Cell cell, int digits)
    {
        if (TryPlainInteger(cell, out var plain))
        {
            return FormatHex(plain, digits);
        }
        var reader = cell.Reader();
        if (cell.Kind == JsonTokenType.String)
        {
            var text = reader.GetString();
            var parsed = ParseInteger(text);
            return parsed is null ? text : FormatHex(parsed.Value, digits);
        }
        if (cell.Kind == JsonTokenType.Number)
        {
            if (reader.TryGetInt64(out var n))
            {
                return FormatHex(n, digits);
            }
            if (reader.TryGetUInt64(out var u))
            {
                return "0x"
                    + u.ToString(
                        "x" + digits.ToString(CultureInfo.InvariantCulture),
                        CultureInfo.InvariantCulture
                    );
            }
        }
        return System.Text.Encoding.UTF8.GetString(cell.Raw.Span);
    }

    /// <summary>
    /// Writes a plain integer cell as <see cref="Hex(Cell, int)"/> would format it, without the
    /// three strings that takes (hex columns are addresses: one per row in most plugins).
    /// </summary>
    /// <param name="format">"x" and the minimum number of digits, e.g. "x8".</param>
    /// <returns>False, having written nothing, when the cell is not a plain integer.</returns>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TryWritePlainHex(
        Utf8JsonWriter writer,
        JsonEncodedText name,
        Cell cell,
        string format
    )
    {
        if (!TryPlainInteger(cell, out var value))
        {
            return false;
        }
        Span<byte> text = stackalloc byte[3 + 64];
        var prefix = value < 0 ? "-0x"u8 : "0x"u8;
        prefix.CopyTo(text);
        // As FormatHex: the magnitude's digits (long.MinValue keeps its two's complement form).
        var magnitude = value < 0 ? -value : value;
        if (
            !magnitude.TryFormat(
                text[prefix.Length..],
                out var written,
                format,
                CultureInfo.InvariantCulture
            )
        )
        {
            return false;
        }
        writer.WriteString(name, text[..(prefix.Length + written)]);
        return true;
    }

    /// <summary>As <see cref="WriteTime(Utf8JsonWriter, JsonEncodedText, JsonElement)"/>, for a reader cell.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void WriteTime(Utf8JsonWriter writer, JsonEncodedText name, Cell cell)
    {
        var reader = cell.Reader();
        if (cell.Kind == JsonTokenType.String && reader.TryGetDateTimeOffset(out var iso))
        {
            WriteIsoTime(writer, name, iso);
            return;
        }
        writer.WriteString(name, Text(cell) is { } raw ? Time(raw) : "");
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WriteIsoTime(
        Utf8JsonWriter writer,
        JsonEncodedText name,
        DateTimeOffset iso
    )
    {
        var utc = iso.UtcDateTime;
        Span<byte> text = stackalloc byte[28];
        Digits(text[..4], utc.Year);
        text[4] = (byte)'-';
        Digits(text.Slice(5, 2), utc.Month);
        text[7] = (byte)'-';
        Digits(text.Slice(8, 2), utc.Day);
        text[10] = (byte)' ';
        Digits(text.Slice(11, 2), utc.Hour);
        text[13] = (byte)':';
        Digits(text.Slice(14, 2), utc.Minute);
        text[16] = (byte)':';
        Digits(text.Slice(17, 2), utc.Second);
        " UTC+0000"u8.CopyTo(text[19..]);
        writer.WriteString(name, text);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Digits(Span<byte> target, int value)
    {
        for (var i = target.Length - 1; i >= 0; i--)
        {
            target[i] = (byte)('0' + (value % 10));
            value /= 10;
        }
    }

    private static string Time(string text) =>
        DateTimeOffset.TryParse(
            text,
            CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal,
            out var time
        )
            ? time.ToUniversalTime()
                .ToString("yyyy-MM-dd HH:mm:ss 'UTC+0000'", CultureInfo.InvariantCulture)
            : text;

    private static string FormatHex(long value, int digits) =>
        value < 0
            ? "-0x"
                + (-value).ToString(
                    "x" + digits.ToString(CultureInfo.InvariantCulture),
                    CultureInfo.InvariantCulture
                )
            : "0x"
                + value.ToString(
                    "x" + digits.ToString(CultureInfo.InvariantCulture),
                    CultureInfo.InvariantCulture
                );

    private static long? ParseInteger(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }
        text = text.Trim();
        if (text.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            return long.TryParse(
                text.AsSpan(2),
                NumberStyles.AllowHexSpecifier,
                CultureInfo.InvariantCulture,
                out var hex
            )
                ? hex
                : null;
        }
        return long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n)
            ? n
            : null;
    }
}
