using System.Buffers;
using System.Globalization;
using System.IO.Hashing;
using System.Security.Cryptography;
using Microkernel.Plugins.FileDescription.Native;

namespace Microkernel.Plugins.FileDescription.Hashing;

/// <summary>The digests Cuckoo's <c>File.calc_hashes</c> + <c>get_ssdeep</c> give for one file.</summary>
/// <param name="Size">Bytes read.</param>
/// <param name="Crc32">8 upper-case hex digits, most significant byte first (Cuckoo's <c>"%02X"</c> of bytes 24, 16, 8, 0).</param>
/// <param name="Md5">Lower-case hex.</param>
/// <param name="Sha1">Lower-case hex.</param>
/// <param name="Sha256">Lower-case hex.</param>
/// <param name="Sha512">Lower-case hex.</param>
/// <param name="Ssdeep">libfuzzy digest, null when libfuzzy is unavailable (as Cuckoo without pydeep).</param>
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
    /// <summary>Chunk size: big enough to amortise the per-chunk fan-out, small enough for a flat memory profile.</summary>
    public const int ChunkSize = 4 * 1024 * 1024;

    /// <summary>
    /// Hashes <paramref name="path"/> in one sequential read. Each chunk is fed to the six
    /// digests in parallel while the next chunk is read, so wall time approaches the slowest
    /// digest (SHA-512) instead of the sum of all six. Memory: two chunk buffers.
    /// </summary>
    public static FileHashes Compute(
        string path,
        CancellationToken cancellationToken = default,
        Action<string>? warn = null
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
        return Compute(stream, length >= 0 ? length : null, cancellationToken, warn);
    }

    /// <summary>Hashes a stream from its current position to its end.</summary>
    public static FileHashes Compute(
        Stream stream,
        long? expectedLength,
        CancellationToken cancellationToken = default,
        Action<string>? warn = null
    )
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        using var sha1 = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
        using var sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var sha512 = IncrementalHash.CreateHash(HashAlgorithmName.SHA512);
        var crc = new Crc32();
        using var fuzzy = FuzzyHash.TryCreate(expectedLength, out var fuzzyFailure);
        if (fuzzy is null)
        {
            warn?.Invoke($"ssdeep unavailable: {fuzzyFailure}");
        }

        var current = ArrayPool<byte>.Shared.Rent(ChunkSize);
        var next = ArrayPool<byte>.Shared.Rent(ChunkSize);
        long size = 0;
        try
        {
            var read = ReadFull(stream, current);
            while (read > 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var chunk = current;
                var count = read;
                // Read ahead on this thread while the workers digest the current chunk.
                var nextRead = 0;
                Parallel.Invoke(
                    () => sha512.AppendData(chunk, 0, count),
                    () => md5.AppendData(chunk, 0, count),
                    () =>
                    {
                        sha1.AppendData(chunk, 0, count);
                        crc.Append(chunk.AsSpan(0, count));
                    },
                    () =>
                    {
                        sha256.AppendData(chunk, 0, count);
                        fuzzy?.Append(chunk.AsSpan(0, count));
                    },
                    () => nextRead = ReadFull(stream, next)
                );
                size += count;
                (current, next) = (next, current);
                read = nextRead;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(current);
            ArrayPool<byte>.Shared.Return(next);
        }

        return new FileHashes(
            size,
            crc.GetCurrentHashAsUInt32().ToString("X8", CultureInfo.InvariantCulture),
            Convert.ToHexStringLower(md5.GetHashAndReset()),
            Convert.ToHexStringLower(sha1.GetHashAndReset()),
            Convert.ToHexStringLower(sha256.GetHashAndReset()),
            Convert.ToHexStringLower(sha512.GetHashAndReset()),
            fuzzy?.Digest()
        );
    }

    private static int ReadFull(Stream stream, byte[] buffer)
    {
        var total = 0;
        while (total < ChunkSize)
        {
            var read = stream.Read(buffer, total, ChunkSize - total);
            if (read == 0)
            {
                break;
            }
            total += read;
        }
        return total;
    }
}
