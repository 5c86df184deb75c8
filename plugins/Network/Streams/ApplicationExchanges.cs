using System.Buffers.Binary;
using System.IO.Compression;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Microkernel.Plugins.Network.Capture;
using Microkernel.Plugins.Network.Dissection;
using Microkernel.Plugins.Network.Output;

namespace Microkernel.Plugins.Network.Streams;

internal sealed class HttpExchange
{
    public required StreamKey Stream;
    public required double? Timestamp;
    public required string Method;

    /// <summary>The Host header (a list when repeated), or the server address.</summary>
    public required IReadOnlyList<string> Host;
    public required bool HostIsList;
    public required string Uri;
    public required int Status;

    /// <summary>Head of the raw request (latin-1 bytes), up to the blank line.</summary>
    public required ReadOnlyMemory<byte> Request;
    public required ReadOnlyMemory<byte> Response;
    public required BodyFile RequestBody;
    public required BodyFile ResponseBody;
}

internal sealed record BodyFile(string Path, string Md5, string Sha1);

internal sealed class SmtpExchange
{
    public required StreamKey Stream;
    public double? Timestamp;
    public string? Hostname;
    public List<string> MailFrom { get; } = [];
    public List<string> MailTo { get; } = [];
    public string? AuthType;
    public string? Username;
    public string? Password;
    public SortedDictionary<string, string> Headers { get; } = new(StringComparer.Ordinal);
    public string? MailBody;
    public string? Banner;

    // httpreplay's SmtpProtocol state
    internal string? Command;
    internal int ReplyCode;
    internal byte[] LastReply = [];
}

