namespace Microkernel.Plugins.FileDescription.Urls;

/// <summary>
/// <see cref="UrlExtractor"/> fed chunk by chunk, so it can share one read of a file with the
/// hashes. A URL may cross a chunk boundary: the scanner keeps the unfinished tail (under
/// <see cref="UrlExtractor.MaxUrlLength"/> bytes) and puts it in front of the next chunk, in the
/// <see cref="Gap"/> the caller leaves there, so the chunk itself is never copied.
/// </summary>
public sealed class UrlScanner(IReadOnlySet<string>? safelist = null)
{
    /// <summary>Bytes a caller leaves free before each chunk; the scanner writes there.</summary>
    public const int Gap = UrlExtractor.MaxUrlLength;

    private readonly HashSet<string> _seen = new(StringComparer.Ordinal);
    private readonly List<string> _urls = [];

    // Grown on demand: the tail is usually a few bytes, and a scanner per file made a full-size
    // carry buffer one of a small analysis's largest allocations.
    private byte[] _carry = [];
    private int _carried;

    /// <summary>Scans the chunk at <c>buffer[Gap .. Gap + count)</c>; the bytes before it may be overwritten.</summary>
    public void Append(byte[] buffer, int count)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, buffer.Length - Gap);
        var start = Gap - _carried;
        _carry.AsSpan(0, _carried).CopyTo(buffer.AsSpan(start));
        var window = buffer.AsSpan(start, _carried + count);
        var consumed = UrlExtractor.Scan(window, atEnd: false, _seen, _urls, safelist);
        // Scan leaves less than MaxUrlLength undone (a candidate waiting for its end, or the
        // last three bytes, which may begin an "http").
        _carried = window.Length - consumed;
        if (_carry.Length < _carried)
        {
            _carry = new byte[Math.Min(Gap, Math.Max(_carried, _carry.Length * 2))];
        }
        window[consumed..].CopyTo(_carry);
    }

    /// <summary>Scans what is left at the end of the input; the distinct URLs in first-seen order.</summary>
    public IReadOnlyList<string> Finish()
    {
        UrlExtractor.Scan(_carry.AsSpan(0, _carried), atEnd: true, _seen, _urls, safelist);
        _carried = 0;
        return _urls;
    }
}
