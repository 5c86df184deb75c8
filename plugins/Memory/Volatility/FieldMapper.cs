using System.Globalization;
using System.Text.Json;

namespace Microkernel.Plugins.Memory.Volatility;

/// <summary>
/// One row's cells, enumerated once. Volatility prints every row of a plugin with the same
/// columns in the same order, so each lookup first tries the position where it found its column
/// in the previous row: one name comparison instead of a scan over every cell.
/// </summary>
internal sealed class RowView
{
    private readonly Dictionary<byte[][], int> _hints = new(ReferenceEqualityComparer.Instance);
    private JsonProperty[] _cells = new JsonProperty[32];
    private int _count;

    public void Load(JsonElement row)
    {
        _count = 0;
        if (row.ValueKind != JsonValueKind.Object)
        {
            return;
        }
        foreach (var cell in row.EnumerateObject())
        {
            if (_count == _cells.Length)
            {
                Array.Resize(ref _cells, _cells.Length * 2);
            }
            _cells[_count++] = cell;
        }
    }

    /// <summary>The first of <paramref name="columns"/> (UTF-8) present in the row, if not null.</summary>
    public bool TryGet(byte[][] columns, out JsonElement value)
    {
        if (_hints.TryGetValue(columns, out var hint) && hint < _count)
        {
            foreach (var column in columns)
            {
                if (_cells[hint].NameEquals(column))
                {
                    value = _cells[hint].Value;
                    return value.ValueKind != JsonValueKind.Null;
                }
            }
        }
        foreach (var column in columns)
        {
            for (var i = 0; i < _count; i++)
            {
                if (_cells[i].NameEquals(column))
                {
                    _hints[columns] = i;
                    value = _cells[i].Value;
                    if (value.ValueKind != JsonValueKind.Null)
                    {
                        return true;
                    }
                    break;
                }
            }
        }
        value = default;
        return false;
    }
}

/// <summary>One output field of a Cuckoo row, computed from a Volatility 3 row.</summary>
/// <remarks>Names are pre-encoded and columns pre-transcoded: this runs once per cell of outputs that reach hundreds of MB.</remarks>
internal sealed class Field(string name, Action<Utf8JsonWriter, JsonEncodedText, RowView> write)
{
    public JsonEncodedText Name { get; } = JsonEncodedText.Encode(name);

    public void Write(Utf8JsonWriter writer, RowView row) => write(writer, Name, row);

    public static Field Int(string name, params string[] columns)
    {
        var utf8 = Columns.Utf8(columns);
        return new(
            name,
            (w, n, row) =>
            {
                if (row.TryGet(utf8, out var cell) && Columns.Integer(cell) is { } value)
                {
                    w.WriteNumber(n, value);
                }
                else
                {
                    w.WriteNull(n);
                }
            }
        );
    }

    /// <summary>Python <c>str(int)</c>: decimal text, or null when the cell is absent.</summary>
    public static Field IntText(string name, params string[] columns)
    {
        var utf8 = Columns.Utf8(columns);
        return new(
            name,
            (w, n, row) =>
            {
                if (row.TryGet(utf8, out var cell) && Columns.Integer(cell) is { } value)
                {
                    Span<char> text = stackalloc char[24];
                    value.TryFormat(text, out var length, default, CultureInfo.InvariantCulture);
                    w.WriteString(n, text[..length]);
                }
                else
                {
                    w.WriteNull(n);
                }
            }
        );
    }

    public static Field Text(string name, params string[] columns)
    {
        var utf8 = Columns.Utf8(columns);
        return new(
            name,
            (w, n, row) =>
            {
                if (!row.TryGet(utf8, out var value))
                {
                    w.WriteNull(n);
                }
                else if (value.ValueKind == JsonValueKind.String)
                {
                    // Copies the string without materialising it.
                    w.WritePropertyName(n);
                    value.WriteTo(w);
                }
                else
                {
                    w.WriteString(n, Columns.Text(value));
                }
            }
        );
    }

    /// <summary>Text with a fallback for absent or empty cells, like Cuckoo's <c>str(x or "")</c>.</summary>
    public static Field TextOr(string name, string fallback, params string[] columns)
    {
        var utf8 = Columns.Utf8(columns);
        return new(
            name,
            (w, n, row) =>
            {
                if (!row.TryGet(utf8, out var value) || value.ValueEquals(ReadOnlySpan<byte>.Empty))
                {
                    w.WriteString(n, fallback);
                }
                else if (value.ValueKind == JsonValueKind.String)
                {
                    w.WritePropertyName(n);
                    value.WriteTo(w);
                }
                else
                {
                    w.WriteString(n, Columns.Text(value));
                }
            }
        );
    }

