using System.Numerics;

namespace Microkernel.Contracts;

/// <summary>
/// A write-only stream for a section's JSON whose size is not known in advance. The first MiB
/// stays in memory; beyond that the stream moves to a file in the module's scratch folder, so a
/// large section costs disk, not memory, while a small one never touches the disk. Create it with
/// <see cref="ProcessingContext.CreateSectionStream"/>, write one JSON value, and return
/// <see cref="ToSection"/> from the module.
/// </summary>
/// <remarks>
/// Why not always a file: creating and deleting a scratch file per section costs inode
/// allocation and, on file systems mounted with online discard, a synchronous disk command per
/// freed block; a daemon processing small analyses spends more on that than on the JSON.
/// </remarks>
public sealed class SectionStream : Stream
{
    // Below the large object heap's 85,000-byte threshold: a small section never causes a
    // gen-2 collection.
    internal const int ChunkSize = 32 * 1024;

    // Chunks start small and double up to ChunkSize: most sections are a few hundred bytes,
    // and a daemon on small analyses spent more time allocating (and zeroing) their unused
    // 32 KiB than writing them.
    internal const int FirstChunkSize = 512;

    private readonly Func<string> _spillPath;
    private readonly long _memoryLimit;
    private readonly List<byte[]> _chunks = [];
    private int _lastUsed;
    private long _length;
    private FileStream? _file;
    private string? _path;
    private bool _completed;

    internal SectionStream(Func<string> spillPath, long memoryLimit = 1 << 20)
    {
        _spillPath = spillPath;
        _memoryLimit = memoryLimit;
    }

    /// <inheritdoc />
    public override bool CanRead => false;

    /// <inheritdoc />
    public override bool CanSeek => false;

    /// <inheritdoc />
    public override bool CanWrite => !_completed;

    /// <inheritdoc />
    public override long Length => _length;

    /// <inheritdoc />
    public override long Position
    {
        get => _length;
        set => throw new NotSupportedException();
    }

    /// <inheritdoc />
    public override void Write(byte[] buffer, int offset, int count) =>
        Write(buffer.AsSpan(offset, count));

    /// <inheritdoc />
    public override void Write(ReadOnlySpan<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        if (_file is null && _length + buffer.Length > _memoryLimit)
        {
            Spill();
        }
        if (_file is not null)
        {
            _file.Write(buffer);
            _length += buffer.Length;
            return;
        }
        while (!buffer.IsEmpty)
        {
            if (_chunks.Count == 0 || _lastUsed == _chunks[^1].Length)
            {
                _chunks.Add(NewChunk(buffer.Length));
                _lastUsed = 0;
            }
            var take = Math.Min(buffer.Length, _chunks[^1].Length - _lastUsed);
            buffer[..take].CopyTo(_chunks[^1].AsSpan(_lastUsed));
            _lastUsed += take;
            _length += take;
            buffer = buffer[take..];
        }
    }

    /// <summary>
    /// Twice the last chunk, or what this write needs when that is more (rounded up to a power of
    /// two), never more than <see cref="ChunkSize"/>. Uninitialised: every byte read back was written.
    /// </summary>
    private byte[] NewChunk(int writing)
    {
        var wanted = _chunks.Count == 0 ? FirstChunkSize : _chunks[^1].Length * 2;
        var size = (int)
            Math.Min(ChunkSize, Math.Max(wanted, BitOperations.RoundUpToPowerOf2((uint)writing)));
        return GC.AllocateUninitializedArray<byte>(size);
    }

    /// <inheritdoc />
    public override void WriteByte(byte value) => Write([value]);

    /// <inheritdoc />
    public override Task WriteAsync(
        byte[] buffer,
        int offset,
        int count,
        CancellationToken cancellationToken
    ) => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <inheritdoc />
    public override ValueTask WriteAsync(
        ReadOnlyMemory<byte> buffer,
        CancellationToken cancellationToken
    )
    {
        cancellationToken.ThrowIfCancellationRequested();
        Write(buffer.Span);
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public override void Flush() => _file?.Flush();

    /// <inheritdoc />
    public override int Read(byte[] buffer, int offset, int count) =>
        throw new NotSupportedException();

    /// <inheritdoc />
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <inheritdoc />
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <summary>
    /// Ends the stream and hands its content over as the module's result. The host takes
    /// ownership of the content (and deletes the file when there is one).
    /// </summary>
    public JsonSection ToSection()
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        _completed = true;
        if (_file is not null)
        {
            _file.Dispose();
            _file = null;
            return JsonSection.FromFile(_path!);
        }
        var chunks = _chunks.ToArray();
        _chunks.Clear();
        return JsonSection.FromChunks(chunks, _length);
    }

    /// <summary>Without <see cref="ToSection"/>, the content is dropped and its file deleted.</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing && !_completed)
        {
            _completed = true;
            _chunks.Clear();
            if (_file is not null)
            {
                _file.Dispose();
                _file = null;
                try
                {
                    File.Delete(_path!);
                }
                catch (IOException) { }
                catch (UnauthorizedAccessException) { }
            }
        }
        base.Dispose(disposing);
    }

    private void Spill()
    {
        _path = _spillPath();
        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
        // CreateNew: a truncating open makes ext4 flush the file when it is closed.
        _file = new FileStream(
            _path,
            FileMode.CreateNew,
            FileAccess.Write,
            FileShare.None,
            1 << 16
        );
        WriteChunks(_chunks, _length, _file);
        _chunks.Clear();
    }

    /// <summary>Writes the first <paramref name="length"/> bytes of <paramref name="chunks"/> (the last one partly used).</summary>
    internal static void WriteChunks(IReadOnlyList<byte[]> chunks, long length, Stream destination)
    {
        foreach (var chunk in chunks)
        {
            var take = (int)Math.Min(length, chunk.Length);
            destination.Write(chunk, 0, take);
            length -= take;
        }
    }
}
