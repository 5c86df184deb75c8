using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microkernel.Plugins.Behavior.Bson;
using Microkernel.Plugins.Behavior.Monitor;

namespace Microkernel.Plugins.Behavior.Output;

/// <summary>
/// Appends compact JSON text to a byte buffer, byte for byte what a <see cref="Utf8JsonWriter"/>
/// with <see cref="BehaviorJson.WriterOptions"/> writes, for the call lists: hundreds of MiB of
/// small values where the writer's per-value bookkeeping was the bottleneck. Common values
/// (integers, hex, plain text, binary as latin-1) are formatted here; anything else goes through
/// a scratch <see cref="Utf8JsonWriter"/> and is copied, so the output never depends on an
/// escaping rule re-implemented here. Separators are the caller's: this writes values and names.
/// </summary>
internal sealed class JsonFragments
{
    private readonly Utf8Buffer _scratchBuffer = new(256);
    private Utf8JsonWriter? _scratch;

    public JsonFragments(Utf8Buffer output) => Output = output;

    public Utf8Buffer Output { get; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Literal(ReadOnlySpan<byte> json) => Output.Write(json);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Byte(byte value) => Output.Write(value);

    /// <summary>A pre-encoded string value (written as it is, like <c>WriteStringValue(JsonEncodedText)</c>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void String(JsonEncodedText text)
    {
        var bytes = text.EncodedUtf8Bytes;
        var span = Output.GetSpan(bytes.Length + 2);
        span[0] = (byte)'"';
        bytes.CopyTo(span[1..]);
        span[bytes.Length + 1] = (byte)'"';
        Output.Advance(bytes.Length + 2);
    }

    /// <summary><c>"name":</c> from a pre-encoded name.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void PropertyName(JsonEncodedText name)
    {
        var bytes = name.EncodedUtf8Bytes;
        var span = Output.GetSpan(bytes.Length + 3);
        span[0] = (byte)'"';
        bytes.CopyTo(span[1..]);
        span[bytes.Length + 1] = (byte)'"';
        span[bytes.Length + 2] = (byte)':';
        Output.Advance(bytes.Length + 3);
    }

    /// <summary>An argument after its converter (<see cref="ArgValues.WriteConverted"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Converted(ReadOnlySpan<byte> doc, BsonValue value, ArgConverter converter)
    {
        if (ArgValues.TryAppendConverted(Output, doc, value, converter))
        {
            return;
        }
        if (value.Type == BsonType.Binary)
        {
            Latin1(value.GetBinary(doc));
            return;
        }
        var writer = StartScratch();
        ArgValues.WriteConverted(writer, doc, value, converter);
        CopyScratch(writer);
    }

    /// <summary>A value without conversion (<see cref="ArgValues.WriteRaw"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Raw(ReadOnlySpan<byte> doc, BsonValue value)
    {
        switch (value.Type)
        {
            case BsonType.Int32:
            case BsonType.Int64:
            case BsonType.Boolean:
            case BsonType.String:
                // Default64 leaves integers, booleans and text as they are.
                if (ArgValues.TryAppendConverted(Output, doc, value, ArgConverter.Default64))
                {
                    return;
                }
                break;
            case BsonType.Binary:
                Latin1(value.GetBinary(doc));
                return;
        }
        var writer = StartScratch();
        ArgValues.WriteRaw(writer, doc, value);
        CopyScratch(writer);
    }

    /// <summary>A node as the writer writes it (null as <c>null</c>).</summary>
    public void Node(JsonNode? node)
    {
        var writer = StartScratch();
        if (node is null)
        {
            writer.WriteNullValue();
        }
        else
        {
            node.WriteTo(writer);
        }
        CopyScratch(writer);
    }

    /// <summary>A string value, escaped as the writer escapes it.</summary>
    public void String(string text) => Literal(StringJson(text));

    /// <summary>The JSON text of a string value (quoted and escaped as the writer does).</summary>
    public byte[] StringJson(string text)
    {
        var writer = StartScratch();
        writer.WriteStringValue(text);
        writer.Flush();
        return _scratchBuffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Bytes shown as latin-1 text (<see cref="ArgValues.WriteLatin1String"/>): each byte is one
    /// character, so each has one fixed JSON spelling, taken from the writer itself.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Latin1(ReadOnlySpan<byte> bytes)
    {
        var table = Latin1Json.Value;
        var span = Output.GetSpan(bytes.Length * Latin1Json.Longest + 2);
        span[0] = (byte)'"';
        var at = 1;
        foreach (var b in bytes)
        {
            var spelling = table[b];
            if (spelling.Length == 1)
            {
                span[at++] = spelling[0];
            }
            else
            {
                spelling.CopyTo(span[at..]);
                at += spelling.Length;
            }
        }
        span[at++] = (byte)'"';
        Output.Advance(at);
    }

    private Utf8JsonWriter StartScratch()
    {
        _scratchBuffer.Clear();
        if (_scratch is null)
        {
            _scratch = new Utf8JsonWriter(_scratchBuffer, BehaviorJson.WriterOptions);
        }
        else
        {
            _scratch.Reset(_scratchBuffer);
        }
        return _scratch;
    }

    private void CopyScratch(Utf8JsonWriter writer)
    {
        writer.Flush();
        Literal(_scratchBuffer.WrittenSpan);
    }

    /// <summary>The writer's JSON spelling of each latin-1 character inside a string.</summary>
    private static class Latin1Json
    {
        /// <summary>Longest spelling: <c>\u00XX</c>.</summary>
        public const int Longest = 6;

        public static readonly byte[][] Value = Build();

        private static byte[][] Build()
        {
            var table = new byte[256][];
            var buffer = new ArrayBufferWriter<byte>(16);
            using var writer = new Utf8JsonWriter(buffer, BehaviorJson.WriterOptions);
            for (var b = 0; b < 256; b++)
            {
                buffer.ResetWrittenCount();
                writer.Reset(buffer);
                writer.WriteStringValue([(char)b]);
                writer.Flush();
                var quoted = buffer.WrittenSpan;
                table[b] = quoted[1..^1].ToArray();
                if (table[b].Length > Longest)
                {
                    throw new InvalidOperationException($"unexpected JSON spelling of U+{b:X4}");
                }
            }
            return table;
        }
    }
}
