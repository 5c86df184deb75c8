using System.Buffers.Binary;
using System.Collections;
using System.Security.Cryptography;
using System.Text;

namespace Microkernel.Plugins.Behavior.Tests;

/// <summary>
/// Writes logs in the Cuckoo 2.0 monitor's format (concatenated BSON documents, see
/// cuckoo-processing.md §2.1): <c>info</c> messages, <c>__process__</c> records, calls, buffers and
/// debug messages, with the monitor's quirks (flag arrays whose element names repeat). Used by
/// the tests, the benchmark and the sample generator, so none of them needs a real monitor log.
/// </summary>
public sealed class MonitorLogWriter : IDisposable
{
    private readonly Stream _stream;
    private readonly bool _ownsStream;
    private readonly Dictionary<string, int> _indexes = new(StringComparer.Ordinal);
    private int _nextIndex = 1;

    public MonitorLogWriter(Stream stream, bool ownsStream = true)
    {
        _stream = stream;
        _ownsStream = ownsStream;
    }

    public static MonitorLogWriter Create(string path) => new(File.Create(path));

    /// <summary>A pointer-formatted argument name (<c>["name", "p"]</c>).</summary>
    public static object Pointer(string name) => new object[] { name, "p" };

    /// <summary>A hex-formatted argument name (<c>["name", "x"]</c>).</summary>
    public static object Hex(string name) => new object[] { name, "x" };

    /// <summary>Declares an API (an <c>info</c> message); returns its index. is_success/retval come first.</summary>
    public int DeclareApi(
        string name,
        string category,
        object[] arguments,
        IReadOnlyList<(string Arg, (long Value, string Name)[] Map)>? flagsValue = null,
        IReadOnlyList<(string Arg, (long Mask, string Name)[] Masks)>? flagsBitmask = null,
        int? index = null
    )
    {
        var i = index ?? (name == "__process__" ? 0 : _nextIndex++);
        _indexes[name] = i;
        var args = new List<object?> { "is_success", "retval" };
        args.AddRange(arguments);
        WriteDocument([
            ("I", i),
            ("name", name),
            ("type", "info"),
            ("category", category),
            ("args", args),
            ("flags_value", FlagTable(flagsValue?.Select(f => (f.Arg, f.Map)))),
            ("flags_bitmask", FlagTable(flagsBitmask?.Select(f => (f.Arg, f.Masks)))),
        ]);
        return i;
    }

    /// <summary>The index of a declared API.</summary>
    public int IndexOf(string name) => _indexes[name];

    /// <summary>Declares <c>__process__</c> (index 0) with the current monitor's argument names.</summary>
    public void DeclareProcessApi() =>
        DeclareApi(
            "__process__",
            "__notification__",
            [
                "time_low",
                "time_high",
                "pid",
                "ppid",
                "module_path",
                "command_line",
                "is_64bit",
                "track",
                "modules",
            ]
        );

    /// <summary>Writes a <c>__process__</c> record (declaring the API first if needed).</summary>
    public void WriteProcess(
        int pid,
        int ppid,
        string modulePath,
        string commandLine,
        DateTime firstSeenUtc,
        bool is64Bit = false,
        bool track = true,
        int tid = 1000,
        IReadOnlyList<(string Path, long BaseAddress, int Size)>? modules = null
    )
    {
        if (!_indexes.ContainsKey("__process__"))
        {
            DeclareProcessApi();
        }
        var fileTime = firstSeenUtc.ToFileTimeUtc();
        var moduleDocs = new List<object?>();
        foreach (var (path, baseAddress, size) in modules ?? [(modulePath, 0x400000, 0x10000)])
        {
            moduleDocs.Add(
                new List<(string, object?)>
                {
                    ("filepath", path),
                    ("basename", path[(path.LastIndexOf('\\') + 1)..]),
                    ("baseaddr", "0x" + baseAddress.ToString("x", null)),
                    ("imgsize", size),
                }
            );
        }
        WriteCall(
            0,
            tid,
            0,
            [
                1,
                0,
                unchecked((int)(fileTime & 0xFFFFFFFF)),
                (int)(fileTime >> 32),
                pid,
                ppid,
                modulePath,
                commandLine,
                is64Bit ? 1 : 0,
                track ? 1 : 0,
                moduleDocs,
            ]
        );
    }

    /// <summary>Writes a call record: args in declaration order, is_success and retval first.</summary>
    public void WriteCall(
        int index,
        int tid,
        int milliseconds,
        object?[] args,
        (int LastError, int NtStatus)? errors = null,
        IReadOnlyList<string>? stacktrace = null
    )
    {
        var fields = new List<(string, object?)>
        {
            ("I", index),
            ("T", tid),
            ("t", milliseconds),
            ("h", 0L),
        };
        if (errors is { } e)
        {
            fields.Add(("e", e.LastError));
            fields.Add(("E", e.NtStatus));
        }
        if (stacktrace is not null)
        {
            fields.Add(("s", stacktrace.Cast<object?>().ToList()));
        }
        fields.Add(("args", args.ToList()));
        WriteDocument(fields);
    }

