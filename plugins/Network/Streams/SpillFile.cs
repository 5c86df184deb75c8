using Microsoft.Win32.SafeHandles;

namespace Microkernel.Plugins.Network.Streams;

/// <summary>
/// A scratch file for the bytes of idle TCP streams (see <see cref="TcpConversations"/>):
/// appended to, read back by offset, and started over from offset 0 whenever nothing in it is
/// still wanted. Created on first write and deleted when disposed. Small writes are gathered
/// in a 64 KiB buffer; a read of bytes still in it is served from memory. Not thread-safe.
/// </summary>
internal sealed class SpillFile(Func<string> path) : IDisposable
{
    private string? _path;

    public SpillFile(string path)
        : this(() => path) { }

    private const int BufferBytes = 1 << 16;
    private SafeFileHandle? _handle;
    private byte[]? _buffer;
    private int _buffered;
    private long _flushed;

    /// <summary>Bytes written and not yet released.</summary>
    public long LiveBytes { get; private set; }

    /// <summary>The most the file has held at once.</summary>
    public long PeakBytes { get; private set; }

    /// <summary>Appends <paramref name="data"/>; where it went.</summary>
    public long Write(ReadOnlySpan<byte> data)
    {
        _buffer ??= new byte[BufferBytes];
        // An item is either wholly in the file or wholly in the buffer.
        if (data.Length > BufferBytes - _buffered)
        {
            Flush();
        }
        var at = _flushed + _buffered;
        if (data.Length > BufferBytes)
        {
            RandomAccess.Write(Handle, data, _flushed);
            _flushed += data.Length;
        }
        else
        {
            data.CopyTo(_buffer.AsSpan(_buffered));
            _buffered += data.Length;
        }
        LiveBytes += data.Length;
        PeakBytes = Math.Max(PeakBytes, _flushed + _buffered);
        return at;
    }

    /// <summary>Reads back <paramref name="into"/>.Length bytes written at <paramref name="at"/>.</summary>
    public void Read(long at, Span<byte> into)
    {
        if (at >= _flushed)
        {
            _buffer.AsSpan((int)(at - _flushed), into.Length).CopyTo(into);
            return;
        }
        ReadExactly(Handle, into, at, _path);
    }

    /// <summary>Fills <paramref name="into"/> from <paramref name="at"/>; a file that ends first is an error.</summary>
    internal static void ReadExactly(SafeFileHandle handle, Span<byte> into, long at, string? path)
    {
        var read = 0;
        while (read < into.Length)
        {
            var count = RandomAccess.Read(handle, into[read..], at + read);
            if (count <= 0)
            {
                throw new IOException($"{path} ended before offset {at + into.Length}");
            }
            read += count;
        }
    }

    /// <summary>Bytes read back for the last time; with none left, the file starts over.</summary>
    public void Release(int length)
    {
        LiveBytes -= length;
        if (LiveBytes == 0)
        {
            _flushed = 0;
            _buffered = 0;
        }
    }

    private void Flush()
    {
        if (_buffered > 0)
        {
            RandomAccess.Write(Handle, _buffer.AsSpan(0, _buffered), _flushed);
            _flushed += _buffered;
            _buffered = 0;
        }
    }

    private SafeFileHandle Handle =>
        _handle ??= File.OpenHandle(
            _path = path(),
            FileMode.CreateNew,
            FileAccess.ReadWrite,
            FileShare.None,
            FileOptions.DeleteOnClose
        );

    public void Dispose()
    {
        _handle?.Dispose();
        _handle = null;
    }
}
