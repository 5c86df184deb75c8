using System.Text.Json;

namespace Microkernel.Plugins.Memory.Volatility;

/// <summary>One output field of a Cuckoo row, computed from a Volatility 3 row.</summary>
internal sealed record Field(string Name, Action<Utf8JsonWriter, string, JsonElement> Write)
{
    public static Field Int(string name, params string[] columns) =>
        new(name, (w, n, row) => WriteNullable(w, n, Columns.Integer(row, columns)));

    /// <summary>Python <c>str(int)</c>: decimal text, or null when the cell is absent.</summary>
    public static Field IntText(string name, params string[] columns) =>
        new(
            name,
            (w, n, row) =>
            {
                var value = Columns.Integer(row, columns);
                if (value is null)
                {
                    w.WriteNull(n);
                }
                else
                {
                    w.WriteString(
                        n,
                        value.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)
                    );
                }
            }
        );

    public static Field Text(string name, params string[] columns) =>
        new(name, (w, n, row) => WriteNullable(w, n, Columns.Text(row, columns)));

    /// <summary>Text with a fallback for absent cells, like Cuckoo's <c>str(x or "")</c>.</summary>
    public static Field TextOr(string name, string fallback, params string[] columns) =>
        new(
            name,
            (w, n, row) =>
                w.WriteString(n, Columns.Text(row, columns) is { Length: > 0 } t ? t : fallback)
        );

    public static Field Hex(string name, params string[] columns) => HexDigits(name, 0, columns);

    public static Field HexDigits(string name, int digits, params string[] columns) =>
        new(name, (w, n, row) => WriteNullable(w, n, Columns.Hex(row, digits, columns)));

    public static Field Bool(string name, params string[] columns) =>
        new(
            name,
            (w, n, row) =>
            {
                var value = Columns.Boolean(row, columns);
                if (value is null)
                {
                    w.WriteNull(n);
                }
                else
                {
                    w.WriteBoolean(n, value.Value);
                }
            }
        );

    /// <summary>Python <c>str(bool)</c>: "True" / "False".</summary>
    public static Field BoolText(string name, params string[] columns) =>
        new(
            name,
            (w, n, row) =>
                w.WriteString(n, Columns.Boolean(row, columns) == true ? "True" : "False")
        );

    public static Field TimeOrEmpty(string name, params string[] columns) =>
        new(name, (w, n, row) => w.WriteString(n, Columns.Time(row, columns) ?? ""));

    public static Field Constant(string name, string value) =>
        new(name, (w, n, _) => w.WriteString(n, value));

    private static void WriteNullable(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, value);
        }
    }

    private static void WriteNullable(Utf8JsonWriter w, string name, long? value)
    {
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteNumber(name, value.Value);
        }
    }
}

/// <summary>A flat row-for-row mapping: each Volatility row becomes one Cuckoo row.</summary>
internal class FieldMapper(string[] processIdColumns, IReadOnlyList<Field> fields) : RowMapper
{
    protected IReadOnlyList<Field> Fields => fields;

    public override void Map(JsonElement row, RowSink sink)
    {
        if (!sink.Accept(Columns.Integer(row, processIdColumns)))
        {
            return;
        }
        WriteRow(row, sink);
    }

    protected virtual void WriteRow(JsonElement row, RowSink sink)
    {
        var writer = sink.Writer;
        writer.WriteStartObject();
        foreach (var field in fields)
        {
            field.Write(writer, field.Name, row);
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
    private readonly string[] _processIdColumns = processIdColumns;

    protected override void WriteRow(JsonElement row, RowSink sink)
    {
        var writer = sink.Writer;
        writer.WriteStartObject();
        foreach (var field in Fields)
        {
            field.Write(writer, field.Name, row);
        }
        writer.WriteStartArray("children");
        if (
            row.TryGetProperty("__children", out var children)
            && children.ValueKind == JsonValueKind.Array
        )
        {
            foreach (var child in children.EnumerateArray())
            {
                if (sink.Accept(Columns.Integer(child, _processIdColumns)))
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
