using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Microkernel.Plugins.Memory.Volatility;

/// <summary>
/// One top-level cell of a row: its JSON token kind and its raw value bytes (quotes included for
/// strings), straight from the tool's output buffer.
/// </summary>
internal readonly struct Cell(JsonTokenType kind, ReadOnlyMemory<byte> raw)
{
    public JsonTokenType Kind { get; } = kind;

    /// <summary>The value as it appears in the JSON: valid JSON on its own.</summary>
    public ReadOnlyMemory<byte> Raw { get; } = raw;

    public bool IsNull => Kind == JsonTokenType.Null;

    /// <summary>
    /// A reader positioned on the value, for the reader's own conversions (numbers, unescaping,
    /// ISO 8601 dates) without building a document.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public Utf8JsonReader Reader()
    {
        var reader = new Utf8JsonReader(Raw.Span);
        reader.Read();
        return reader;
    }

    /// <summary>The string's unescaped value (strings only).</summary>
    public string? GetString() => Reader().GetString();
}

/// <summary>
/// A row as <see cref="JsonRowReader"/> found it in one pass: the raw bytes of the whole row and,
/// for an object, where each top-level property's name and value are. Reused from row to row and
/// valid only while the row callback runs. Mappers read cells directly; the few that need the
/// whole tree (subtrees, grouping) can still <see cref="Parse"/> it.
/// </summary>
internal sealed class RawRow
{
    private ReadOnlyMemory<byte> _window;
    private Entry[] _entries = new Entry[32];
    private int _rowStart;
    private int _rowEnd;

    private readonly record struct Entry(
        int NameStart,
        int NameLength,
        bool NameEscaped,
        JsonTokenType Kind,
        int ValueStart,
        int ValueEnd
    );

    public bool IsObject { get; private set; }

    public int Count { get; private set; }

    /// <summary>The whole row's JSON.</summary>
    public ReadOnlyMemory<byte> Raw => _window[_rowStart.._rowEnd];

    internal void Reset(ReadOnlyMemory<byte> window, bool isObject)
    {
        _window = window;
        IsObject = isObject;
        Count = 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void Add(
        int nameStart,
        int nameLength,
        bool nameEscaped,
        JsonTokenType kind,
        int valueStart,
        int valueEnd
    )
    {
        if (Count == _entries.Length)
        {
            Array.Resize(ref _entries, _entries.Length * 2);
        }
        _entries[Count++] = new Entry(
            nameStart,
            nameLength,
            nameEscaped,
            kind,
            valueStart,
            valueEnd
        );
    }

    internal void Complete(int rowStart, int rowEnd)
    {
        _rowStart = rowStart;
        _rowEnd = rowEnd;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public Cell CellAt(int index)
    {
        var entry = _entries[index];
        return new Cell(entry.Kind, _window[entry.ValueStart..entry.ValueEnd]);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool NameEquals(int index, ReadOnlySpan<byte> utf8Name)
    {
        var entry = _entries[index];
        var name = _window.Span.Slice(entry.NameStart, entry.NameLength);
        if (!entry.NameEscaped)
        {
            return name.SequenceEqual(utf8Name);
        }
        // Escaped names (\uXXXX) are rare in Volatility output: unescape through a reader.
        return NameOf(index) == System.Text.Encoding.UTF8.GetString(utf8Name);
    }

    /// <summary>The property name, unescaped.</summary>
    public string NameOf(int index)
    {
        var entry = _entries[index];
        var quoted = _window.Slice(entry.NameStart - 1, entry.NameLength + 2);
        var reader = new Utf8JsonReader(quoted.Span);
        reader.Read();
        return reader.GetString()!;
    }

    /// <summary>The row as a document, for mappers that walk nested values.</summary>
    public JsonDocument Parse() => JsonDocument.Parse(Raw);
}
