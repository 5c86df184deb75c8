using Microkernel.Plugins.FileDescription.Hashing;
using Microkernel.Plugins.FileDescription.Native;
using Microkernel.Plugins.FileDescription.Urls;

namespace Microkernel.Plugins.FileDescription;

/// <summary>
/// Cuckoo's <c>File.get_all()</c>: <c>{name, path, size, crc32, md5, sha1, sha256, sha512, ssdeep,
/// type, yara, urls}</c> in Cuckoo's key order. One instance per thread of work (it owns a libmagic
/// cookie); dispose it when done.
/// </summary>
public sealed class FileDescriber : IDisposable
{
    private readonly MagicTypes? _magic;
    private readonly Action<string>? _warn;
    private readonly IReadOnlySet<string>? _urlSafelist;
    private bool _warnedSsdeep;

    /// <summary>Opens libmagic; problems are reported once through <paramref name="warn"/>.</summary>
    public FileDescriber(Action<string>? warn = null, IReadOnlySet<string>? urlSafelist = null)
    {
        _warn = warn;
        _urlSafelist = urlSafelist;
        _magic = MagicTypes.TryOpen(out var failure);
        if (_magic is null)
        {
            warn?.Invoke($"file types unavailable: {failure}");
        }
    }

    /// <summary>The libmagic description of a file (<c>file -b</c>), null without libmagic.</summary>
    public string? TypeOf(string path) => _magic?.OfFile(path);

    /// <summary>The libmagic description of a buffer, null without libmagic.</summary>
    public string? TypeOf(ReadOnlySpan<byte> data) => _magic?.OfBuffer(data);

    /// <summary>Describes <paramref name="path"/>; <paramref name="name"/> defaults to its file name.</summary>
    public Dictionary<string, object?> Describe(
        string path,
        string? name = null,
        CancellationToken cancellationToken = default
    )
    {
        // URLs are found in the same read as the hashes.
        var scanner = new UrlScanner(_urlSafelist);
        var hashes = FileHashes.Compute(path, cancellationToken, WarnSsdeepOnce, scanner);
        var urls = scanner.Finish();
        return new Dictionary<string, object?>
        {
            ["name"] = name ?? Path.GetFileName(path),
            ["path"] = path,
            ["size"] = hashes.Size,
            ["crc32"] = hashes.Crc32,
            ["md5"] = hashes.Md5,
            ["sha1"] = hashes.Sha1,
            ["sha256"] = hashes.Sha256,
            ["sha512"] = hashes.Sha512,
            ["ssdeep"] = hashes.Ssdeep,
            ["type"] = TypeOf(path),
            // No YARA engine is bundled; Cuckoo without yara-python gives [] as well.
            ["yara"] = Array.Empty<object>(),
            ["urls"] = urls,
        };
    }

    private void WarnSsdeepOnce(string message)
    {
        if (!_warnedSsdeep)
        {
            _warnedSsdeep = true;
            _warn?.Invoke(message);
        }
    }

    /// <inheritdoc />
    public void Dispose() => _magic?.Dispose();
}
