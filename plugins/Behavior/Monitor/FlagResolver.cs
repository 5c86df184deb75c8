using System.Text;
using System.Text.Json;

namespace Microkernel.Plugins.Behavior.Monitor;

/// <summary>
/// C2's resolve_flags: value maps first, then for arguments the value map did not name, every
/// bitmask name whose bits are all set, joined with "|" ("" when none).
/// </summary>
internal static class FlagResolver
{
    /// <summary>Writes the <c>flags</c> object of the current call.</summary>
    public static void WriteFlags(
        Utf8JsonWriter writer,
        MonitorLogParser parser,
        StringBuilder scratch,
        System.Text.Json.Nodes.JsonNode? extraThis
    )
    {
        writer.WriteStartObject();
        var info = parser.Info;
        var valueFlags = info.ValueFlags;
        if (valueFlags is not null)
        {
            var doc = parser.Document;
            var args = parser.Args;
            Span<bool> resolved = stackalloc bool[valueFlags.Length];
            for (var i = 0; i < valueFlags.Length; i++)
            {
                var flag = valueFlags[i];
                if (
                    ArgValues.TryGetFlagNumber(
                        doc,
                        args[flag.ArgIndex],
                        info.Args[flag.ArgIndex].Converter,
                        out var number
                    ) && flag.Map.TryGetValue(number, out var name)
                )
                {
                    writer.WriteString(flag.JsonName, name);
                    resolved[i] = true;
                }
            }
            foreach (var flag in info.BitmaskFlags)
            {
                if (flag.SameArgValueFlag >= 0 && resolved[flag.SameArgValueFlag])
                {
                    continue;
                }
                if (
                    !ArgValues.TryGetFlagNumber(
                        doc,
                        args[flag.ArgIndex],
                        info.Args[flag.ArgIndex].Converter,
                        out var number
                    )
                )
                {
                    continue; // C2 raises TypeError on a non-integer here
                }
                writer.WriteString(flag.JsonName, JoinMasks(flag, number, scratch));
            }
        }
        if (extraThis is not null)
        {
            writer.WritePropertyName("this");
            extraThis.WriteTo(writer);
        }
        writer.WriteEndObject();
    }

    /// <summary>The flag C2 would store for <paramref name="argName"/>, or null.</summary>
    public static string? Resolve(MonitorLogParser parser, string argName)
    {
        var info = parser.Info;
        if (info.ValueFlags is null)
        {
            return null;
        }
        var doc = parser.Document;
        var args = parser.Args;
        foreach (var flag in info.ValueFlags)
        {
            if (
                info.Args[flag.ArgIndex].Name == argName
                && ArgValues.TryGetFlagNumber(
                    doc,
                    args[flag.ArgIndex],
                    info.Args[flag.ArgIndex].Converter,
                    out var number
                )
                && flag.Map.TryGetValue(number, out var name)
            )
            {
                return name;
            }
        }
        foreach (var flag in info.BitmaskFlags)
        {
            if (
                flag.ArgName == argName
                && ArgValues.TryGetFlagNumber(
                    doc,
                    args[flag.ArgIndex],
                    info.Args[flag.ArgIndex].Converter,
                    out var number
                )
            )
            {
                return JoinMasks(flag, number, new StringBuilder());
            }
        }
        return null;
    }

    private static string JoinMasks(BitmaskFlag flag, Int128 number, StringBuilder scratch)
    {
        if (flag.Cache.TryGetValue(number, out var cached))
        {
            return cached;
        }
        var joined = Join(flag, number, scratch);
        if (flag.Cache.Count < 1024)
        {
            flag.Cache[number] = joined;
        }
        return joined;
    }

    private static string Join(BitmaskFlag flag, Int128 number, StringBuilder scratch)
    {
        scratch.Clear();
        foreach (var (mask, name) in flag.Masks)
        {
            if ((number & mask) == mask)
            {
                if (scratch.Length > 0)
                {
                    scratch.Append('|');
                }
                scratch.Append(name);
            }
        }
        return scratch.ToString();
    }
}