/// <summary>
/// Turns reassembled (sent, received) pairs into Cuckoo's <c>http_ex</c> and <c>smtp_ex</c>
/// entries, as httpreplay's HttpProtocol and SmtpProtocol do. Bodies are written to
/// <c>network/&lt;sha1&gt;</c> in the analysis folder.
/// </summary>
internal sealed partial class ApplicationExchanges(string bodyFolder, Func<string> spillPath)
    : IDisposable
{
    public ApplicationExchanges(string bodyFolder, string spillPath)
        : this(bodyFolder, () => spillPath) { }

    private readonly Dictionary<StreamKey, SmtpExchange> _smtp = [];
    private readonly HashSet<string> _written = new(StringComparer.Ordinal);

    /// <summary>http_ex entries, already in their JSON form, sorted by time when written out.</summary>
    public SpilledJsonList Http { get; } = new(spillPath, NetworkReportWriter.WriterOptions);
    public List<SmtpExchange> Smtp { get; } = [];

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void OnPair(ConversationPair pair)
    {
        var key = pair.Stream;
        var sent = pair.Sent;
        var recv = pair.Received;
        ushort port;
        if (
            TcpConversations.IsHttpPort(key.ClientPort)
            || TcpConversations.IsSmtpPort(key.ClientPort)
        )
        {
            // httpreplay looks the handler up by source port first and then swaps the roles.
            port = key.ClientPort;
            (sent, recv) = (recv, sent);
        }
        else
        {
            port = key.ServerPort;
        }
        if (TcpConversations.IsHttpPort(port))
        {
            OnHttp(key, pair.Timestamp, sent, recv);
        }
        else if (TcpConversations.IsSmtpPort(port))
        {
            OnSmtp(key, pair.Timestamp, sent, recv);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void OnHttp(
        StreamKey key,
        double? ts,
        ReadOnlyMemory<byte> sent,
        ReadOnlyMemory<byte> recv
    )
    {
        if (sent.Length == 0)
        {
            return;
        }
        var request = new HttpMessage();
        if (HttpMessage.ParseRequest(sent.Span, request) != HttpMessage.Outcome.Complete)
        {
            return;
        }
        var response = new HttpMessage();
        ReadOnlyMemory<byte>? responseBody = null;
        var status = 0;
        if (HttpMessage.ParseResponse(recv.Span, response) == HttpMessage.Outcome.Complete)
        {
            status = response.Status;
            responseBody = response.BodyIn(recv);
            var encoding = response.Header("content-encoding");
            if (encoding is not null && responseBody.Value.Length > 0)
            {
                var name = Text.Latin1(encoding);
                responseBody = name switch
                {
                    "gzip" => Gunzip(responseBody.Value) is { } inflated ? inflated : null,
                    "none" or "identity" => responseBody,
                    "pack200-gzip" => null,
                    // httpreplay raises UnknownHttpEncoding here and loses all of Pcap2; we keep the raw body.
                    _ => responseBody,
                };
            }
        }
        IReadOnlyList<string> host;
        var hostIsList = false;
        if (request.Headers.TryGetValue("host", out var hosts))
        {
            host = hosts.Select(h => Text.Latin1(h)).ToList();
            hostIsList = hosts.Count > 1;
        }
        else
        {
            host = [key.Server.ToString()];
        }
        var exchange = new HttpExchange
        {
            Stream = key,
            Timestamp = ts,
            Method = request.Method,
            Host = host,
            HostIsList = hostIsList,
            Uri = Text.Latin1(request.Uri),
            Status = status,
            Request = HeaderBlock(sent),
            Response = HeaderBlock(recv),
            RequestBody = WriteBody(request.BodyIn(sent.Span)),
            ResponseBody = WriteBody(responseBody is { } body ? body.Span : []),
        };
        // Python's sort on the timestamp, where None sorts first.
        NetworkReportWriter.WriteHttpExchange(Http.Begin(), exchange);
        Http.End(ts ?? double.NegativeInfinity);
    }

    public void Dispose() => Http.Dispose();

    private static ReadOnlyMemory<byte> HeaderBlock(ReadOnlyMemory<byte> raw)
    {
        var end = raw.Span.IndexOf("\r\n\r\n"u8);
        return end < 0 ? raw : raw[..end];
    }

    /// <summary>zlib.decompress(data, 16 + MAX_WBITS): a truncated or corrupt stream gives None.</summary>
    private static byte[]? Gunzip(ReadOnlyMemory<byte> compressed)
    {
        var data = compressed.Span;
        try
        {
            // The pair's bytes are read in place, not copied.
            using var input = System.Runtime.InteropServices.MemoryMarshal.TryGetArray(
                compressed,
                out var segment
            )
                ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
                : new MemoryStream(compressed.ToArray());
            using var gzip = new GZipStream(input, CompressionMode.Decompress);
            using var output = new MemoryStream();
            gzip.CopyTo(output);
            var result = output.ToArray();
            // GZipStream tolerates a missing trailer; zlib does not. Check CRC-32 and size.
            if (data.Length < 18)
            {
                return null;
            }
            var trailer = data[^8..];
            var crc = BinaryPrimitives.ReadUInt32LittleEndian(trailer);
            var size = BinaryPrimitives.ReadUInt32LittleEndian(trailer[4..]);
            return
                crc == System.IO.Hashing.Crc32.HashToUInt32(result) && size == (uint)result.Length
                ? result
                : null;
        }
        catch (InvalidDataException)
        {
            return null;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private BodyFile WriteBody(ReadOnlySpan<byte> body)
    {
        var sha1 = Convert.ToHexStringLower(SHA1.HashData(body));
        var md5 = Convert.ToHexStringLower(MD5.HashData(body));
        var path = Path.Combine(bodyFolder, sha1);
        if (_written.Add(sha1) && !HoldsAlready(path, body.Length, sha1))
        {
            Directory.CreateDirectory(bodyFolder);
            File.WriteAllBytes(path, body);
        }
        return new BodyFile(path, md5, sha1);
    }

    /// <summary>
    /// Whether an earlier run left this very body (the file is named by its SHA-1): rewriting it
    /// would truncate the file first, and on a disk with online discard freeing its blocks is a
    /// synchronous disk command.
    /// </summary>
    private static bool HoldsAlready(string path, int length, string sha1)
    {
        // A new analysis has no body yet: checked without the cost of a thrown exception.
        var file = new FileInfo(path);
        if (!file.Exists || file.Length != length)
        {
            return false;
        }
        try
        {
            using var existing = file.OpenRead();
            return Convert.ToHexStringLower(SHA1.HashData(existing)) == sha1;
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static readonly HashSet<string> SmtpCommands = ["ehlo", "helo", "mail", "rcpt", "auth"];

    private static readonly HashSet<string> SmtpUnimplemented =
    [
        "etrn",
        "turn",
        "atrn",
        "size",
        "pipelining",
        "chunking",
        "data",
        "dsn",
        "rset",
        "vrfy",
        "help",
        "quit",
        "noop",
        "expn",
        "binarymime",
        "relay",
        "starttls",
        "checkpoint",
        "enhancedstatuscodes",
        "8bitmime",
        "send",
    ];

    [GeneratedRegex("<(.*?)>", RegexOptions.Singleline | RegexOptions.CultureInvariant)]
    private static partial Regex AngleAddress();

    private void OnSmtp(
        StreamKey key,
        double? ts,
        ReadOnlyMemory<byte> sent,
        ReadOnlyMemory<byte> recv
    )
    {
        if (!_smtp.TryGetValue(key, out var session))
        {
            session = new SmtpExchange { Stream = key, Timestamp = ts };
            _smtp[key] = session;
            Smtp.Add(session);
        }
        ParseSmtpRequest(session, sent.Span);
        ParseSmtpReply(session, recv.Span);
    }

    private static void ParseSmtpRequest(SmtpExchange session, ReadOnlySpan<byte> request)
    {
        var text = Text.Latin1(request);
        string[] words =
            session.Command != "data"
                ? text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)
                : [];
        string cmd;
        if (session.Command != "data")
        {
            if (words.Length == 0)
            {
                return;
            }
            cmd = words[0].ToLowerInvariant();
        }
        else
        {
            if (text.Length == 0)
            {
                return;
            }
            cmd = text[..1].ToLowerInvariant();
        }
        if (!SmtpCommands.Contains(cmd) && !SmtpUnimplemented.Contains(cmd))
        {
            if (session.ReplyCode == 334)
            {
                HandleAuthResponse(session, session.Command == "data" ? text[..1] : words[0]);
            }
            else if (session.ReplyCode == 354 && session.Command == "data")
            {
                HandleMailBody(session, text);
            }
            return;
        }
        session.Command = cmd;
        switch (cmd)
        {
            case "ehlo" or "helo":
                if (words.Length > 1)
                {
                    session.Hostname = words[1];
                }
                break;
            case "mail" or "rcpt":
                var into = cmd == "mail" ? session.MailFrom : session.MailTo;
                foreach (var word in words)
                {
                    foreach (Match match in AngleAddress().Matches(word))
                    {
                        into.Add(match.Groups[1].Value);
                    }
                }
                break;
            case "auth":
                if (words.Length < 2)
                {
                    break;
                }
                var type = words[1].ToLowerInvariant();
                if (type is not ("plain" or "login"))
                {
                    break;
                }
                session.AuthType = type;
                if (words.Length > 2)
                {
                    if (type == "plain")
                    {
                        HandleAuthPlain(session, words[2]);
                    }
                    else if (Base64(words[2]) is { } user)
                    {
                        session.Username = user;
                    }
                }
                break;
            default:
                break;
        }
    }

    private static string? Base64(string text) =>
        Text.DecodeBase64Lenient(System.Text.Encoding.Latin1.GetBytes(text)) is { } bytes
            ? Text.Latin1(bytes)
            : null;

    private static void HandleAuthPlain(SmtpExchange session, string argument)
    {
        if (Base64(argument) is not { } decoded)
        {
            return;
        }
        var parts = decoded.Split('\0', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length >= 2)
        {
            session.Username = parts[0];
            session.Password = parts[1];
        }
    }

    private static void HandleAuthResponse(SmtpExchange session, string data)
    {
        if (string.IsNullOrEmpty(data))
        {
            return;
        }
        if (session.AuthType == "plain")
        {
            HandleAuthPlain(session, data);
        }
        else if (session.AuthType == "login")
        {
            var message = Text.Latin1(session.LastReply);
            if (message.Contains("UGFzc3dvcmQ6", StringComparison.Ordinal))
            {
                session.Password = Base64(data) ?? session.Password;
            }
            else if (message.Contains("VXNlcm5hbWU6", StringComparison.Ordinal))
            {
                session.Username = Base64(data) ?? session.Username;
            }
        }
    }

    private static void HandleMailBody(SmtpExchange session, string data)
    {
        var split = data.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (split < 0)
        {
            return;
        }
        session.MailBody = data[(split + 4)..];
        foreach (var header in data[..split].Split("\r\n"))
        {
            var colon = header.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                continue;
            }
            session.Headers[header[..colon]] = header[(colon + 1)..]
                .Trim(' ', '\t', '\r', '\n', '\v', '\f');
        }
    }

    private static void ParseSmtpReply(SmtpExchange session, ReadOnlySpan<byte> reply)
    {
        if (reply.Length < 3)
        {
            return;
        }
        session.LastReply = reply.ToArray();
        var code = reply[..3];
        if (
            code[0] is >= (byte)'0' and <= (byte)'9'
            && code[1] is >= (byte)'0' and <= (byte)'9'
            && code[2] is >= (byte)'0' and <= (byte)'9'
        )
        {
            var value = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
            if (value is >= 100 and < 600)
            {
                session.ReplyCode = value;
                if (value == 220 && session.Banner is null)
                {
                    session.Banner = Text.Latin1(reply);
                }
            }
        }
    }
}
