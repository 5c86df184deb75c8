using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Microkernel.Plugins.Behavior.Output;

namespace Microkernel.Plugins.Behavior.Monitor;

/// <summary>
/// C2's resolve_flags: value maps first, then for arguments the value map did not name, every
/// bitmask name whose bits are all set, joined with "|" ("" when none).
/// </summary>
internal static class FlagResolver
{
    /// <summary>Appends the <c>flags</c> object of the current call.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AppendFlags(
        JsonFragments json,
        MonitorLogParser parser,
        System.Text.Json.Nodes.JsonNode? extraThis
    )
    {
        json.Byte((byte)'{');
        var separator = false;
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
                    Property(json, ref separator, flag.JsonName, name.Json);
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
                Property(json, ref separator, flag.JsonName, JoinMasks(flag, number).Json);
            }
        }
        if (extraThis is not null)
        {
            if (separator)
            {
                json.Byte((byte)',');
            }
            json.Literal("\"this\":"u8);
            json.Node(extraThis);
        }
        json.Byte((byte)'}');
    }

    private static void Property(
        JsonFragments json,
        ref bool separator,
        JsonEncodedText name,
        byte[] value
    )
    {
        if (separator)
        {
            json.Byte((byte)',');
        }
        separator = true;
        json.PropertyName(name);
        json.Literal(value);
    }

    /// <summary>The flag C2 would store for <paramref name="argName"/>, or null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
                return name.Text;
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
                return JoinMasks(flag, number).Text;
            }
        }
        return null;
    }

    private static FlagName JoinMasks(BitmaskFlag flag, Int128 number)
    {
        if (flag.Cache.TryGetValue(number, out var cached))
        {
            return cached;
        }
        var text = Join(flag, number);
        var joined = new FlagName(text, BehaviorJson.StringJson(text));
        if (flag.Cache.Count < 1024)
        {
            flag.Cache[number] = joined;
        }
        return joined;
    }

    private static string Join(BitmaskFlag flag, Int128 number)
    {
        var joined = new StringBuilder();
        foreach (var (mask, name) in flag.Masks)
        {
            if ((number & mask) == mask)
            {
                if (joined.Length > 0)
                {
                    joined.Append('|');
                }
                joined.Append(name);
            }
        }
        return joined.ToString();
    }
}
