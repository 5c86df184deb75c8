using System.Runtime.CompilerServices;

namespace Microkernel.Plugins.Behavior.Output;

/// <summary>
/// A write-only file stream that hands each full buffer to a thread-pool write while the caller
/// fills the other one, so the kernel's copy of a large section (hundreds of MiB with calls)
/// overlaps with producing the JSON instead of stalling it. At most one write is in flight; it
/// is always awaited before the next one starts and before <see cref="Dispose(bool)"/> returns,
/// so nothing outlives the module's run and the bytes land in order.
/// </summary>
internal sealed class PipelinedFileStream : Stream
{
    private readonly FileStream _file;
    private byte[] _filling;
    private byte[] _spare;
    private int _length;
    private Task? _inFlight;
    private long _position;

    public PipelinedFileStream(string path, int bufferSize = 1 << 20)
    {
        _file = new FileStream(
            path,
            FileMode.Create,
            FileAccess.Write,
            FileShare.None,
            bufferSize: 1
        );
        _filling = new byte[bufferSize];
        _spare = new byte[bufferSize];
    }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => _position;

    public override long Position
    {
        get => _position;
        set => throw new NotSupportedException();
    }

    public override void Write(byte[] buffer, int offset, int count) =>
        Write(buffer.AsSpan(offset, count));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Write(ReadOnlySpan<byte> buffer)
    {
        _position += buffer.Length;
        while (buffer.Length > 0)
        {
            var room = _filling.Length - _length;
            if (room == 0)
            {
                StartWrite();
                room = _filling.Length;
            }
            var take = Math.Min(room, buffer.Length);
            buffer[..take].CopyTo(_filling.AsSpan(_length));
            _length += take;
            buffer = buffer[take..];
        }
    }

    public override void WriteByte(byte value) => Write([value]);

    /// <summary>Sends the filled buffer off and continues in the other one.</summary>
    private void StartWrite()
    {
        WaitForWrite();
        var full = _filling;
        var length = _length;
        _inFlight = Task.Run(() => _file.Write(full, 0, length));
        (_filling, _spare) = (_spare, full);
        _length = 0;
    }

    private void WaitForWrite()
    {
        if (_inFlight is { } write)
        {
            _inFlight = null;
            write.GetAwaiter().GetResult(); // rethrows the write's IOException as it is
        }
    }

    /// <summary>Nothing to do: the buffers are written when full and on dispose.</summary>
    public override void Flush() { }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            try
            {
                WaitForWrite();
                _file.Write(_filling, 0, _length);
                _length = 0;
            }
            finally
            {
                _file.Dispose();
            }
        }
        base.Dispose(disposing);
    }

    public override int Read(byte[] buffer, int offset, int count) =>
        throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
