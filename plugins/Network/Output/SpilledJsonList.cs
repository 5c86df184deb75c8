using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microkernel.Plugins.Network.Streams;

namespace Microkernel.Plugins.Network.Output;

/// <summary>
/// A JSON array too big to hold in memory (http_ex grows with the capture: about a third of the
/// capture's size for web traffic): each item is written once as it is produced, to memory for
/// the first MiB and then to a scratch file, and only its sort key and location stay in memory.
/// A small capture thus never creates (and deletes) a file. The report writer copies the
/// items back in key order (stable, like Python's sort) without parsing them.
/// </summary>
/// <remarks>
/// Each item is stored after a comma, so that items that follow each other in the file and in
/// key order (the usual case: exchanges are mostly produced in time order) are copied back as
/// one run of up to <see cref="MaxRun"/> bytes with one read, rather than one read per item.
/// </remarks>
internal sealed class SpilledJsonList : IDisposable
{
    private readonly Func<string> _newPath;
    private string? _path;
    private readonly JsonWriterOptions _options;
    private ArrayBufferWriter<byte> _item = new(4096);
    private readonly List<Entry> _entries = [];
    private ArrayBufferWriter<byte>? _memory = new(4096);
    private FileStream? _file;
    private Utf8JsonWriter? _writer;
    private long _length;

    /// <summary>Where an item starts (its comma) and its length with the comma.</summary>
    private readonly record struct Entry(double Key, long Offset, int Length);

    private const int MaxRun = 1 << 20;

    private const int MemoryLimit = 1 << 20;

    public SpilledJsonList(string path, JsonWriterOptions options)
        : this(() => path, options) { }

    /// <param name="path">Called when the list outgrows memory: the file to continue in.</param>
    /// <param name="options">How items are written.</param>
    public SpilledJsonList(Func<string> path, JsonWriterOptions options)
    {
        _newPath = path;
        _options = options;
    }

    public int Count => _entries.Count;

    /// <summary>A writer for the next item; call <see cref="End"/> once the item is written.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void End(double sortKey)
    {
        _writer!.Flush();
        if (_memory is not null && _length + 1 + _item.WrittenCount > MemoryLimit)
        {
            _path = _newPath();
            _file = new FileStream(
                _path,
                FileMode.CreateNew,
                FileAccess.ReadWrite,
                FileShare.None,
                1 << 16
            );
            _file.Write(_memory.WrittenSpan);
            _memory = null;
        }
        if (_memory is not null)
        {
            _memory.Write([(byte)',']);
            _memory.Write(_item.WrittenSpan);
        }
        else
        {
            _file!.WriteByte((byte)',');
            _file.Write(_item.WrittenSpan);
        }
        _entries.Add(new Entry(sortKey, _length, 1 + _item.WrittenCount));
        _length += 1 + _item.WrittenCount;
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
        if (_entries.Count == 0)
        {
            return;
        }
        _file?.Flush();
        var order = _entries.ToArray();
        // Offsets grow with insertion order, so they make the sort stable.
        Array.Sort(
            order,
            static (a, b) => a.Key != b.Key ? a.Key.CompareTo(b.Key) : a.Offset.CompareTo(b.Offset)
        );
        var handle = _file?.SafeFileHandle;
        var buffer = ArrayPool<byte>.Shared.Rent(MaxRun);
        try
        {
            for (var first = 0; first < order.Length; )
            {
                // The longest run of items adjacent in the file, within MaxRun (or one item).
                var start = order[first].Offset;
                var end = start + order[first].Length;
                var next = first + 1;
                while (
                    next < order.Length
                    && order[next].Offset == end
                    && end + order[next].Length - start <= MaxRun
                )
                {
                    end += order[next].Length;
                    next++;
                }
                var length = (int)(end - start);
                if (buffer.Length < length)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = ArrayPool<byte>.Shared.Rent(length);
                }
                ReadOnlySpan<byte> run;
                if (handle is null)
                {
                    run = _memory!.WrittenSpan.Slice((int)start, length);
                }
                else
                {
                    SpillFile.ReadExactly(handle, buffer.AsSpan(0, length), start, _path);
                    run = buffer.AsSpan(0, length);
                }
                // Without the run's leading comma: the writer puts one between values. The
                // run's inner commas separate its items.
                json.WriteRawValue(run[1..], skipInputValidation: true);
                if (json.BytesPending > 1 << 20)
                {
                    json.Flush();
                }
                first = next;
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
        _memory = null;
        if (_file is not null)
        {
            _file.Dispose();
            _file = null;
            File.Delete(_path!);
        }
    }
}
