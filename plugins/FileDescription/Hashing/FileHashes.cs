using System.Globalization;
using System.IO.Hashing;
using System.Security.Cryptography;
using Microkernel.Plugins.FileDescription.Urls;

namespace Microkernel.Plugins.FileDescription.Hashing;

/// <summary>The digests Cuckoo's <c>File.calc_hashes</c> + <c>get_ssdeep</c> give for one file.</summary>
/// <param name="Size">Bytes read.</param>
/// <param name="Crc32">8 upper-case hex digits, most significant byte first (Cuckoo's <c>"%02X"</c> of bytes 24, 16, 8, 0).</param>
/// <param name="Md5">Lower-case hex.</param>
/// <param name="Sha1">Lower-case hex.</param>
/// <param name="Sha256">Lower-case hex.</param>
/// <param name="Sha512">Lower-case hex.</param>
/// <param name="Ssdeep">The ssdeep digest; null when libfuzzy would fail too (the file changed size while being read, or is beyond ssdeep's limit).</param>
public sealed record FileHashes(
    long Size,
    string Crc32,
    string Md5,
    string Sha1,
    string Sha256,
    string Sha512,
    string? Ssdeep
)
{
    /// <summary>Bytes per read; inputs up to this size are hashed on the calling thread alone.</summary>
    public const int ChunkSize = OnePass.ChunkSize;

    /// <summary>Hashes <paramref name="path"/> in one sequential read (see <see cref="Compute(Stream, long?, CancellationToken, Action{string}, UrlScanner)"/>).</summary>
    public static FileHashes Compute(
        string path,
        CancellationToken cancellationToken = default,
        Action<string>? warn = null,
        UrlScanner? urls = null
    )
    {
        using var stream = new FileStream(
            path,
            FileMode.Open,
            FileAccess.Read,
            FileShare.Read,
            bufferSize: 0,
            FileOptions.SequentialScan
        );
        long length;
        try
        {
            length = stream.Length;
        }
        catch (NotSupportedException)
        {
            length = -1;
        }
        return Compute(stream, length >= 0 ? length : null, cancellationToken, warn, urls);
    }

    /// <summary>
    /// Hashes a stream from its current position to its end in one read, optionally feeding the
    /// same chunks to a URL scanner. The digests run side by side on the machine's cores (see
    /// <see cref="OnePass"/>), so wall time approaches the total work divided by the cores.
    /// </summary>
    public static FileHashes Compute(
        Stream stream,
        long? expectedLength,
        CancellationToken cancellationToken = default,
        Action<string>? warn = null,
        UrlScanner? urls = null
    )
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        using var sha1 = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
        using var sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var sha512 = IncrementalHash.CreateHash(HashAlgorithmName.SHA512);
        var crc = new Crc32();
        var fuzzy = new Ssdeep();
        if (expectedLength is { } length && length >= 0)
        {
            // As the ssdeep tool does; a length beyond ssdeep's limit is ignored, as by libfuzzy.
            fuzzy.SetTotalLength((ulong)length);
        }

        // Slowest first: with more digests than cores, a core that finds several ready starts
        // with the one most likely to hold everything up.
        var lanes = new List<OnePass.Lane>
        {
            (buffer, count) => md5.AppendData(buffer, OnePass.Gap, count),
            (buffer, count) => sha512.AppendData(buffer, OnePass.Gap, count),
            (buffer, count) => fuzzy.Append(buffer.AsSpan(OnePass.Gap, count)),
            (buffer, count) => sha256.AppendData(buffer, OnePass.Gap, count),
            (buffer, count) => sha1.AppendData(buffer, OnePass.Gap, count),
            (buffer, count) => crc.Append(buffer.AsSpan(OnePass.Gap, count)),
        };
        if (urls is not null)
        {
            lanes.Add(urls.Append);
        }
        var size = OnePass.Run(stream, expectedLength, lanes, cancellationToken);

        var ssdeep = fuzzy.Digest();
        if (ssdeep is null)
        {
            warn?.Invoke(
                $"ssdeep unavailable: {size} bytes read where {expectedLength} were expected, or beyond ssdeep's {Hashing.Ssdeep.MaxTotalSize} bytes"
            );
        }
        return new FileHashes(
            size,
            crc.GetCurrentHashAsUInt32().ToString("X8", CultureInfo.InvariantCulture),
            Convert.ToHexStringLower(md5.GetHashAndReset()),
            Convert.ToHexStringLower(sha1.GetHashAndReset()),
            Convert.ToHexStringLower(sha256.GetHashAndReset()),
            Convert.ToHexStringLower(sha512.GetHashAndReset()),
            ssdeep
        );
    }
}
