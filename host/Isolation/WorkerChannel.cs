using System.Buffers;
using System.Buffers.Binary;
using System.Text.Json;

namespace Microkernel.Host.Isolation;

/// <summary>What a frame carries.</summary>
internal enum FrameKind : byte
{
    /// <summary>A UTF-8 JSON <see cref="WorkerMessage"/>.</summary>
    Message = 1,

    /// <summary>Raw bytes of the running module's JSON result, in order.</summary>
    ResultChunk = 2,
}

/// <summary>
/// Length-prefixed frames over a local pipe: one kind byte, a 32-bit little-endian length, the
/// payload. Control messages are small JSON documents; a module's result travels as raw chunks
/// so a 500 MB section streams through without ever being one message. Writes are serialised
/// because the module's threads log while the result is being written.
/// </summary>
internal sealed class WorkerChannel(Stream stream) : IDisposable
{
    /// <summary>No legitimate frame is bigger; a larger length means a corrupt or hostile peer.</summary>
    public const int MaxFrameBytes = 4 << 20;

    public const int ChunkBytes = 1 << 16;

    private readonly Lock _writeLock = new();
    private readonly byte[] _header = new byte[5];

    public void Send(WorkerMessage message)
    {
        var payload = JsonSerializer.SerializeToUtf8Bytes(
            message,
            WorkerJson.Default.WorkerMessage
        );
        Write(FrameKind.Message, payload);
    }

    public void Write(FrameKind kind, ReadOnlySpan<byte> payload)
    {
        if (payload.Length > MaxFrameBytes)
        {
            throw new InvalidOperationException(
                $"A {kind} frame of {payload.Length} bytes exceeds the {MaxFrameBytes}-byte limit."
            );
        }
        Span<byte> header = stackalloc byte[5];
        header[0] = (byte)kind;
        BinaryPrimitives.WriteInt32LittleEndian(header[1..], payload.Length);
        lock (_writeLock)
        {
            stream.Write(header);
            stream.Write(payload);
            stream.Flush();
        }
    }

    /// <summary>Reads the next frame; null at end of stream. The payload is rented: return it.</summary>
    /// <exception cref="InvalidDataException">The peer sent something that is not a frame.</exception>
    public async Task<Frame?> ReadAsync(CancellationToken cancellationToken)
    {
        if (!await FillAsync(_header, cancellationToken).ConfigureAwait(false))
        {
            return null;
        }
        var kind = (FrameKind)_header[0];
        var length = BinaryPrimitives.ReadInt32LittleEndian(_header.AsSpan(1));
        if (kind is not (FrameKind.Message or FrameKind.ResultChunk))
        {
            throw new InvalidDataException($"unknown frame kind {(byte)kind}");
        }
        if (length is < 0 or > MaxFrameBytes)
        {
            throw new InvalidDataException($"frame length {length} is out of range");
        }
        var payload = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
        if (!await FillAsync(payload.AsMemory(0, length), cancellationToken).ConfigureAwait(false))
        {
            ArrayPool<byte>.Shared.Return(payload);
            throw new InvalidDataException("the stream ended inside a frame");
        }
        return new Frame(kind, payload, length);
    }

    private async Task<bool> FillAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            var n = await stream.ReadAsync(buffer[read..], cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                return read == 0 && buffer.Length > 0
                    ? false
                    : throw new InvalidDataException("the stream ended inside a frame");
            }
            read += n;
        }
        return true;
    }

    public void Dispose() => stream.Dispose();
}

/// <summary>One received frame; <see cref="Dispose"/> returns its pooled buffer.</summary>
internal sealed class Frame(FrameKind kind, byte[] buffer, int length) : IDisposable
{
    public FrameKind Kind { get; } = kind;

    public ReadOnlySpan<byte> Payload => buffer.AsSpan(0, length);

    public WorkerMessage ToMessage() =>
        JsonSerializer.Deserialize(Payload, WorkerJson.Default.WorkerMessage)
        ?? throw new InvalidDataException("an empty message");

    public void Dispose() => ArrayPool<byte>.Shared.Return(buffer);
}

/// <summary>A stream that cuts what is written into result-chunk frames.</summary>
internal sealed class ResultChunkStream(WorkerChannel channel) : Stream
{
    public long BytesWritten { get; private set; }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            var take = Math.Min(buffer.Length, WorkerChannel.ChunkBytes);
            channel.Write(FrameKind.ResultChunk, buffer[..take]);
            BytesWritten += take;
            buffer = buffer[take..];
        }
    }

    public override void Write(byte[] buffer, int offset, int count) =>
        Write(buffer.AsSpan(offset, count));

    public override void Flush() { }

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) =>
        throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
