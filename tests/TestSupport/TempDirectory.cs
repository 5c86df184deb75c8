namespace Microkernel.TestSupport;

/// <summary>A temporary folder deleted on dispose; <see cref="CopyOf"/> clones an analysis folder so tests never write into fixtures.</summary>
public sealed class TempDirectory : IDisposable
{
    private TempDirectory(string path) => Path = path;

    /// <summary>The folder.</summary>
    public string Path { get; }

    /// <summary>A new empty folder.</summary>
    public static TempDirectory Create()
    {
        var path = System.IO.Path.Combine(
            System.IO.Path.GetTempPath(),
            "microkernel-tests",
            Guid.NewGuid().ToString("N")
        );
        Directory.CreateDirectory(path);
        return new TempDirectory(path);
    }

    /// <summary>A writable copy of <paramref name="source"/>.</summary>
    public static TempDirectory CopyOf(string source)
    {
        var temp = Create();
        CopyTree(source, temp.Path);
        return temp;
    }

    /// <summary>Copies a folder tree; copies are writable even when the source is read-only (shared fixtures).</summary>
    public static void CopyTree(string source, string target)
    {
        Directory.CreateDirectory(target);
        foreach (
            var dir in Directory.EnumerateDirectories(source, "*", SearchOption.AllDirectories)
        )
        {
            Directory.CreateDirectory(
                System.IO.Path.Combine(target, System.IO.Path.GetRelativePath(source, dir))
            );
        }
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var copy = System.IO.Path.Combine(target, System.IO.Path.GetRelativePath(source, file));
            File.Copy(file, copy);
            File.SetAttributes(copy, FileAttributes.Normal);
        }
    }

    /// <summary>A path inside the folder.</summary>
    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    /// <inheritdoc />
    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
