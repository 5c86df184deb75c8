using System.Globalization;
using System.Runtime.CompilerServices;

namespace Microkernel.Plugins.Network.Dissection;

/// <summary>
/// HTTP request/response parsing with the acceptance rules of dpkt 1.8.7's <c>http</c> module
/// as patched by httpreplay (a Content-Length body may be cut short).
/// </summary>
internal sealed class HttpMessage
{
    private static readonly HashSet<string> Methods = new(StringComparer.Ordinal)
    {
        "GET",
        "PUT",
        "ICY",
        "COPY",
        "HEAD",
        "LOCK",
        "MOVE",
        "POLL",
        "POST",
        "BCOPY",
        "BMOVE",
        "MKCOL",
        "TRACE",
        "LABEL",
        "MERGE",
        "DELETE",
        "SEARCH",
        "UNLOCK",
        "REPORT",
        "UPDATE",
        "NOTIFY",
        "BDELETE",
        "CONNECT",
        "OPTIONS",
        "CHECKIN",
        "PROPFIND",
        "CHECKOUT",
        "CCM_POST",
        "SUBSCRIBE",
        "PROPPATCH",
        "BPROPFIND",
        "BPROPPATCH",
        "UNCHECKOUT",
        "MKACTIVITY",
        "MKWORKSPACE",
        "UNSUBSCRIBE",
        "RPC_CONNECT",
        "VERSION-CONTROL",
        "BASELINE-CONTROL",
    };

    // Lookups by the bytes' characters: parsing runs on every TCP payload that starts with a
    // capital letter, and a method or header name already known needs no new string.
    private static readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> MethodLookup =
        Methods.GetAlternateLookup<ReadOnlySpan<char>>();

    private static readonly HashSet<string> KnownHeaders = new(StringComparer.Ordinal)
    {
        "host",
        "user-agent",
        "accept",
        "accept-encoding",
        "accept-language",
        "accept-ranges",
        "age",
        "authorization",
        "cache-control",
        "connection",
        "content-encoding",
        "content-length",
        "content-type",
        "cookie",
        "date",
        "etag",
        "expires",
        "keep-alive",
        "last-modified",
        "location",
        "pragma",
        "referer",
        "server",
        "set-cookie",
        "transfer-encoding",
        "vary",
        "via",
        "x-powered-by",
    };

    private static readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> KnownHeaderLookup =
        KnownHeaders.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>Lower-cases a header name as <c>str.lower()</c> on latin-1 text would.</summary>
    private static string HeaderName(ReadOnlySpan<byte> name)
    {
        if (name.Length > 64)
        {
            return Text.Latin1(name).ToLowerInvariant();
        }
        Span<char> chars = stackalloc char[name.Length];
        for (var i = 0; i < name.Length; i++)
        {
            chars[i] = char.ToLowerInvariant((char)name[i]);
        }
        return KnownHeaderLookup.TryGetValue(chars, out var known) ? known : new string(chars);
    }

    public enum Outcome
    {
        /// <summary>The first line is not a request/status line: not HTTP at all.</summary>
        NotHttp,

        /// <summary>The first line parsed, headers or body did not (dpkt's UnpackError after the line).</summary>
        Partial,
        Complete,

        /// <summary>A non-numeric Content-Length: dpkt raises ValueError, which Cuckoo does not expect.</summary>
        Crash,
    }

    public string Method = "GET";
    public byte[] Uri = [];
    public byte[] Version = [];
    public int Status;
    public bool HeadersParsed;
    public bool BodyParsed;

    /// <summary>Header values by lower-case name; a repeated header keeps all values.</summary>
    public Dictionary<string, List<byte[]>> Headers { get; } = new(StringComparer.Ordinal);

    // The body is a slice of the parsed bytes (no copy) unless it had to be de-chunked.
    private byte[]? _ownedBody;
    private int _bodyOffset;
    private int _bodyLength;

