using System.Buffers;
using System.Text;
using System.Text.RegularExpressions;

namespace Microkernel.Plugins.FileDescription.Urls;

/// <summary>
/// Cuckoo's <c>File.get_urls</c>: its <c>URL_REGEX</c> over the raw bytes, one entry per distinct
/// URL. Cuckoo maps the whole file and runs the regex over it; we stream the file and run the same
/// regex only where a match can start (every match begins with <c>http</c>), so a 1 GiB file costs
/// one vectorised search for "http" plus a few short regex runs.
/// </summary>
public static partial class UrlExtractor
{
    /// <summary>
    /// Cuckoo's URL_REGEX verbatim, including its quirk: the IP branch is written as a character
    /// class that swallows <c>(?:</c>, so it only matches when the address is followed by <c>]</c>,
    /// and the joined groups then repeat the first octet. Plain IP URLs match the domain branch.
    /// </summary>
    private const string CuckooUrlPattern =
        @"\G(https?:\/\/)(([(?:[0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])\.(?:[0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])\.(?:[0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])\.(?:[0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])]|[a-zA-Z0-9\.-]+)(\:\d+)?(/[\(\)a-zA-Z0-9_:%?=/\.-]*)?";

    /// <summary>URLs longer than this are cut (Cuckoo has no limit; we bound memory on hostile input).</summary>
    public const int MaxUrlLength = 64 * 1024;

    private const int ChunkSize = 4 * 1024 * 1024;

    // Every byte a match can contain: the union of all classes of the pattern.
    private static readonly SearchValues<byte> UrlBytes = SearchValues.Create(
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ:/.-_%?=()[]"u8
    );

    [GeneratedRegex(CuckooUrlPattern, RegexOptions.CultureInvariant)]
    private static partial Regex CuckooUrl();

    /// <summary>Distinct URLs in first-seen order, minus those whose host is in <paramref name="safelist"/>.</summary>
    public static IReadOnlyList<string> Extract(
        string path,
        IReadOnlySet<string>? safelist = null,
        CancellationToken cancellationToken = default
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
        return Extract(stream, safelist, cancellationToken);
    }

    /// <summary>Distinct URLs of a stream, in first-seen order.</summary>
    public static IReadOnlyList<string> Extract(
        Stream stream,
        IReadOnlySet<string>? safelist = null,
        CancellationToken cancellationToken = default
    )
    {
        ArgumentNullException.ThrowIfNull(stream);
        var scanner = new UrlScanner(safelist);
        var buffer = ArrayPool<byte>.Shared.Rent(UrlScanner.Gap + ChunkSize);
        try
        {
            int read;
            while (
                (
                    read = stream.ReadAtLeast(
                        buffer.AsSpan(UrlScanner.Gap, ChunkSize),
                        ChunkSize,
                        throwOnEndOfStream: false
                    )
                ) > 0
            )
            {
                cancellationToken.ThrowIfCancellationRequested();
                scanner.Append(buffer, read);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        return scanner.Finish();
    }

    /// <summary>Finds matches in <paramref name="data"/>; returns how many bytes are done with.</summary>
    internal static int Scan(
        ReadOnlySpan<byte> data,
        bool atEnd,
        HashSet<string> seen,
        List<string> urls,
        IReadOnlySet<string>? safelist
    )
    {
        var position = 0;
        while (position < data.Length)
        {
            var hit = data[position..].IndexOf("http"u8);
            if (hit < 0)
            {
                // Keep 3 bytes: they may be the start of an "http" split by the chunk boundary.
                return atEnd ? data.Length : Math.Max(position, data.Length - 3);
            }
            var start = position + hit;
            var run = data[start..].IndexOfAnyExcept(UrlBytes);
            if (run < 0 && !atEnd && data.Length - start < MaxUrlLength)
            {
                // The candidate may continue in the next chunk.
                return start;
            }
            var length = Math.Min(run < 0 ? data.Length - start : run, MaxUrlLength);
            var candidate = Encoding.Latin1.GetString(data.Slice(start, length));
            var match = CuckooUrl().Match(candidate);
            if (match.Success)
            {
                if (safelist is null || !safelist.Contains(match.Groups[2].Value))
                {
                    // Python's "".join(findall(...)) over all five groups.
                    var url = string.Concat(
                        match.Groups[1].Value,
                        match.Groups[2].Value,
                        match.Groups[3].Value,
                        match.Groups[4].Value,
                        match.Groups[5].Value
                    );
                    if (seen.Add(url))
                    {
                        urls.Add(url);
                    }
                }
                position = start + Math.Max(match.Length, 1);
            }
            else
            {
                position = start + 1;
            }
        }
        return data.Length;
    }
}
