using System.Buffers;
using System.Text.Json;

namespace Microkernel.Plugins.Network.Output;

/// <summary>
/// A JSON array too big to hold in memory (http_ex grows with the capture: about a third of the
/// capture's size for web traffic): each item is written once to a scratch file as it is
/// produced, and only its sort key and location stay in memory. The report writer copies the
/// items back in key order (stable, like Python's sort) without parsing them.
/// </summary>
internal sealed class SpilledJsonList : IDisposable
{
    private readonly string _path;
    private readonly JsonWriterOptions _options;
    private ArrayBufferWriter<byte> _item = new(4096);
    private readonly List<Entry> _entries = [];
    private FileStream? _file;
    private Utf8JsonWriter? _writer;
    private long _length;

    private readonly record struct Entry(double Key, long Offset, int Length);

    public SpilledJsonList(string path, JsonWriterOptions options)
    {
        _path = path;
        _options = options;
    }

    public int Count => _entries.Count;

    /// <summary>A writer for the next item; call <see cref="End"/> once the item is written.</summary>
    public Utf8JsonWriter Begin()
    {
        _item.ResetWrittenCount();
        if (_writer is null)
        {
            _writer = new Utf8JsonWriter(_item, _options);
        }
        else
        {
            _writer.Reset(_item);
        }
        return _writer;
    }

    public void End(double sortKey)
    {
        _writer!.Flush();
        _file ??= new FileStream(
            _path,
            FileMode.Create,
            FileAccess.ReadWrite,
            FileShare.None,
            1 << 16
        );
        _file.Write(_item.WrittenSpan);
        _entries.Add(new Entry(sortKey, _length, _item.WrittenCount));
        _length += _item.WrittenCount;
        if (_item.Capacity > 8 << 20)
        {
            // One huge item (a 16 MiB response) should not pin its buffer for the whole run.
            _item = new ArrayBufferWriter<byte>(4096);
            _writer.Reset(_item);
        }
    }

    /// <summary>Writes every item, sorted by key; ties keep the order they were added in.</summary>
    public void WriteSortedTo(Utf8JsonWriter json)
    {
        if (_file is null)
        {
            return;
        }
        _file.Flush();
        var order = _entries.ToArray();
        // Offsets grow with insertion order, so they make the sort stable.
        Array.Sort(
            order,
            static (a, b) => a.Key != b.Key ? a.Key.CompareTo(b.Key) : a.Offset.CompareTo(b.Offset)
        );
        var handle = _file.SafeFileHandle;
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            foreach (var entry in order)
            {
                if (buffer.Length < entry.Length)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = ArrayPool<byte>.Shared.Rent(entry.Length);
                }
                var item = buffer.AsSpan(0, entry.Length);
                var read = 0;
                while (read < item.Length)
                {
                    var count = RandomAccess.Read(handle, item[read..], entry.Offset + read);
                    if (count <= 0)
                    {
                        throw new IOException(
                            $"{_path} ended before item at offset {entry.Offset}"
                        );
                    }
                    read += count;
                }
                json.WriteRawValue(item, skipInputValidation: true);
                if (json.BytesPending > 1 << 20)
                {
                    json.Flush();
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public void Dispose()
    {
        _writer?.Dispose();
        _file?.Dispose();
        _file = null;
        File.Delete(_path);
    }
}
