namespace Microkernel.Contracts;

/// <summary>
/// A module result that is already JSON. Large sections can be streamed to a file (for example
/// under <see cref="ProcessingContext.ScratchPath"/>) and handed over by path: the host splices
/// the file into the report without parsing it into memory.
/// </summary>
public sealed class JsonSection
{
    private JsonSection(ReadOnlyMemory<byte> utf8, string? filePath)
    {
        Utf8 = utf8;
        FilePath = filePath;
    }

    /// <summary>UTF-8 JSON held in memory; empty when <see cref="FilePath"/> is set.</summary>
    public ReadOnlyMemory<byte> Utf8 { get; }

    /// <summary>A file holding one UTF-8 JSON value; the host takes ownership and deletes it.</summary>
    public string? FilePath { get; }

    /// <summary>Wraps UTF-8 JSON bytes (one JSON value).</summary>
    public static JsonSection FromUtf8(ReadOnlyMemory<byte> utf8Json) => new(utf8Json, null);

    /// <summary>Wraps a file holding one UTF-8 JSON value; the host moves or deletes it.</summary>
    public static JsonSection FromFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return new(ReadOnlyMemory<byte>.Empty, Path.GetFullPath(path));
    }
}
