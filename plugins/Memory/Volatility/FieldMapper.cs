using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Microkernel.Plugins.Memory.Volatility;

/// <summary>
/// One row's cells as the reader indexed them. Volatility prints every row of a plugin with the
/// same columns in the same order, and a mapper looks its columns up in the same order on every
/// row, so the n-th lookup of a row first tries the position where the n-th lookup of the
/// previous row found its column: one reference and one name comparison instead of a scan over
/// every cell.
/// </summary>
internal sealed class RowView
{
    private readonly RawRow _scratch = new();
    private RawRow _row = new();
    private byte[][]?[] _lookupColumns = new byte[][]?[16];
    private int[] _lookupPositions = new int[16];
    private int _lookup;

    public void Load(RawRow row)
    {
        _row = row;
        _lookup = 0;
    }

    /// <summary>A nested row (pstree's children): its bytes indexed like a top-level row.</summary>
    public void Load(JsonElement row)
    {
        var bytes = System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(row).ToArray();
        var reader = new Utf8JsonReader(bytes);
        reader.Read();
        JsonRowReader.IndexRow(ref reader, bytes, _scratch);
        Load(_scratch);
    }

    /// <summary>The first of <paramref name="columns"/> (UTF-8) present in the row, if not null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool TryGet(byte[][] columns, out Cell value)
    {
        var count = _row.IsObject ? _row.Count : 0;
        var lookup = _lookup++;
        if (lookup < _lookupColumns.Length && ReferenceEquals(_lookupColumns[lookup], columns))
        {
            var hint = _lookupPositions[lookup];
            if (hint < count)
            {
                foreach (var column in columns)
                {
                    if (_row.NameEquals(hint, column))
                    {
                        value = _row.CellAt(hint);
                        if (!value.IsNull)
                        {
                            return true;
                        }
                        // A null column gives way to the next alternative: the scan below.
                        break;
                    }
                }
            }
        }
        foreach (var column in columns)
        {
            for (var i = 0; i < count; i++)
            {
                if (_row.NameEquals(i, column))
                {
                    Remember(lookup, columns, i);
                    value = _row.CellAt(i);
                    if (!value.IsNull)
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

    private void Remember(int lookup, byte[][] columns, int position)
    {
        if (lookup >= _lookupColumns.Length)
        {
            // More lookups per row than expected: still bounded by the mapper's fields.
            Array.Resize(ref _lookupColumns, lookup * 2);
            Array.Resize(ref _lookupPositions, lookup * 2);
        }
        _lookupColumns[lookup] = columns;
        _lookupPositions[lookup] = position;
    }
}

/// <summary>One output field of a Cuckoo row, computed from a Volatility 3 row.</summary>
/// <remarks>
/// Names are pre-encoded and columns pre-transcoded: this runs once per cell of outputs that reach
/// hundreds of MB. Every per-row method (here, in <see cref="Columns"/>, <see cref="RawRow"/>,
/// <see cref="RowSink"/>, <see cref="JsonRowReader"/> and the module's row callback) is compiled
/// fully optimised on first call
/// (<see cref="MethodImplOptions.AggressiveOptimization"/>): a plugin's code is never precompiled
/// (collectible load contexts ignore ReadyToRun), and tiered compilation left them unoptimised for
/// most of a first 100 MB pass. They lose dynamic PGO; their steady-state speed measured the same.
/// </remarks>
internal sealed class Field(string name, Action<Utf8JsonWriter, JsonEncodedText, RowView> write)
{
    public JsonEncodedText Name { get; } = JsonEncodedText.Encode(name);

    public void Write(Utf8JsonWriter writer, RowView row) => write(writer, Name, row);

    public static Field Int(string name, params string[] columns)
    {
        var utf8 = Columns.Utf8(columns);
        return new(
            name,
            [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
            [MethodImpl(MethodImplOptions.AggressiveOptimization)]
            (w, n, row) =>
            {
                if (row.TryGet(utf8, out var cell) && Columns.Integer(cell) is { } value)
                {
                    // Formatted as UTF-8: a char span would be transcoded and scanned for
                    // characters to escape on every row (digits and '-' never need escaping).
                    Span<byte> text = stackalloc byte[24];
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
            [MethodImpl(MethodImplOptions.AggressiveOptimization)]
            (w, n, row) =>
            {
                if (!row.TryGet(utf8, out var value))
                {
                    w.WriteNull(n);
                }
                else if (value.Kind == JsonTokenType.String)
                {
                    // Copies the string as the tool escaped it, without materialising it.
                    w.WritePropertyName(n);
                    w.WriteRawValue(value.Raw.Span, skipInputValidation: true);
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
            [MethodImpl(MethodImplOptions.AggressiveOptimization)]
            (w, n, row) =>
            {
                if (
                    !row.TryGet(utf8, out var value)
                    || (value.Kind == JsonTokenType.String && value.Raw.Length == 2)
                )
                {
                    w.WriteString(n, fallback);
                }
                else if (value.Kind == JsonTokenType.String)
                {
                    w.WritePropertyName(n);
                    w.WriteRawValue(value.Raw.Span, skipInputValidation: true);
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
        var format = "x" + digits.ToString(CultureInfo.InvariantCulture);
        return new(
            name,
            [MethodImpl(MethodImplOptions.AggressiveOptimization)]
            (w, n, row) =>
            {
                if (!row.TryGet(utf8, out var cell))
                {
                    w.WriteNull(n);
                    return;
                }
                if (Columns.TryWritePlainHex(w, n, cell, format))
                {
                    return;
                }
                // Quoted, fractional or out-of-range numbers: the general conversion.
                if (Columns.Hex(cell, digits) is { } text)
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
            [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
            [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
            [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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

    /// <summary>The hot path: fields straight from the reader's cells, no document.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Map(RawRow row, RowSink sink)
    {
        View.Load(row);
        if (!sink.Accept(View.TryGet(_processIdColumns, out var pid) ? Columns.Integer(pid) : null))
        {
            return;
        }
        WriteFields(sink);
    }

    /// <summary>Writes <paramref name="row"/>, already loaded into <see cref="View"/>.</summary>
    protected virtual void WriteRow(JsonElement row, RowSink sink) => WriteFields(sink);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void WriteFields(RowSink sink)
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
    /// <summary>Subtrees need the whole row: parsed, as nested rows are.</summary>
    public override void Map(RawRow row, RowSink sink) => MapParsed(row, sink);

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
    private static readonly byte[][] ProcessIdColumns = Columns.Utf8(["PID", "Pid"]);
    private static readonly byte[][] ProcessColumns = Columns.Utf8(["Process"]);
    private static readonly byte[][] BaseColumns = Columns.Utf8(["Base"]);
    private static readonly byte[][] SizeColumns = Columns.Utf8(["Size"]);
    private static readonly byte[][] NameColumns = Columns.Utf8(["Path", "Name"]);

    private readonly RowView _view = new();
    private long? _processId;
    private string? _processName;
    private readonly List<(string? Base, string? Size, string? Name)> _modules = [];
    private bool _open;

    /// <summary>
    /// The hot path: the same mapping as the parsed one below, straight from the reader's cells;
    /// dlllist is among the largest outputs (one row per module of every process).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Map(RawRow row, RowSink sink)
    {
        _view.Load(row);
        // Every column is looked up on every row, in the same order, so the view's position
        // hints hold from one row to the next.
        var pid = _view.TryGet(ProcessIdColumns, out var pidCell) ? Columns.Integer(pidCell) : null;
        var hasProcess = _view.TryGet(ProcessColumns, out var processCell);
        if (!_open || pid != _processId)
        {
            Complete(sink);
            _processId = pid;
            _processName = hasProcess ? Columns.Text(processCell) : null;
            _open = true;
        }
        _modules.Add(
            (
                _view.TryGet(BaseColumns, out var baseCell) ? IntegerText(baseCell) : null,
                _view.TryGet(SizeColumns, out var sizeCell) ? IntegerText(sizeCell) : null,
                _view.TryGet(NameColumns, out var nameCell) ? Columns.Text(nameCell) : null
            )
        );
    }

    private static string? IntegerText(Cell cell) =>
        Columns.Integer(cell)?.ToString(CultureInfo.InvariantCulture);

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
