using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microkernel.Plugins.Behavior.Monitor;

namespace Microkernel.Plugins.Behavior.Output;

/// <summary>
/// Writes the current call of a <see cref="MonitorLogParser"/> as one entry of
/// <c>processes[].calls</c>. Most calls go straight from BSON to JSON; the few APIs that C2's
/// MonitorProcessLog rewrites (services, VBA, PDF, exceptions) take a slower path through nodes.
/// </summary>
internal sealed partial class CallWriter(MonitorProcess process)
{
    private static readonly JsonEncodedText Tid = JsonEncodedText.Encode("tid");
    private static readonly JsonEncodedText Time = JsonEncodedText.Encode("time");
    private static readonly JsonEncodedText Api = JsonEncodedText.Encode("api");
    private static readonly JsonEncodedText Category = JsonEncodedText.Encode("category");
    private static readonly JsonEncodedText Status = JsonEncodedText.Encode("status");
    private static readonly JsonEncodedText ReturnValue = JsonEncodedText.Encode("return_value");
    private static readonly JsonEncodedText Arguments = JsonEncodedText.Encode("arguments");
    private static readonly JsonEncodedText Flags = JsonEncodedText.Encode("flags");
    private static readonly JsonEncodedText StackTrace = JsonEncodedText.Encode("stacktrace");
    private static readonly JsonEncodedText LastError = JsonEncodedText.Encode("last_error");
    private static readonly JsonEncodedText NtStatus = JsonEncodedText.Encode("nt_status");
    private static readonly JsonEncodedText Buffer = JsonEncodedText.Encode("buffer");
    private static readonly JsonEncodedText Raw = JsonEncodedText.Encode("raw");

    private readonly StringBuilder _scratch = new();
    private long _lastMilliseconds = long.MinValue;
    private byte[] _lastTime = [];
    private readonly Dictionary<string, JsonNode?> _services = new(StringComparer.Ordinal);
    private readonly Dictionary<string, JsonNode?> _vbe6Objects = new(StringComparer.Ordinal);
    private readonly Dictionary<string, JsonNode?> _vbe6Functions = new(StringComparer.Ordinal);

    [GeneratedRegex("%u([0-9a-fA-F]{4})")]
    private static partial Regex UnicodeEscape();

    [GeneratedRegex("%([0-9a-fA-F]{2})")]
    private static partial Regex ByteEscape();

    public void Write(Utf8JsonWriter writer, MonitorLogParser parser)
    {
        var info = parser.Info;
        if (info.HasCallModifier)
        {
            WriteModified(writer, parser);
            return;
        }
        WriteHeader(writer, parser);
        writer.WritePropertyName(Arguments);
        writer.WriteStartObject();
        var doc = parser.Document;
        var args = parser.Args;
        var specs = info.Args;
        for (var i = 0; i < specs.Length; i++)
        {
            if (i == info.IsSuccessIndex || i == info.RetvalIndex || info.Shadowed[i])
            {
                continue;
            }
            writer.WritePropertyName(specs[i].JsonName);
            ArgValues.WriteConverted(writer, doc, args[i], specs[i].Converter);
        }
        writer.WriteEndObject();
        writer.WritePropertyName(Flags);
        FlagResolver.WriteFlags(writer, parser, _scratch, extraThis: null);
        WriteTrailer(writer, parser, raw: null);
    }

    private void WriteHeader(Utf8JsonWriter writer, MonitorLogParser parser)
    {
        var info = parser.Info;
        var doc = parser.Document;
        writer.WriteStartObject();
        writer.WritePropertyName(Tid);
        if (parser.Tid.Exists)
        {
            ArgValues.WriteRaw(writer, doc, parser.Tid);
        }
        else
        {
            writer.WriteNumberValue(0);
        }
        if (parser.TimeMilliseconds != _lastMilliseconds)
        {
            // Calls come in bursts with the same millisecond: format each time once.
            _lastMilliseconds = parser.TimeMilliseconds;
            _lastTime = System.Text.Encoding.UTF8.GetBytes(
                process
                    .FirstSeen.AddMilliseconds(_lastMilliseconds)
                    .ToEpochDouble()
                    .ToString("R", System.Globalization.CultureInfo.InvariantCulture)
            );
        }
        writer.WritePropertyName(Time);
        writer.WriteRawValue(_lastTime, skipInputValidation: true);
        writer.WriteString(Api, info.JsonName);
        if (info.JsonCategory is { } category)
        {
            writer.WriteString(Category, category);
        }
        else
        {
            writer.WriteNull(Category);
        }
        writer.WritePropertyName(Status);
        if (info.IsSuccessIndex >= 0)
        {
            ArgValues.WriteConverted(
                writer,
                doc,
                parser.Args[info.IsSuccessIndex],
                info.Args[info.IsSuccessIndex].Converter
            );
        }
        else
        {
            writer.WriteNumberValue(1);
        }
        writer.WritePropertyName(ReturnValue);
        if (info.RetvalIndex >= 0)
        {
            ArgValues.WriteConverted(
                writer,
                doc,
                parser.Args[info.RetvalIndex],
                info.Args[info.RetvalIndex].Converter
            );
        }
        else
        {
            writer.WriteNumberValue(0);
        }
    }

    private static void WriteTrailer(Utf8JsonWriter writer, MonitorLogParser parser, string[]? raw)
    {
        var doc = parser.Document;
        writer.WritePropertyName(StackTrace);
        if (parser.Stack.Exists)
        {
            ArgValues.WriteRaw(writer, doc, parser.Stack);
        }
        else
        {
            writer.WriteStartArray();
            writer.WriteEndArray();
        }
        if (parser.LastError.Exists)
        {
            writer.WritePropertyName(LastError);
            ArgValues.WriteRaw(writer, doc, parser.LastError);
            writer.WritePropertyName(NtStatus);
            ArgValues.WriteRaw(writer, doc, parser.NtStatus);
        }
        if (parser.BufferSha1 is { } sha1)
        {
            writer.WriteString(Buffer, sha1);
        }
        if (raw is not null)
        {
            writer.WriteStartArray(Raw);
            foreach (var name in raw)
            {
                writer.WriteStringValue(name);
            }
            writer.WriteEndArray();
        }
        writer.WriteEndObject();
    }

    private void WriteModified(Utf8JsonWriter writer, MonitorLogParser parser)
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

        WriteHeader(writer, parser);
        writer.WritePropertyName(Arguments);
        args.WriteTo(writer);
        writer.WritePropertyName(Flags);
        FlagResolver.WriteFlags(writer, parser, _scratch, extraThis);
        WriteTrailer(writer, parser, raw);
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
