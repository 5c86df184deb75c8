using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microkernel.Plugins.Behavior.Monitor;

namespace Microkernel.Plugins.Behavior.Output;

/// <summary>
/// Writes the calls of one process as the items of <c>processes[].calls</c>, straight from the
/// parser's current BSON document into JSON bytes (<see cref="JsonFragments"/>), which the caller
/// copies to the section stream in large blocks. The few APIs that C2's MonitorProcessLog
/// rewrites (services, VBA, PDF, exceptions) take a slower path through nodes.
/// </summary>
internal sealed partial class CallWriter(MonitorProcess process, Utf8Buffer output)
{
    private static ReadOnlySpan<byte> TidName => "{\"tid\":"u8;
    private static ReadOnlySpan<byte> TimeName => ",\"time\":"u8;
    private static ReadOnlySpan<byte> ApiName => ",\"api\":"u8;
    private static ReadOnlySpan<byte> CategoryName => ",\"category\":"u8;
    private static ReadOnlySpan<byte> StatusName => ",\"status\":"u8;
    private static ReadOnlySpan<byte> ReturnValueName => ",\"return_value\":"u8;
    private static ReadOnlySpan<byte> ArgumentsName => ",\"arguments\":"u8;
    private static ReadOnlySpan<byte> FlagsName => ",\"flags\":"u8;
    private static ReadOnlySpan<byte> StackTraceName => ",\"stacktrace\":"u8;
    private static ReadOnlySpan<byte> LastErrorName => ",\"last_error\":"u8;
    private static ReadOnlySpan<byte> NtStatusName => ",\"nt_status\":"u8;
    private static ReadOnlySpan<byte> BufferName => ",\"buffer\":"u8;
    private static ReadOnlySpan<byte> RawName => ",\"raw\":"u8;

    private readonly JsonFragments _json = new(output);
    private long _lastMilliseconds = long.MinValue;
    private readonly byte[] _lastTime = new byte[32]; // "R" of a double: at most 24 bytes
    private int _lastTimeLength;
    private bool _first = true;
    private readonly Dictionary<string, JsonNode?> _services = new(StringComparer.Ordinal);
    private readonly Dictionary<string, JsonNode?> _vbe6Objects = new(StringComparer.Ordinal);
    private readonly Dictionary<string, JsonNode?> _vbe6Functions = new(StringComparer.Ordinal);

    [GeneratedRegex("%u([0-9a-fA-F]{4})")]
    private static partial Regex UnicodeEscape();

    [GeneratedRegex("%([0-9a-fA-F]{2})")]
    private static partial Regex ByteEscape();

    /// <summary>JSON bytes written so far and not yet taken by <see cref="CopyTo"/>.</summary>
    public int PendingBytes => _json.Output.WrittenCount;

    /// <summary>
    /// Moves the pending JSON bytes to <paramref name="output"/> (a <see cref="PipelinedFileStream"/>
    /// takes the whole buffer and gives back an empty one).
    /// </summary>
    public void CopyTo(Stream output)
    {
        if (_json.Output.WrittenCount == 0)
        {
            return;
        }
        if (output is PipelinedFileStream pipelined)
        {
            _json.Output.HandOver(pipelined.Exchange);
            return;
        }
        output.Write(_json.Output.WrittenSpan);
        _json.Output.Clear();
    }