    /// <summary>Writes a call of a declared API by name.</summary>
    public void Call(string api, int tid, int milliseconds, params object?[] args) =>
        WriteCall(_indexes[api], tid, milliseconds, args);

    /// <summary>Writes a <c>buffer</c> message (tags the next call).</summary>
    public void WriteBuffer(byte[] data, string? checksum = null) =>
        WriteDocument([
            ("type", "buffer"),
            ("buffer", data),
            ("checksum", checksum ?? Convert.ToHexStringLower(SHA1.HashData(data))),
        ]);

    public void WriteDebug(string message) => WriteDocument([("type", "debug"), ("msg", message)]);

    /// <summary>Writes bytes as they are (damage cases).</summary>
    public void WriteRaw(ReadOnlySpan<byte> bytes) => _stream.Write(bytes);

    public long Position => _stream.Position;

    public void WriteDocument(IEnumerable<(string Key, object? Value)> fields) =>
        _stream.Write(Encode(fields));

    /// <summary>One BSON document. Values: int, long, double, bool, null, string, byte[], lists, (key, value) lists, <see cref="RepeatedKeyArray"/>.</summary>
    public static byte[] Encode(IEnumerable<(string Key, object? Value)> fields)
    {
        using var body = new MemoryStream();
        foreach (var (key, value) in fields)
        {
            WriteElement(body, key, value);
        }
        body.WriteByte(0);
        var result = new byte[body.Length + 4];
        BinaryPrimitives.WriteInt32LittleEndian(result, result.Length);
        body.ToArray().CopyTo(result, 4);
        return result;
    }

    private static void WriteElement(MemoryStream output, string key, object? value)
    {
        void Header(byte type)
        {
            output.WriteByte(type);
            output.Write(Encoding.UTF8.GetBytes(key));
            output.WriteByte(0);
        }
        Span<byte> number = stackalloc byte[8];
        switch (value)
        {
            case null:
                Header(0x0A);
                break;
            case bool b:
                Header(0x08);
                output.WriteByte(b ? (byte)1 : (byte)0);
                break;
            case int i:
                Header(0x10);
                BinaryPrimitives.WriteInt32LittleEndian(number, i);
                output.Write(number[..4]);
                break;
            case long l:
                Header(0x12);
                BinaryPrimitives.WriteInt64LittleEndian(number, l);
                output.Write(number);
                break;
            case double d:
                Header(0x01);
                BinaryPrimitives.WriteDoubleLittleEndian(number, d);
                output.Write(number);
                break;
            case string s:
                Header(0x02);
                var utf8 = Encoding.UTF8.GetBytes(s);
                BinaryPrimitives.WriteInt32LittleEndian(number, utf8.Length + 1);
                output.Write(number[..4]);
                output.Write(utf8);
                output.WriteByte(0);
                break;
            case byte[] bytes:
                Header(0x05);
                BinaryPrimitives.WriteInt32LittleEndian(number, bytes.Length);
                output.Write(number[..4]);
                output.WriteByte(0);
                output.Write(bytes);
                break;
            case RepeatedKeyArray repeated:
                Header(0x04);
                output.Write(Encode(repeated.Items.Select(item => (repeated.Key, item))));
                break;
            case IEnumerable<(string, object?)> document:
                Header(0x03);
                output.Write(Encode(document));
                break;
            case IEnumerable list:
                Header(0x04);
                output.Write(
                    Encode(list.Cast<object?>().Select((item, n) => (n.ToString(null, null), item)))
                );
                break;
            default:
                throw new ArgumentException($"cannot encode {value.GetType()}");
        }
    }

    /// <summary>A flag table as the monitor writes it: each arg's pairs in an array whose keys all read "0".</summary>
    private static List<(string, object?)> FlagTable(
        IEnumerable<(string Arg, (long, string)[] Pairs)>? table
    )
    {
        var doc = new List<(string, object?)>();
        foreach (var (arg, pairs) in table ?? [])
        {
            doc.Add(
                (
                    arg,
                    new RepeatedKeyArray(
                        pairs.Length % 2 == 0 ? "0" : "1",
                        pairs
                            .Select(p => (object?)new List<object?> { (int)p.Item1, p.Item2 })
                            .ToList()
                    )
                )
            );
        }
        return doc;
    }

    public void Dispose()
    {
        if (_ownsStream)
        {
            _stream.Dispose();
        }
    }
}

/// <summary>An array whose element names all equal <see cref="Key"/> (the monitor's positional arrays).</summary>
public sealed record RepeatedKeyArray(string Key, IReadOnlyList<object?> Items);
