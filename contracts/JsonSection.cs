namespace Microkernel.Contracts;

/// <summary>
/// A module result that is already JSON. Large sections can be streamed to a file (for example
/// under <see cref="ProcessingContext.ScratchPath"/>) and handed over by path: the host splices
/// the file into the report without parsing it into memory. A section whose size is not known
/// in advance is best written to <see cref="ProcessingContext.CreateSectionStream"/>.
/// </summary>
public sealed class JsonSection
{
    private readonly byte[][]? _chunks;
    private ReadOnlyMemory<byte> _utf8;

    private JsonSection(
        ReadOnlyMemory<byte> utf8,
        string? filePath,
        byte[][]? chunks = null,
        long length = 0
    )
    {
        _utf8 = utf8;
        FilePath = filePath;
        _chunks = chunks;
        Length = chunks is null ? utf8.Length : length;
    }

    /// <summary>UTF-8 JSON held in memory; empty when <see cref="FilePath"/> is set.</summary>
    public ReadOnlyMemory<byte> Utf8
    {
        get
        {
            if (_chunks is not null && _utf8.Length != Length)
            {
                _utf8 = Join(_chunks, Length);
            }
            return _utf8;
        }
    }

    /// <summary>A file holding one UTF-8 JSON value; the host takes ownership and deletes it.</summary>
    public string? FilePath { get; }

    /// <summary>The in-memory content as written by a <see cref="SectionStream"/>: full chunks, the last one partly used.</summary>
    internal IReadOnlyList<byte[]>? Chunks => _chunks;

    /// <summary>Bytes held in memory.</summary>
    internal long Length { get; }

    /// <summary>Wraps UTF-8 JSON bytes (one JSON value).</summary>
    public static JsonSection FromUtf8(ReadOnlyMemory<byte> utf8Json) => new(utf8Json, null);

    /// <summary>Wraps a file holding one UTF-8 JSON value; the host moves or deletes it.</summary>
    public static JsonSection FromFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return new(ReadOnlyMemory<byte>.Empty, Path.GetFullPath(path));
    }

    internal static JsonSection FromChunks(byte[][] chunks, long length) =>
        new(ReadOnlyMemory<byte>.Empty, null, chunks, length);

    private static byte[] Join(byte[][] chunks, long length)
    {
        var joined = GC.AllocateUninitializedArray<byte>(checked((int)length));
        var at = 0;
        foreach (var chunk in chunks)
        {
            var take = Math.Min(chunk.Length, joined.Length - at);
            chunk.AsSpan(0, take).CopyTo(joined.AsSpan(at));
            at += take;
        }
        return joined;
    }
}