    public static Field Hex(string name, params string[] columns) => HexDigits(name, 0, columns);

    public static Field HexDigits(string name, int digits, params string[] columns)
    {
        var utf8 = Columns.Utf8(columns);
        return new(
            name,
            (w, n, row) =>
            {
                if (row.TryGet(utf8, out var cell) && Columns.Hex(cell, digits) is { } text)
                {
                    w.WriteString(n, text);
                }
                else
                {
                    w.WriteNull(n);
                }
            }
        );
    }

    public static Field Bool(string name, params string[] columns)
    {
        var utf8 = Columns.Utf8(columns);
        return new(
            name,
            (w, n, row) =>
            {
                if (row.TryGet(utf8, out var cell) && Columns.Boolean(cell) is { } value)
                {
                    w.WriteBoolean(n, value);
                }
                else
                {
                    w.WriteNull(n);
                }
            }
        );
    }

    /// <summary>Python <c>str(bool)</c>: "True" / "False".</summary>
    public static Field BoolText(string name, params string[] columns)
    {
        var utf8 = Columns.Utf8(columns);
        return new(
            name,
            (w, n, row) =>
                w.WriteString(
                    n,
                    row.TryGet(utf8, out var cell) && Columns.Boolean(cell) == true
                        ? "True"
                        : "False"
                )
        );
    }

    public static Field TimeOrEmpty(string name, params string[] columns)
    {
        var utf8 = Columns.Utf8(columns);
        return new(
            name,
            (w, n, row) =>
            {
                if (row.TryGet(utf8, out var cell))
                {
                    Columns.WriteTime(w, n, cell);
                }
                else
                {
                    w.WriteString(n, "");
                }
            }
        );
    }

    public static Field Constant(string name, string value) =>
        new(name, (w, n, _) => w.WriteString(n, value));
}

/// <summary>A flat row-for-row mapping: each Volatility row becomes one Cuckoo row.</summary>
internal class FieldMapper(string[] processIdColumns, IReadOnlyList<Field> fields) : RowMapper
{
    private readonly byte[][] _processIdColumns = Columns.Utf8(processIdColumns);

    protected IReadOnlyList<Field> Fields => fields;

    protected byte[][] ProcessIdColumns => _processIdColumns;

    protected RowView View { get; } = new();

    public override void Map(JsonElement row, RowSink sink)
    {
        View.Load(row);
        if (!sink.Accept(View.TryGet(_processIdColumns, out var pid) ? Columns.Integer(pid) : null))
        {
            return;
        }
        WriteRow(row, sink);
    }

    /// <summary>Writes <paramref name="row"/>, already loaded into <see cref="View"/>.</summary>
    protected virtual void WriteRow(JsonElement row, RowSink sink)
    {
        var writer = sink.Writer;
        writer.WriteStartObject();
        foreach (var field in fields)
        {
            field.Write(writer, View);
        }
        writer.WriteEndObject();
    }
}

