using Microkernel.Contracts;

namespace Microkernel.Host.Results;

/// <summary>
/// One section's UTF-8 JSON: a file, or chunks held in memory. Small sections stay in memory so
/// that a small analysis creates and deletes no scratch files (see <see cref="SectionStream"/>).
/// </summary>
internal sealed class SectionContent
{
    private readonly IReadOnlyList<byte[]>? _chunks;
    private readonly long _length;

    private SectionContent(string? filePath, IReadOnlyList<byte[]>? chunks, long length)
    {
        FilePath = filePath;
        _chunks = chunks;
        _length = length;
    }

    /// <summary>The file holding the section, or null when it is held in memory.</summary>
    public string? FilePath { get; }

    public static SectionContent OfFile(string path) => new(path, null, 0);

    public static SectionContent OfMemory(ReadOnlyMemory<byte> utf8) =>
        new(null, [utf8.ToArray()], utf8.Length);

    /// <summary>A completed section stream or a module's <see cref="JsonSection"/>.</summary>
    public static SectionContent Of(JsonSection section) =>
        section switch
        {
            { FilePath: { } path } => OfFile(path),
            { Chunks: { } chunks } => new(null, chunks, section.Length),
            _ => OfMemory(section.Utf8),
        };

    public Stream OpenRead() =>
        FilePath is { } path
            ? new FileStream(
                path,
                FileMode.Open,
                FileAccess.Read,
                FileShare.Read,
                1 << 16,
                FileOptions.SequentialScan
            )
            : new ChunkStream(_chunks!, _length);

    /// <summary>Copies the section to <paramref name="destination"/>; chunks held in memory go as they are, with no copy buffer.</summary>
    public void CopyTo(Stream destination)
    {
        if (FilePath is not null)
        {
            using var source = OpenRead();
            source.CopyTo(destination, 1 << 16);
            return;
        }
        SectionStream.WriteChunks(_chunks!, _length, destination);
    }

    /// <summary>Deletes the file, if there is one.</summary>
    public void Delete()
    {
        if (FilePath is { } path)
        {
            SectionStore.TryDelete(path);
        }
    }

    /// <summary>Reads the chunks in order; only the first <c>length</c> bytes count (the last chunk is partly used).</summary>
    private sealed class ChunkStream(IReadOnlyList<byte[]> chunks, long length) : Stream
    {
        private long _position;
        private int _chunk;
        private int _offset;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => length;

        public override long Position
        {
            get => _position;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) =>
            Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var read = 0;
            while (!buffer.IsEmpty && _position < length)
            {
                var chunk = chunks[_chunk];
                var take = (int)
                    Math.Min(Math.Min(buffer.Length, chunk.Length - _offset), length - _position);
                chunk.AsSpan(_offset, take).CopyTo(buffer);
                buffer = buffer[take..];
                _position += take;
                _offset += take;
                read += take;
                if (_offset == chunk.Length)
                {
                    _chunk++;
                    _offset = 0;
                }
            }
            return read;
        }

        public override void Flush() { }

        public override long Seek(long offset, SeekOrigin origin) =>
            throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) =>
            throw new NotSupportedException();
    }
}
