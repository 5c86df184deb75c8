using System.Buffers;
using System.IO.MemoryMappedFiles;

namespace Microkernel.Plugins.Static;

/// <summary>
/// A read-only memory mapping of a file exposed as <see cref="ReadOnlyMemory{T}"/>, so a large
/// sample is paged in on demand instead of copied onto the heap.
/// </summary>
internal sealed unsafe class MappedFile : MemoryManager<byte>
{
    private readonly MemoryMappedFile? _file;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly byte* _pointer;
    private readonly int _length;

    public MappedFile(string path)
    {
        var length = new FileInfo(path).Length;
        // Spans are int-sized; PE images cannot be larger than 4 GiB and Static reads only headers and tables.
        _length = (int)Math.Min(length, int.MaxValue);
        if (_length == 0)
        {
            return;
        }
        _file = MemoryMappedFile.CreateFromFile(
            path,
            FileMode.Open,
            null,
            0,
            MemoryMappedFileAccess.Read
        );
        _view = _file.CreateViewAccessor(0, _length, MemoryMappedFileAccess.Read);
        byte* pointer = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        _pointer = pointer + _view.PointerOffset;
    }

    public override Span<byte> GetSpan() => _length == 0 ? [] : new Span<byte>(_pointer, _length);

    public override MemoryHandle Pin(int elementIndex = 0) => new(_pointer + elementIndex);

    public override void Unpin() { }

    protected override void Dispose(bool disposing)
    {
        if (_view is not null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _file?.Dispose();
    }
}