/// <summary>
/// pstree: pslist's fields plus <c>children</c>, the Volatility 3 <c>__children</c> subtree mapped
/// the same way. Masked processes are dropped with their subtree.
/// </summary>
internal sealed class TreeMapper(string[] processIdColumns, IReadOnlyList<Field> fields)
    : FieldMapper(processIdColumns, fields)
{
    protected override void WriteRow(JsonElement row, RowSink sink)
    {
        var writer = sink.Writer;
        writer.WriteStartObject();
        foreach (var field in Fields)
        {
            field.Write(writer, View);
        }
        writer.WriteStartArray("children");
        if (
            row.TryGetProperty("__children", out var children)
            && children.ValueKind == JsonValueKind.Array
        )
        {
            foreach (var child in children.EnumerateArray())
            {
                View.Load(child);
                if (
                    sink.Accept(
                        View.TryGet(ProcessIdColumns, out var pid) ? Columns.Integer(pid) : null
                    )
                )
                {
                    WriteRow(child, sink);
                }
            }
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    }
}

/// <summary>
/// dlllist: Volatility 3 prints one row per module; Cuckoo had one row per process with
/// <c>loaded_modules</c>. Rows of one process arrive together, so only the current process is
/// held while grouping.
/// </summary>
internal sealed class DllListMapper : RowMapper
{
    private long? _processId;
    private string? _processName;
    private readonly List<(string? Base, string? Size, string? Name)> _modules = [];
    private bool _open;

    public override void Map(JsonElement row, RowSink sink)
    {
        var pid = Columns.Integer(row, "PID", "Pid");
        if (!_open || pid != _processId)
        {
            Complete(sink);
            _processId = pid;
            _processName = Columns.Text(row, "Process");
            _open = true;
        }
        _modules.Add(
            (
                Columns
                    .Integer(row, "Base")
                    ?.ToString(System.Globalization.CultureInfo.InvariantCulture),
                Columns
                    .Integer(row, "Size")
                    ?.ToString(System.Globalization.CultureInfo.InvariantCulture),
                Columns.Text(row, "Path", "Name")
            )
        );
    }

    public override void Complete(RowSink sink)
    {
        if (!_open)
        {
            return;
        }
        _open = false;
        if (sink.Accept(_processId))
        {
            var w = sink.Writer;
            w.WriteStartObject();
            if (_processId is { } pid)
            {
                w.WriteNumber("process_id", pid);
            }
            else
            {
                w.WriteNull("process_id");
            }
            w.WriteString("process_name", _processName ?? "");
            // Volatility 3's dlllist has no command line; the cmdline plugin reports it.
            w.WriteString("commandline", "");
            w.WriteStartArray("loaded_modules");
            foreach (var (dllBase, size, name) in _modules)
            {
                w.WriteStartObject();
                w.WriteString("dll_base", dllBase);
                w.WriteString("dll_size", size);
                w.WriteString("dll_full_name", name ?? "");
                // Volatility 3 does not report the load count.
                w.WriteNull("dll_load_count");
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        _modules.Clear();
    }
}

/// <summary>
/// Plugins Cuckoo 2.0 never had a shape for: each Volatility 3 column becomes a snake_case key
/// (<c>Offset(V)</c> → <c>offset_v</c>, <c>File output</c> → <c>file_output</c>), values are kept
/// as Volatility wrote them, and <c>__children</c> becomes <c>children</c>.
/// </summary>
internal sealed class GenericMapper : RowMapper
{
    private readonly Dictionary<string, string> _names = new(StringComparer.Ordinal);

    public override void Map(JsonElement row, RowSink sink)
    {
        if (!sink.Accept(Columns.Integer(row, "PID", "Pid")))
        {
            return;
        }
        WriteRow(row, sink.Writer);
    }

    private void WriteRow(JsonElement row, Utf8JsonWriter writer)
    {
        if (row.ValueKind != JsonValueKind.Object)
        {
            row.WriteTo(writer);
            return;
        }
        writer.WriteStartObject();
        foreach (var property in row.EnumerateObject())
        {
            if (property.NameEquals("__children"))
            {
                writer.WriteStartArray("children");
                if (property.Value.ValueKind == JsonValueKind.Array)
                {
                    foreach (var child in property.Value.EnumerateArray())
                    {
                        WriteRow(child, writer);
                    }
                }
                writer.WriteEndArray();
                continue;
            }
            writer.WritePropertyName(SnakeCase(property.Name));
            property.Value.WriteTo(writer);
        }
        writer.WriteEndObject();
    }

    internal string SnakeCase(string column)
    {
        if (_names.TryGetValue(column, out var cached))
        {
            return cached;
        }
        var builder = new System.Text.StringBuilder(column.Length + 4);
        for (var i = 0; i < column.Length; i++)
        {
            var c = column[i];
            if (char.IsLetterOrDigit(c))
            {
                // Split camel case (ImageFileName -> image_file_name), but keep runs like PID or SID whole.
                if (
                    char.IsUpper(c)
                    && builder.Length > 0
                    && builder[^1] != '_'
                    && (
                        char.IsLower(column[i - 1])
                        || (
                            i + 1 < column.Length
                            && char.IsLower(column[i + 1])
                            && char.IsUpper(column[i - 1])
                        )
                    )
                )
                {
                    builder.Append('_');
                }
                builder.Append(char.ToLowerInvariant(c));
            }
            else if (builder.Length > 0 && builder[^1] != '_')
            {
                builder.Append('_');
            }
        }
        var name = builder.ToString().Trim('_');
        _names[column] = name;
        return name;
    }
}