    /// <summary>Appends the parser's current call as the next item of the calls array.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Write(MonitorLogParser parser)
    {
        var info = parser.Info;
        if (info.HasCallModifier)
        {
            WriteModified(parser);
            return;
        }
        WriteHeader(parser);
        var json = _json;
        json.Literal(ArgumentsName);
        var doc = parser.Document;
        var args = parser.Args;
        var specs = info.Args;
        var shown = info.CallArguments;
        if (shown.Length == 0)
        {
            json.Byte((byte)'{');
        }
        foreach (var (index, prefix) in shown)
        {
            json.Literal(prefix);
            json.Converted(doc, args[index], specs[index].Converter);
        }
        json.Byte((byte)'}');
        json.Literal(FlagsName);
        FlagResolver.AppendFlags(json, parser, extraThis: null);
        WriteTrailer(parser, raw: null);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void WriteHeader(MonitorLogParser parser)
    {
        var info = parser.Info;
        var doc = parser.Document;
        var json = _json;
        if (!_first)
        {
            json.Byte((byte)',');
        }
        _first = false;
        json.Literal(TidName);
        if (parser.Tid.Exists)
        {
            json.Raw(doc, parser.Tid);
        }
        else
        {
            json.Byte((byte)'0');
        }
        if (parser.TimeMilliseconds != _lastMilliseconds)
        {
            // Calls come in bursts with the same millisecond: format each time once.
            _lastMilliseconds = parser.TimeMilliseconds;
            _lastTimeLength = process
                .FirstSeen.AddMilliseconds(_lastMilliseconds)
                .FormatEpochUtf8(_lastTime);
        }
        json.Literal(TimeName);
        json.Literal(_lastTime.AsSpan(0, _lastTimeLength));
        json.Literal(ApiName);
        json.String(info.JsonName);
        json.Literal(CategoryName);
        if (info.JsonCategory is { } category)
        {
            json.String(category);
        }
        else
        {
            json.Literal("null"u8);
        }
        json.Literal(StatusName);
        if (info.IsSuccessIndex >= 0)
        {
            json.Converted(
                doc,
                parser.Args[info.IsSuccessIndex],
                info.Args[info.IsSuccessIndex].Converter
            );
        }
        else
        {
            json.Byte((byte)'1');
        }
        json.Literal(ReturnValueName);
        if (info.RetvalIndex >= 0)
        {
            json.Converted(
                doc,
                parser.Args[info.RetvalIndex],
                info.Args[info.RetvalIndex].Converter
            );
        }
        else
        {
            json.Byte((byte)'0');
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void WriteTrailer(MonitorLogParser parser, string[]? raw)
    {
        var doc = parser.Document;
        var json = _json;
        json.Literal(StackTraceName);
        if (parser.Stack.Exists)
        {
            json.Raw(doc, parser.Stack);
        }
        else
        {
            json.Literal("[]"u8);
        }
        if (parser.LastError.Exists)
        {
            json.Literal(LastErrorName);
            json.Raw(doc, parser.LastError);
            json.Literal(NtStatusName);
            json.Raw(doc, parser.NtStatus);
        }
        if (parser.BufferSha1 is { } sha1)
        {
            json.Literal(BufferName);
            json.String(sha1);
        }
        if (raw is not null)
        {
            json.Literal(RawName);
            json.Byte((byte)'[');
            for (var i = 0; i < raw.Length; i++)
            {
                if (i > 0)
                {
                    json.Byte((byte)',');
                }
                json.String(raw[i]);
            }
            json.Byte((byte)']');
        }
        json.Byte((byte)'}');
    }

    private void WriteModified(MonitorLogParser parser)
    {
        var info = parser.Info;
        var doc = parser.Document;
        var args = new JsonObject();
        for (var i = 0; i < info.Args.Length; i++)
        {
            if (i == info.IsSuccessIndex || i == info.RetvalIndex || info.Shadowed[i])
            {
                continue;
            }
            args[info.Args[i].Name] = ArgValues.ToConvertedNode(
                doc,
                parser.Args[i],
                info.Args[i].Converter
            );
        }
        var returnValue =
            info.RetvalIndex >= 0
                ? ArgValues.ToConvertedNode(
                    doc,
                    parser.Args[info.RetvalIndex],
                    info.Args[info.RetvalIndex].Converter
                )
                : JsonValue.Create(0);

        string[]? raw = null;
        JsonNode? extraThis = null;
        switch (info.Name)
        {
            case "COleScript_Compile":
            case "pdf_eval":
                raw = ["script"]; // C2 also runs jsbeautifier when installed; the text stays as logged
                break;
            case "CWindow_AddTimeoutCode":
                raw = ["code"];
                break;
            case "CElement_put_innerHTML":
                raw = ["html"];
                break;
            case "CDocument_write":
                raw = ["lines"];
                break;
            case "CIFrameElement_CreateElement":
                if (args["attributes"] is JsonObject attributes)
                {
                    var lowered = new JsonObject();
                    foreach (var (key, value) in attributes.ToList())
                    {
                        attributes.Remove(key);
                        lowered[key.ToLowerInvariant()] = value;
                    }
                    args["attributes"] = lowered;
                }
                break;
            case "OpenServiceA":
            case "OpenServiceW":
            case "CreateServiceA":
            case "CreateServiceW":
                if (returnValue is JsonValue rv && rv.TryGetValue<long>(out var handle))
                {
                    _services[
                        ArgValues.ToJsonText(
                            JsonValue.Create(ArgValues.FormatHex((ulong)handle, 8))
                        )
                    ] = args["service_name"]?.DeepClone();
                }
                break;
            case "StartServiceA":
            case "StartServiceW":
            case "ControlService":
            case "DeleteService":
                args["service_name"] = _services
                    .GetValueOrDefault(ArgValues.ToJsonText(args["service_handle"]))
                    ?.DeepClone();
                break;
            case "vbe6_CreateObject":
            case "vbe6_GetObject":
                _vbe6Objects[ArgValues.ToJsonText(args["this"])] = args["object_name"]?.DeepClone();
                break;
            case "vbe6_Import":
                if (
                    args["library"] is JsonValue library
                    && library.TryGetValue<string>(out var libraryName)
                    && libraryName == "VBE6.DLL"
                    && !ArgValues.IsTruthy(args["function"])
                )
                {
                    return;
                }
                break;
            case "vbe6_GetIDFromName":
                var owner = _vbe6Objects.TryGetValue(
                    ArgValues.ToJsonText(args["this"]),
                    out var known
                )
                    ? known
                    : args["this"];
                _vbe6Functions[
                    ArgValues.ToJsonText(owner) + "\0" + ArgValues.ToJsonText(args["funcidx"])
                ] = args["funcname"]?.DeepClone();
                return;
            case "vbe6_CallByName":
                return;
            case "vbe6_Invoke":
                var thisKey = ArgValues.ToJsonText(args["this"]);
                var hasClass = _vbe6Objects.TryGetValue(thisKey, out var className);
                if (hasClass)
                {
                    extraThis = className?.DeepClone();
                }
                var cls = hasClass ? className : args["this"];
                if (
                    ArgValues.IsTruthy(cls)
                    && _vbe6Functions.TryGetValue(
                        ArgValues.ToJsonText(cls) + "\0" + ArgValues.ToJsonText(args["funcidx"]),
                        out var functionName
                    )
                )
                {
                    args["funcname"] = functionName?.DeepClone();
                }
                args.Remove("funcidx");
                break;
            case "pdf_unescape":
                raw = ["string", "unescaped"];
                if (
                    args["string"] is JsonValue escaped
                    && escaped.TryGetValue<string>(out var text)
                )
                {
                    var unescaped = UnicodeEscape()
                        .Replace(
                            text,
                            m =>
                            {
                                var code = int.Parse(
                                    m.Groups[1].Value,
                                    NumberStyles.HexNumber,
                                    CultureInfo.InvariantCulture
                                );
                                return new string([(char)(code & 0xFF), (char)(code >> 8)]);
                            }
                        );
                    unescaped = ByteEscape()
                        .Replace(
                            unescaped,
                            m =>
                                (
                                    (char)
                                        int.Parse(
                                            m.Groups[1].Value,
                                            NumberStyles.HexNumber,
                                            CultureInfo.InvariantCulture
                                        )
                                ).ToString()
                        );
                    args["unescaped"] = unescaped;
                }
                break;
            case "__exception__":
                AttributeException(args);
                break;
        }

        WriteHeader(parser);
        _json.Literal(ArgumentsName);
        _json.Node(args);
        _json.Literal(FlagsName);
        FlagResolver.AppendFlags(_json, parser, extraThis);
        WriteTrailer(parser, raw);
    }

    /// <summary>Names the module an exception address falls in, from the process's module list.</summary>
    private void AttributeException(JsonObject args)
    {
        if (
            args["exception"] is not JsonObject exception
            || exception["address"] is not JsonValue addressValue
            || !addressValue.TryGetValue<string>(out var addressText)
            || !TryParseHex(addressText, out var address)
            || process.Modules is not JsonArray modules
        )
        {
            return;
        }
        foreach (var module in modules)
        {
            if (
                module is JsonObject m
                && m["imgsize"] is JsonValue sizeValue
                && sizeValue.TryGetValue<long>(out var size)
                && m["baseaddr"] is JsonValue baseValue
                && baseValue.TryGetValue<string>(out var baseText)
                && TryParseHex(baseText, out var baseAddress)
                && address >= baseAddress
                && address < baseAddress + size
            )
            {
                exception["module"] = m["basename"]?.DeepClone();
                exception["offset"] = (long)(address - baseAddress);
            }
        }
    }

    private static bool TryParseHex(string text, out Int128 value)
    {
        var digits = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? text[2..] : text;
        return Int128.TryParse(
            digits,
            NumberStyles.HexNumber,
            CultureInfo.InvariantCulture,
            out value
        );
    }
}
