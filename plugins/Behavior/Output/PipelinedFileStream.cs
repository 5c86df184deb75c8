using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using Microsoft.Win32.SafeHandles;

namespace Microkernel.Plugins.Behavior.Output;

/// <summary>
/// A write-only file stream that hands each full buffer to its own writer thread while the
/// caller fills the next one, so the kernel's copy of a large section (hundreds of MiB with
/// calls) overlaps with producing the JSON instead of stalling it. Producers that fill whole
/// buffers themselves (the call lists) give them away with <see cref="Exchange"/> and get an
/// empty one back, so those bytes are not copied once more on the way to the file.
/// </summary>
/// <remarks>
/// A dedicated thread rather than a thread-pool write per buffer: a pool worker spins for work
/// after each write, and that spinning cost as much CPU as the writes on this 2-core machine.
/// At most <see cref="MaxBuffers"/> buffers are allocated here; the writer thread ends and is joined in
/// <see cref="Dispose(bool)"/>, so nothing outlives the module's run and the bytes land in order.
/// A failed write is rethrown as it is on the next write or on dispose.
/// </remarks>
internal sealed class PipelinedFileStream : Stream
{
    /// <summary>Buffers in circulation: the one being filled, two queued, one being written.</summary>
    private const int MaxBuffers = 4;

    private readonly SafeFileHandle _file;
    private readonly int _bufferSize;
    private const int MaxQueued = 2;

    // Guards the two queues; System.Threading.Monitor.Wait blocks without the spinning of the concurrent
    // collections' semaphores (the waits here are long: a whole buffer's write).
    private readonly object _gate = new();
    private readonly Queue<(byte[] Buffer, int Length)> _full = new();
    private readonly Stack<byte[]> _free = new();
    private bool _completed;
    private readonly Thread _writer;
    private int _allocated;
    private byte[] _filling;
    private int _length;
    private long _position;
    private volatile ExceptionDispatchInfo? _failure;
    private bool _disposed;

    public PipelinedFileStream(string path, int bufferSize = 1 << 20)
    {
        _file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write, FileShare.None);
        _bufferSize = bufferSize;
        _filling = NewBuffer();
        _writer = new Thread(WriteBuffers)
        {
            IsBackground = true,
            Name = "behavior section writer",
        };
        _writer.Start();
    }

    /// <summary>Size of the buffers <see cref="Exchange"/> hands out.</summary>
    public int BufferSize => _bufferSize;

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
                SendFilling();
                room = _filling.Length;
            }
            var take = Math.Min(room, buffer.Length);
            buffer[..take].CopyTo(_filling.AsSpan(_length));
            _length += take;
            buffer = buffer[take..];
        }
    }

    public override void WriteByte(byte value) => Write([value]);

    /// <summary>
    /// Appends the first <paramref name="length"/> bytes of <paramref name="full"/>, which the
    /// stream takes over without copying, and returns an empty buffer of <see cref="BufferSize"/>
    /// bytes (or more) for the caller to fill next.
    /// </summary>
    public byte[] Exchange(byte[] full, int length)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)length, (uint)full.Length);
        if (_length > 0)
        {
            SendFilling(); // what was written before goes first
        }
        _position += length;
        Send(full, length);
        return TakeFree();
    }

    /// <summary>Sends the filled buffer off and continues in an empty one.</summary>
    private void SendFilling()
    {
        Send(_filling, _length);
        _filling = TakeFree();
        _length = 0;
    }

    private void Send(byte[] buffer, int length)
    {
        _failure?.Throw();
        lock (_gate)
        {
            while (_full.Count >= MaxQueued)
            {
                System.Threading.Monitor.Wait(_gate);
            }
            _full.Enqueue((buffer, length));
            System.Threading.Monitor.PulseAll(_gate);
        }
    }

    private byte[] TakeFree()
    {
        lock (_gate)
        {
            if (_free.Count == 0 && _allocated < MaxBuffers)
            {
                return NewBuffer();
            }
            while (_free.Count == 0)
            {
                System.Threading.Monitor.Wait(_gate);
            }
            return _free.Pop();
        }
    }

    private byte[] NewBuffer()
    {
        _allocated++;
        return new byte[_bufferSize];
    }

    private void WriteBuffers()
    {
        long offset = 0;
        while (true)
        {
            byte[] buffer;
            int length;
            lock (_gate)
            {
                while (_full.Count == 0 && !_completed)
                {
                    System.Threading.Monitor.Wait(_gate);
                }
                if (_full.Count == 0)
                {
                    return;
                }
                (buffer, length) = _full.Dequeue();
                System.Threading.Monitor.PulseAll(_gate);
            }
            if (_failure is null)
            {
                try
                {
                    RandomAccess.Write(_file, buffer.AsSpan(0, length), offset);
                    offset += length;
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    _failure = ExceptionDispatchInfo.Capture(e);
                }
            }
            lock (_gate)
            {
                // Buffers beyond the circulation limit (brought in by Exchange) are dropped.
                if (_free.Count <= MaxBuffers)
                {
                    _free.Push(buffer);
                    System.Threading.Monitor.PulseAll(_gate);
                }
            }
        }
    }

    /// <summary>Nothing to do: the buffers are written when full and on dispose.</summary>
    public override void Flush() { }

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            _disposed = true;
            try
            {
                if (_length > 0 && _failure is null)
                {
                    Send(_filling, _length);
                    _length = 0;
                }
            }
            finally
            {
                lock (_gate)
                {
                    _completed = true;
                    System.Threading.Monitor.PulseAll(_gate);
                }
                _writer.Join();
                _file.Dispose();
            }
            _failure?.Throw();
        }
        base.Dispose(disposing);
    }

    public override int Read(byte[] buffer, int offset, int count) =>
        throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
