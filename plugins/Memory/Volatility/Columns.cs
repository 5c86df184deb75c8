using System.Globalization;
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

    public static long? Integer(JsonElement row, params string[] columns)
    {
        if (!TryGetAny(row, out var value, columns))
        {
            return null;
        }
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

    public static string? Text(JsonElement row, params string[] columns)
    {
        if (!TryGetAny(row, out var value, columns))
        {
            return null;
        }
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

    public static bool? Boolean(JsonElement row, params string[] columns)
    {
        if (!TryGetAny(row, out var value, columns))
        {
            return null;
        }
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
    public static string? Hex(JsonElement row, int digits, params string[] columns)
    {
        if (!TryGetAny(row, out var value, columns))
        {
            return null;
        }
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
    public static string? Time(JsonElement row, params string[] columns)
    {
        var text = Text(row, columns);
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