    /// <summary>The body within <paramref name="parsed"/>, the bytes this message was parsed from.</summary>
    public ReadOnlySpan<byte> BodyIn(ReadOnlySpan<byte> parsed) =>
        _ownedBody is not null ? _ownedBody : parsed.Slice(_bodyOffset, _bodyLength);

    /// <inheritdoc cref="BodyIn(ReadOnlySpan{byte})"/>
    public ReadOnlyMemory<byte> BodyIn(ReadOnlyMemory<byte> parsed) =>
        _ownedBody is not null ? _ownedBody : parsed.Slice(_bodyOffset, _bodyLength);

    public byte[]? Header(string lowerName) =>
        Headers.TryGetValue(lowerName, out var values) && values.Count == 1 ? values[0] : null;

    public bool HeaderRepeated(string lowerName) =>
        Headers.TryGetValue(lowerName, out var values) && values.Count > 1;

    /// <summary>Quick test run on every TCP payload before the full parse.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool MayBeRequest(ReadOnlySpan<byte> data)
    {
        var start = 0;
        while (start < data.Length && Text.IsPythonSpace(data[start]))
        {
            start++;
        }
        return start < data.Length && data[start] is >= (byte)'A' and <= (byte)'Z';
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static Outcome ParseRequest(ReadOnlySpan<byte> data, HttpMessage message)
    {
        var rest = data;
        var line = Text.ReadLine(ref rest);
        Span<Range> parts = stackalloc Range[4];
        var stripped = Text.Strip(line);
        var count = Text.Split(stripped, parts, int.MaxValue);
        if (count < 2)
        {
            return Outcome.NotHttp;
        }
        var method = stripped[parts[0]];
        if (method.Length > 20)
        {
            return Outcome.NotHttp;
        }
        Span<char> methodChars = stackalloc char[method.Length];
        for (var i = 0; i < method.Length; i++)
        {
            methodChars[i] = (char)method[i];
        }
        if (!MethodLookup.TryGetValue(methodChars, out var methodName))
        {
            return Outcome.NotHttp;
        }
        byte[] version;
        if (count == 2)
        {
            version = "0.9"u8.ToArray();
        }
        else
        {
            var protocol = stripped[parts[2]];
            if (!protocol.StartsWith("HTTP"u8))
            {
                return Outcome.NotHttp;
            }
            version = protocol.Length > 5 ? protocol[5..].ToArray() : [];
        }
        message.Method = methodName;
        message.Uri = stripped[parts[1]].ToArray();
        message.Version = version;
        return ParseHeadersAndBody(rest, data.Length - rest.Length, message);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static Outcome ParseResponse(ReadOnlySpan<byte> data, HttpMessage message)
    {
        var rest = data;
        var line = Text.ReadLine(ref rest);
        Span<Range> parts = stackalloc Range[3];
        var stripped = Text.Strip(line);
        var count = Text.Split(stripped, parts, 3);
        if (count < 2 || !stripped[parts[0]].StartsWith("HTTP"u8))
        {
            return Outcome.NotHttp;
        }
        var status = stripped[parts[1]];
        foreach (var b in status)
        {
            if (b is < (byte)'0' or > (byte)'9')
            {
                return Outcome.NotHttp;
            }
        }
        message.Status =
            status.Length > 9
                ? 0
                : int.Parse(status, NumberStyles.None, CultureInfo.InvariantCulture);
        return ParseHeadersAndBody(rest, data.Length - rest.Length, message);
    }

    /// <param name="restOffset">Where <paramref name="rest"/> starts in the parsed bytes.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static Outcome ParseHeadersAndBody(
        ReadOnlySpan<byte> rest,
        int restOffset,
        HttpMessage message
    )
    {
        var length0 = rest.Length;
        var headers = message.Headers;
        Span<Range> keyParts = stackalloc Range[2];
        while (true)
        {
            if (rest.IsEmpty)
            {
                headers.Clear();
                return Outcome.Partial; // premature end of headers
            }
            var line = Text.Strip(Text.ReadLine(ref rest));
            if (line.IsEmpty)
            {
                break;
            }
            var colon = line.IndexOf((byte)':');
            var key = colon < 0 ? line : line[..colon];
            if (Text.Split(key, keyParts, int.MaxValue) != 1)
            {
                headers.Clear();
                return Outcome.Partial; // invalid header
            }
            var value = colon < 0 ? [] : Text.LStrip(line[(colon + 1)..]);
            var name = HeaderName(key);
            if (!headers.TryGetValue(name, out var values))
            {
                headers[name] = values = [];
            }
            values.Add(value.ToArray());
        }
        message.HeadersParsed = true;

        if (
            headers.TryGetValue("transfer-encoding", out var te)
            && te.Count == 1
            && Text.Latin1(te[0]).Equals("chunked", StringComparison.OrdinalIgnoreCase)
        )
        {
            var body = ReadChunked(ref rest, out var ok);
            if (!ok)
            {
                return Outcome.Partial;
            }
            message._ownedBody = body;
        }
        else if (headers.TryGetValue("content-length", out var cl))
        {
            if (cl.Count != 1 || !TryParsePythonInt(cl[0], out var length))
            {
                return Outcome.Crash;
            }
            // Python's f.read(n) reads everything for a negative n.
            var take = length < 0 ? rest.Length : (int)Math.Min(length, rest.Length);
            message._bodyOffset = restOffset + (length0 - rest.Length);
            message._bodyLength = take;
        }
        else if (headers.ContainsKey("content-type"))
        {
            message._bodyOffset = restOffset + (length0 - rest.Length);
            message._bodyLength = rest.Length;
        }
        message.BodyParsed = true;
        return Outcome.Complete;
    }

    private static byte[] ReadChunked(ref ReadOnlySpan<byte> rest, out bool ok)
    {
        using var body = new MemoryStream();
        while (true)
        {
            var lineSource = rest.Length > 128 ? rest[..128] : rest;
            var newline = lineSource.IndexOf((byte)'\n');
            var line = newline < 0 ? lineSource : lineSource[..(newline + 1)];
            rest = rest[line.Length..];
            if (line.IsEmpty)
            {
                ok = false;
                return [];
            }
            if (line.SequenceEqual("\r\n"u8) || line.SequenceEqual("\n"u8))
            {
                continue;
            }
            if (!TryParseHex(Text.Strip(line), out var length))
            {
                ok = false;
                return [];
            }
            var take = (int)Math.Min(length, rest.Length);
            var chunk = rest[..take];
            rest = rest[take..];
            var suffixSource = rest.Length > 5 ? rest[..5] : rest;
            var suffixEnd = suffixSource.IndexOf((byte)'\n');
            var suffix = suffixEnd < 0 ? suffixSource : suffixSource[..(suffixEnd + 1)];
            rest = rest[suffix.Length..];
            if (!suffix.SequenceEqual("\r\n"u8))
            {
                ok = false;
                return [];
            }
            if (length == 0)
            {
                ok = true;
                return body.ToArray();
            }
            body.Write(chunk);
        }
    }

    private static bool TryParseHex(ReadOnlySpan<byte> text, out long value)
    {
        value = 0;
        if (text.IsEmpty || text.Length > 15)
        {
            return false;
        }
        foreach (var b in text)
        {
            var digit = b switch
            {
                >= (byte)'0' and <= (byte)'9' => b - '0',
                >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
                >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
                _ => -1,
            };
            if (digit < 0)
            {
                return false;
            }
            value = value * 16 + digit;
        }
        return true;
    }

    private static bool TryParsePythonInt(ReadOnlySpan<byte> text, out long value)
    {
        var s = Text.Strip(text);
        return long.TryParse(
            Text.Latin1(s),
            NumberStyles.AllowLeadingSign,
            CultureInfo.InvariantCulture,
            out value
        );
    }
}
