using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Microkernel.Plugins.Behavior.Monitor;

/// <summary>How an argument is turned into report values (C2 netlog.py converters).</summary>
internal enum ArgConverter : byte
{
    /// <summary>32-bit default: negative integers become unsigned 32-bit, bytes become latin-1 text.</summary>
    Default32,

    /// <summary>64-bit default: integers stay signed ("MongoDB doesn't support unsigned 64-bit").</summary>
    Default64,

    /// <summary><c>"0x%08x"</c> of the value modulo 2^32 (32-bit "p", and "x" in any process).</summary>
    Hex32,

    /// <summary><c>"0x%016x"</c> of the value modulo 2^64 (64-bit "p").</summary>
    Hex64,
}

/// <summary>What the parser does with a record that uses this API index.</summary>
internal enum ApiKind : byte
{
    Call,
    Process,
    Thread,
    Action,
}

internal sealed record ArgSpec(string Name, JsonEncodedText JsonName, ArgConverter Converter);

/// <summary>A flag as C2 stores it, with its JSON string text (quoted and escaped) for the call lists.</summary>
internal sealed record FlagName(string Text, byte[] Json);

/// <summary>A value-map flag table entry resolved against an API's argument list.</summary>
internal sealed record ValueFlag(
    int ArgIndex,
    JsonEncodedText JsonName,
    Dictionary<Int128, FlagName> Map
);

/// <summary>A bitmask flag table entry resolved against an API's argument list.</summary>
internal sealed record BitmaskFlag(
    int ArgIndex,
    string ArgName,
    JsonEncodedText JsonName,
    (Int128 Mask, string Name)[] Masks,
    int SameArgValueFlag
)
{
    /// <summary>Joined names by value: flag values repeat a lot, the strings need not.</summary>
    public Dictionary<Int128, FlagName> Cache { get; } = [];
}

/// <summary>One <c>info</c> message: the API an index stands for and how to decode its arguments.</summary>
internal sealed class ApiInfo
{
    public ApiInfo(string name, string? category, ArgSpec[] args)
    {
        Name = name;
        JsonName = JsonEncodedText.Encode(name);
        Category = category;
        JsonCategory = category is null ? null : JsonEncodedText.Encode(category);
        Args = args;
        Kind = name switch
        {
            "__process__" => ApiKind.Process,
            "__thread__" => ApiKind.Thread,
            "__action__" => ApiKind.Action,
            _ => ApiKind.Call,
        };
        IndexByName = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            IndexByName[args[i].Name] = i; // a later duplicate wins, like Python's dict
        }
        Shadowed = new bool[args.Length];
        for (var i = 0; i < args.Length; i++)
        {
            Shadowed[i] = IndexByName[args[i].Name] != i;
        }
        IsSuccessIndex = IndexByName.GetValueOrDefault("is_success", -1);
        RetvalIndex = IndexByName.GetValueOrDefault("retval", -1);
        var written = new List<(int, byte[])>(args.Length);
        for (var i = 0; i < args.Length; i++)
        {
            if (i == IsSuccessIndex || i == RetvalIndex || Shadowed[i])
            {
                continue;
            }
            byte[] prefix =
            [
                .. written.Count == 0 ? "{\""u8 : ",\""u8,
                .. args[i].JsonName.EncodedUtf8Bytes,
                .. "\":"u8,
            ];
            written.Add((i, prefix));
        }
        CallArguments = [.. written];
    }

    public string Name { get; }

    public JsonEncodedText JsonName { get; }

    public string? Category { get; }

    public JsonEncodedText? JsonCategory { get; }

    public ArgSpec[] Args { get; }

    public ApiKind Kind { get; }

    public Dictionary<string, int> IndexByName { get; }

    /// <summary>Arguments hidden by a later argument of the same name.</summary>
    public bool[] Shadowed { get; }

    public int IsSuccessIndex { get; }

    /// <summary>
    /// The arguments a call list shows (not is_success, retval or shadowed ones), each with the
    /// JSON text before its value: <c>{"name":</c> for the first, <c>,"name":</c> after.
    /// </summary>
    public (int Index, byte[] Prefix)[] CallArguments { get; }

    public int RetvalIndex { get; }

    /// <summary>Value-map flags; null when the API has no flags_value table (then no flags at all).</summary>
    public ValueFlag[]? ValueFlags { get; set; }

    public BitmaskFlag[] BitmaskFlags { get; set; } = [];

    /// <summary>Summary handler for this API, looked up once.</summary>
    public Reconstruction.ApiHandler Handler { get; set; }

    /// <summary>Whether the call list needs the slow path (per-API rewrites of Cuckoo's MonitorProcessLog).</summary>
    public bool HasCallModifier { get; set; }

    /// <summary>Calls counted for apistats in the current process (see BehaviorAnalysis.ApiCounter).</summary>
    public long CallCount { get; set; }

    /// <summary>Which process <see cref="CallCount"/> belongs to.</summary>
    public int CountSegment { get; set; }

    /// <summary>Position of the argument called <paramref name="name"/>, or -1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int IndexOf(string name)
    {
        // The summary rules ask every call of an API for the same few names, each the same
        // string literal: found by reference, the name is not hashed again on every call.
        var recent = _recent;
        for (var i = 0; i < recent.Length; i++)
        {
            if (ReferenceEquals(recent[i].Name, name))
            {
                return recent[i].Index;
            }
        }
        return IndexOfUncached(name);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private int IndexOfUncached(string name)
    {
        var index = IndexByName.GetValueOrDefault(name, -1);
        _recent[_nextRecent] = (name, index);
        _nextRecent = (_nextRecent + 1) % _recent.Length;
        return index;
    }

    private readonly (string? Name, int Index)[] _recent = new (string?, int)[8];
    private int _nextRecent;
}
