using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microkernel.Plugins.Behavior.Monitor;
using Microkernel.Plugins.Behavior.Output;

namespace Microkernel.Plugins.Behavior.Reconstruction;

/// <summary>Thrown when a rule needs an argument the call lacks (C2 raises KeyError there).</summary>
internal sealed class MissingArgumentException(string name)
    : Exception($"argument '{name}' missing")
{
    public string ArgumentName { get; } = name;
}

/// <summary>The converted view of the parser's current call that the summary rules read.</summary>
internal sealed class CallView(MonitorLogParser parser, SummaryValues values)
{
    private readonly Utf8Buffer _buffer = new(256);
    private Utf8JsonWriter? _writer;

    public SummaryValues Values => values;

    /// <summary>The summary value id of the converted arguments[name], added when new.</summary>
    public int ArgId(string name) => values.Intern(ArgJson(name));

    /// <summary>The summary value id of arguments[name] if some value already has it, else -1.</summary>
    public int FindArgId(string name) => values.Find(ArgJson(name));

    /// <summary>The id of the JSON array of the converted arguments (a Python tuple in C2).</summary>
    public int TupleId(string first, string second) =>
        values.Intern(TupleJson(first, second, third: null));

    /// <inheritdoc cref="TupleId(string, string)"/>
    public int TupleId(string first, string second, string third) =>
        values.Intern(TupleJson(first, second, third));

    /// <summary>The id of a node's compact JSON text.</summary>
    public int NodeId(JsonNode? node)
    {
        var writer = StartWriter();
        if (node is null)
        {
            writer.WriteNullValue();
        }
        else
        {
            node.WriteTo(writer);
        }
        writer.Flush();
        return values.Intern(_buffer.WrittenSpan);
    }

    /// <summary>Compact JSON text of the converted arguments[name] (valid until the next use).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private ReadOnlySpan<byte> ArgJson(string name)
    {
        var index = IndexOrThrow(name);
        _buffer.Clear();
        if (
            !ArgValues.TryAppendConverted(
                _buffer,
                parser.Document,
                parser.Args[index],
                parser.Info.Args[index].Converter
            )
        )
        {
            var writer = StartWriter();
            WriteArg(writer, index);
            writer.Flush();
        }
        return _buffer.WrittenSpan;
    }

    private ReadOnlySpan<byte> TupleJson(string first, string second, string? third)
    {
        var firstIndex = IndexOrThrow(first);
        var secondIndex = IndexOrThrow(second);
        var thirdIndex = third is null ? -1 : IndexOrThrow(third);
        var writer = StartWriter();
        writer.WriteStartArray();
        WriteArg(writer, firstIndex);
        WriteArg(writer, secondIndex);
        if (thirdIndex >= 0)
        {
            WriteArg(writer, thirdIndex);
        }
        writer.WriteEndArray();
        writer.Flush();
        return _buffer.WrittenSpan;
    }

    private void WriteArg(Utf8JsonWriter writer, int index) =>
        ArgValues.WriteConverted(
            writer,
            parser.Document,
            parser.Args[index],
            parser.Info.Args[index].Converter
        );

    private Utf8JsonWriter StartWriter()
    {
        _buffer.Clear();
        if (_writer is null)
        {
            _writer = new Utf8JsonWriter(_buffer, BehaviorJson.WriterOptions);
        }
        else
        {
            _writer.Reset(_buffer);
        }
        return _writer;
    }

    /// <summary>Python truthiness of arguments[name] without materialising it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool ArgTruthy(string name)
    {
        var value = parser.Args[IndexOrThrow(name)];
        var doc = parser.Document;
        return value.Type switch
        {
            Bson.BsonType.Int32 or Bson.BsonType.Int64 or Bson.BsonType.Boolean => value.GetInt64(
                doc
            ) != 0,
            Bson.BsonType.String => value.GetStringBytes(doc).Length > 0,
            Bson.BsonType.Binary => value.GetBinary(doc).Length > 0,
            Bson.BsonType.Double => value.GetDouble(doc) != 0,
            Bson.BsonType.Document or Bson.BsonType.Array => value.GetDocument(doc).Length > 5,
            Bson.BsonType.Null => false,
            _ => true,
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int IndexOrThrow(string name)
    {
        var index = parser.Info.IndexOf(name);
        return index >= 0 ? index : throw new MissingArgumentException(name);
    }

    /// <summary>Whether the call has an argument of this name.</summary>
    public bool HasArg(string name) => parser.Info.IndexOf(name) >= 0;

    public ApiInfo Info => parser.Info;

    /// <summary>arguments[name]; throws <see cref="MissingArgumentException"/> when absent.</summary>
    public JsonNode? Arg(string name)
    {
        var index = parser.Info.IndexOf(name);
        if (index < 0)
        {
            throw new MissingArgumentException(name);
        }
        return ArgValues.ToConvertedNode(
            parser.Document,
            parser.Args[index],
            parser.Info.Args[index].Converter
        );
    }

    /// <summary>arguments.get(name, fallback).</summary>
    public JsonNode? ArgOr(string name, JsonNode? fallback) =>
        parser.Info.IndexOf(name) < 0 ? fallback : Arg(name);

    /// <summary>The converted return value as an integer (retval, default 0); null when not an integer.</summary>
    public long? ReturnValue
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        get
        {
            var index = parser.Info.RetvalIndex;
            if (index < 0)
            {
                return 0;
            }
            var value = parser.Args[index];
            return ArgValues.TryGetFlagNumber(
                parser.Document,
                value,
                parser.Info.Args[index].Converter,
                out var n
            )
                ? (long)(n & ulong.MaxValue)
                : null;
        }
    }

    /// <summary>The resolved flag of <paramref name="argName"/>, or null.</summary>
    public string? Flag(string argName) => FlagResolver.Resolve(parser, argName);
}
