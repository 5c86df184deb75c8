using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Microkernel.Plugins.Behavior.Bson;

/// <summary>
/// Splits a file of concatenated length-prefixed BSON documents into documents, with Cuckoo's
/// stop rules (C2 netlog.py): a short length prefix, a length over 20 MiB or a body that runs past
/// the end of the file ends the stream and is reported with its byte offset. Memory is bounded:
/// the buffer only grows for a document that is both under the cap and really present in the file.
/// </summary>
internal sealed class BsonFrameReader : IDisposable
{
    /// <summary>Cuckoo's MAX_MESSAGE_LENGTH.</summary>
    public const int MaxDocumentLength = 20 * 1024 * 1024;

    private const int ChunkSize = 1 << 20;

    private readonly Stream _stream;
    private readonly long _fileLength;
    private byte[] _buffer;
    private int _bufferStart;
    private int _bufferEnd;
    private long _bufferFileOffset;
    private int _currentStart;
    private int _currentLength;

    public BsonFrameReader(string path)
    {
        _stream = new FileStream(
            path,
            FileMode.Open,
            FileAccess.Read,
            FileShare.Read,
            bufferSize: 1,
            FileOptions.SequentialScan
        );
        _fileLength = _stream.Length;
        _buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(ChunkSize, Math.Max(_fileLength, 16)));
    }

    /// <summary>File offset of the current document (or of the damage after a failed read).</summary>
    public long Offset { get; private set; }

    /// <summary>The document returned by the last successful <see cref="Read"/>.</summary>
    public ReadOnlySpan<byte> Current => _buffer.AsSpan(_currentStart, _currentLength);

    /// <summary>Why reading stopped early, or null after a clean end of file.</summary>
    public string? Error { get; private set; }

    /// <summary>Moves to the next document; false at the end of the stream or on damage.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool Read()
    {
        if (Error is not null)
        {
            return false;
        }
        Offset = _bufferFileOffset + _bufferStart;
        var available = _bufferEnd - _bufferStart;
        if (available < 4 && !Fill(4))
        {
            available = _bufferEnd - _bufferStart;
            if (available > 0)
            {
                Error = $"length prefix cut short: only {available} byte(s) left";
            }
            return false;
        }
        var length = BinaryPrimitives.ReadUInt32LittleEndian(_buffer.AsSpan(_bufferStart));
        if (length > MaxDocumentLength)
        {
            Error =
                $"document length {length} is over the {MaxDocumentLength}-byte limit (MAX_MESSAGE_LENGTH)";
            return false;
        }
        if (length < 5)
        {
            Error = $"document length {length} is below the BSON minimum of 5 bytes";
            return false;
        }
        var remaining = _fileLength - Offset;
        if (length > remaining)
        {
            Error = $"document of {length} bytes is truncated: only {remaining} byte(s) left";
            return false;
        }
        if (_bufferEnd - _bufferStart < length && !Fill((int)length))
        {
            Error = $"document of {length} bytes is truncated (the file shrank while reading)";
            return false;
        }
        _currentStart = _bufferStart;
        _currentLength = (int)length;
        _bufferStart += (int)length;
        return true;
    }

    /// <summary>Makes at least <paramref name="needed"/> bytes available from the current position.</summary>
    private bool Fill(int needed)
    {
        var available = _bufferEnd - _bufferStart;
        if (_buffer.Length - _bufferStart < needed)
        {
            if (_buffer.Length < needed)
            {
                var bigger = ArrayPool<byte>.Shared.Rent(needed);
                _buffer.AsSpan(_bufferStart, available).CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = bigger;
            }
            else
            {
                _buffer.AsSpan(_bufferStart, available).CopyTo(_buffer);
            }
            _bufferFileOffset += _bufferStart;
            _bufferStart = 0;
            _bufferEnd = available;
        }
        while (_bufferEnd - _bufferStart < needed)
        {
            var read = _stream.Read(_buffer, _bufferEnd, _buffer.Length - _bufferEnd);
            if (read == 0)
            {
                return false;
            }
            _bufferEnd += read;
        }
        return true;
    }

    public void Dispose()
    {
        _stream.Dispose();
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }
}
