using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using Microkernel.Plugins.Network.Capture;

namespace Microkernel.Plugins.Network.Dissection;

/// <summary>A first-seen flow: Cuckoo's <c>(src, sport, dst, dport, offset, time)</c>.</summary>
internal readonly record struct FlowRecord(
    IpAddress Source,
    ushort SourcePort,
    IpAddress Destination,
    ushort DestinationPort,
    long Offset,
    double Time
);

internal readonly record struct FlowKey(
    IpAddress Source,
    ushort SourcePort,
    IpAddress Destination,
    ushort DestinationPort
);

internal sealed record IcmpRecord(IpAddress Source, IpAddress Destination, byte Type, string Data);

internal sealed class HttpRecord
{
    public int Count = 1;
    public required string Host;
    public required int Port;
    public required string Data;
    public required string Uri;
    public required string Body;
    public required string Path;
    public string? UserAgent;
    public required string Version;
    public required string Method;
}

internal sealed class DnsRecord
{
    public required string Request;
    public required string Type;
    public List<DnsAnswer> Answers { get; } = [];
}

internal sealed record TlsRecord(string ServerRandom, string SessionId);

/// <summary>Settings of the dpkt-style dissection.</summary>
internal sealed class DissectorOptions
{
    public bool SafelistDns { get; init; }
    public IReadOnlyCollection<string> AllowedDns { get; init; } = [];
    public IReadOnlySet<string> SafelistDomains { get; init; } = new HashSet<string>();
    public IpAddress? ResultServer { get; init; }

    /// <summary>Cap on the SMTP bytes kept per destination (Cuckoo keeps everything).</summary>
    public long MaxStreamBytes { get; init; } = 16 * 1024 * 1024;

    /// <summary>Cap on the SMTP bytes kept for all destinations together.</summary>
    public long MaxBufferedBytes { get; init; } = 64 * 1024 * 1024;
}

/// <summary>
/// Cuckoo 2.0's <c>Pcap</c> class (the dpkt part of NetworkAnalysis), packet by packet:
/// hosts, domains, DNS, flows, ICMP, HTTP requests, SMTP, IRC, TLS ServerHello and dead hosts.
/// Per-packet semantics are kept where the report depends on them (for example `http` is
/// keyed by the raw payload of one segment, exactly as Cuckoo counts it).
/// </summary>
internal sealed partial class CuckooDissector(DissectorOptions options)
{
    private readonly HashSet<IpAddress> _hostsSeen = [];
    public List<IpAddress> UniqueHosts { get; } = [];
    private readonly HashSet<IpAddress> _safelistedIps = [];
    public List<string> Domains { get; } = [];
    private readonly HashSet<string> _domainsSeen = new(StringComparer.Ordinal);
    public List<FlowRecord> Tcp { get; } = [];
    private readonly HashSet<FlowKey> _tcpSeen = [];
    public List<FlowRecord> Udp { get; } = [];
    private readonly HashSet<FlowKey> _udpSeen = [];
    public List<IcmpRecord> Icmp { get; } = [];
    public List<HttpRecord> Http { get; } = [];

    // Keyed by a 128-bit hash of the payload rather than the payload as a string: no copy of
    // every request held for the whole run (a collision is out of reach at 2^-64 for 2^32 requests).
    private readonly Dictionary<(UInt128 Hash, int Length), HttpRecord> _httpByPayload = [];
    public List<TlsRecord> Tls { get; } = [];
    public List<DnsRecord> Dns { get; } = [];
    private readonly Dictionary<(string Type, string Request), DnsRecord> _dnsByKey = [];
    public List<IpAddress> DnsServers { get; } = [];
    private readonly HashSet<IpAddress> _dnsServersSeen = [];
    public List<IrcMessage> Irc { get; } = [];

    // Null once a flow is known not to start with EHLO/HELO: it can never be reported.
    private readonly Dictionary<IpAddress, MemoryStream?> _smtpFlows = [];
    private long _smtpBytes;
    private readonly List<IpAddress> _smtpOrder = [];
    private readonly Dictionary<FlowKey, (uint Seq, uint Ack)> _emptySegments = [];
    private readonly Dictionary<(IpAddress, ushort), int> _deadCounts = [];
    private readonly List<(IpAddress, ushort)> _deadOrder = [];
    private readonly HashSet<(IpAddress, ushort)> _alive = [];
    private double _firstTimestamp;
    private long _offset = -1;
    private int _smtpTruncated;

    /// <summary>
    /// Entries kept for dead-host detection (one per TCP direction that sent an empty segment):
    /// about 20 MiB. A SYN scan would otherwise grow it by one entry per packet.
    /// </summary>
    internal const int MaxTrackedEmptySegments = 1 << 18;
    private int _emptySegmentResets;

    /// <summary>Packets whose processing Cuckoo would abort with a logged exception.</summary>
    public int AbortedPackets { get; private set; }

    /// <summary>Notes about data dropped by limits, for the report, with the packet (1-based) that caused each.</summary>
    public List<(long Packet, string Text)> Notes { get; } = [];

    /// <summary>Records processed so far.</summary>
    public long Packets { get; private set; }

    [GeneratedRegex(@"^.*\.windows\.com$|^.*\.in\-addr\.arpa$", RegexOptions.CultureInvariant)]
    private static partial Regex SkippedDomains();

    /// <summary>Processes one record; <paramref name="recordOffset"/> is where it starts in the file.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Process(
        DecodeResult result,
        ref DecodedPacket packet,
        double timestamp,
        long recordOffset,
        long nextOffset
    )
    {
        Packets++;
        // Cuckoo's `offset` is file.tell() after the previous successfully handled packet,
        // which is this record's start unless an earlier packet aborted.
        if (_offset < 0)
        {
            _offset = recordOffset;
        }
        if (_firstTimestamp == 0)
        {
            _firstTimestamp = timestamp;
        }
        if (result == DecodeResult.NotIp)
        {
            _offset = nextOffset;
            return;
        }
        AddHosts(packet.Source, packet.Destination);
        if (result == DecodeResult.TruncatedTransport)
        {
            // dpkt raises NeedData; Cuckoo skips the packet without moving its offset.
            return;
        }
        if (!packet.HasTransport)
        {
            // Other protocols, and later IPv4 fragments (which dpkt would misread as a header).
            _offset = nextOffset;
            return;
        }
        var time = timestamp - _firstTimestamp;
        switch (packet.Protocol)
        {
            case PacketDecoder.Tcp:
                if (!packet.Payload.IsEmpty)
                {
                    if (!DissectTcp(ref packet))
                    {
                        AbortedPackets++;
                        return;
                    }
                    var key = new FlowKey(
                        packet.Source,
                        packet.SourcePort,
                        packet.Destination,
                        packet.DestinationPort
                    );
                    var reverse = new FlowKey(
                        packet.Destination,
                        packet.DestinationPort,
                        packet.Source,
                        packet.SourcePort
                    );
                    if (!_tcpSeen.Contains(reverse) && _tcpSeen.Add(key))
                    {
                        Tcp.Add(
                            new FlowRecord(
                                packet.Source,
                                packet.SourcePort,
                                packet.Destination,
                                packet.DestinationPort,
                                _offset,
                                time
                            )
                        );
                    }
                    _alive.Add((packet.Destination, packet.DestinationPort));
                }
                else
                {
                    var connection = new FlowKey(
                        packet.Source,
                        packet.SourcePort,
                        packet.Destination,
                        packet.DestinationPort
                    );
                    if (
                        _emptySegments.TryGetValue(connection, out var previous)
                        && previous == (packet.Sequence, packet.Acknowledgement)
                    )
                    {
                        var host = (packet.Destination, packet.DestinationPort);
                        if (!_deadCounts.TryGetValue(host, out var count))
                        {
                            count = 1;
                            _deadOrder.Add(host);
                        }
                        _deadCounts[host] = count + 1;
                    }
                    if (
                        _emptySegments.Count >= MaxTrackedEmptySegments
                        && !_emptySegments.ContainsKey(connection)
                    )
                    {
                        ForgetEmptySegments();
                    }
                    _emptySegments[connection] = (packet.Sequence, packet.Acknowledgement);
                }
                break;
            case PacketDecoder.Udp:
                if (!packet.Payload.IsEmpty)
                {
                    if (packet.DestinationPort is 53 or 5353 || packet.SourcePort is 53 or 5353)
                    {
                        if (!AddDns(packet.Source, packet.Destination, packet.Payload))
                        {
                            AbortedPackets++;
                            return;
                        }
                    }
                    var key = new FlowKey(
                        packet.Source,
                        packet.SourcePort,
                        packet.Destination,
                        packet.DestinationPort
                    );
                    var reverse = new FlowKey(
                        packet.Destination,
                        packet.DestinationPort,
                        packet.Source,
                        packet.SourcePort
                    );
                    if (!_udpSeen.Contains(reverse) && _udpSeen.Add(key))
                    {
                        Udp.Add(
                            new FlowRecord(
                                packet.Source,
                                packet.SourcePort,
                                packet.Destination,
                                packet.DestinationPort,
                                _offset,
                                time
                            )
                        );
                    }
                }
                break;
            case PacketDecoder.Icmp:
                if (!packet.Payload.IsEmpty && packet.Source != options.ResultServer)
                {
                    var data =
                        packet.IcmpType is 0 or 8 && packet.Payload.Length >= 4
                            ? Text.ConvertToPrintable(packet.Payload[4..])
                            : "";
                    Icmp.Add(
                        new IcmpRecord(packet.Source, packet.Destination, packet.IcmpType, data)
                    );
                }
                break;
            default:
                break;
        }
        _offset = nextOffset;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void AddHosts(IpAddress source, IpAddress destination)
    {
        if (!_hostsSeen.Contains(source) && source.IsCuckooPrivate)
        {
            _hostsSeen.Add(source);
        }
        if (
            _hostsSeen.Add(destination)
            && !destination.IsCuckooPrivate
            && !_safelistedIps.Contains(destination)
        )
        {
            UniqueHosts.Add(destination);
        }
    }

    /// <summary>False when Cuckoo's dissectors would raise out of the packet loop.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool DissectTcp(ref DecodedPacket packet)
    {
        var data = packet.Payload;
        if (HttpMessage.MayBeRequest(data))
        {
            var request = new HttpMessage();
            var outcome = HttpMessage.ParseRequest(data, request);
            if (outcome == HttpMessage.Outcome.Crash)
            {
                return false;
            }
            if (outcome != HttpMessage.Outcome.NotHttp)
            {
                AddHttp(data, packet.DestinationPort, request);
            }
        }
        if (packet.DestinationPort == 25)
        {
            ReassembleSmtp(packet.Destination, data);
        }
        if (packet.DestinationPort != 21)
        {
            IrcMessages.Extract(data, Irc);
        }
        if (packet.DestinationPort == 443 || packet.SourcePort == 443)
        {
            IdentifyTls(data);
        }
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void AddHttp(ReadOnlySpan<byte> data, ushort port, HttpMessage request)
    {
        var key = (System.IO.Hashing.XxHash128.HashToUInt128(data), data.Length);
        if (_httpByPayload.TryGetValue(key, out var existing))
        {
            existing.Count++;
            return;
        }
        // Cuckoo's entry building fails (and drops the request) on a repeated Host or User-Agent.
        if (request.HeaderRepeated("host") || request.HeaderRepeated("user-agent"))
        {
            return;
        }
        var host = request.Header("host") is { } h ? Text.ConvertToPrintable(h) : "";
        var netloc = host;
        if (port != 80 && !netloc.Contains(':', StringComparison.Ordinal))
        {
            netloc += ":" + port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        var uri = Text.Latin1(request.Uri);
        var record = new HttpRecord
        {
            Host = host,
            Port = port,
            Data = Text.ConvertToPrintable(data),
            Uri = ConvertPrintableString(UrlUnparse(netloc, uri)),
            Body = Text.ConvertToPrintable(request.BodyParsed ? request.BodyIn(data) : []),
            Path = Text.ConvertToPrintable(request.Uri),
            UserAgent = request.Header("user-agent") is { } ua ? Text.ConvertToPrintable(ua) : null,
            Version = Text.ConvertToPrintable(request.Version),
            Method = request.Method,
        };
        _httpByPayload[key] = record;
        Http.Add(record);
    }

    private static string ConvertPrintableString(string latin1) =>
        Text.ConvertToPrintable(System.Text.Encoding.Latin1.GetBytes(latin1));

    /// <summary>Python 2's <c>urlparse.urlunparse(("http", netloc, path, None, None, None))</c>.</summary>
    private static string UrlUnparse(string netloc, string path)
    {
        var url = path;
        if (netloc.Length > 0 || !url.StartsWith("//", StringComparison.Ordinal))
        {
            if (url.Length > 0 && url[0] != '/')
            {
                url = "/" + url;
            }
            url = "//" + netloc + url;
        }
        return "http:" + url;
    }

    private void ForgetEmptySegments()
    {
        if (_emptySegmentResets++ == 0)
        {
            Notes.Add(
                (
                    Packets,
                    $"More than {MaxTrackedEmptySegments} TCP connections sent empty segments; dead host detection forgot the older ones, so dead_hosts may miss some."
                )
            );
        }
        _emptySegments.Clear();
        _emptySegments.TrimExcess();
    }

    private void ReassembleSmtp(IpAddress destination, ReadOnlySpan<byte> data)
    {
        if (!_smtpFlows.TryGetValue(destination, out var flow))
        {
            _smtpFlows[destination] = flow = new MemoryStream();
            _smtpOrder.Add(destination);
        }
        if (flow is null)
        {
            return;
        }
        var room = Math.Min(
            options.MaxStreamBytes - flow.Length,
            options.MaxBufferedBytes - _smtpBytes
        );
        if (room < data.Length)
        {
            if (_smtpTruncated++ == 0)
            {
                Notes.Add(
                    (
                        Packets,
                        $"SMTP data to {destination} exceeded max_stream_bytes ({options.MaxStreamBytes}) or max_buffered_bytes ({options.MaxBufferedBytes}); the rest was dropped."
                    )
                );
            }
            data = data[..(int)Math.Max(0, room)];
        }
        flow.Write(data);
        _smtpBytes += data.Length;
        if (flow.Length >= 4)
        {
            var head = flow.GetBuffer().AsSpan(0, 4);
            if (!head.SequenceEqual("EHLO"u8) && !head.SequenceEqual("HELO"u8))
            {
                // Cuckoo only reports flows starting with EHLO/HELO; stop holding this one.
                _smtpBytes -= flow.Length;
                _smtpFlows[destination] = null;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void IdentifyTls(ReadOnlySpan<byte> data)
    {
        // dpkt.ssl.TLSRecord: a complete record of a known type; the first handshake message
        // must be a complete ServerHello.
        if (data.Length < 5 || data[0] != 22)
        {
            return;
        }
        int length = BinaryPrimitives.ReadUInt16BigEndian(data[3..]);
        if (data.Length < 5 + length)
        {
            return;
        }
        var record = data.Slice(5, length);
        if (record.Length < 4 || record[0] != 2)
        {
            return;
        }
        var bodyLength = (record[1] << 16) | (record[2] << 8) | record[3];
        var body = record[4..];
        if (body.Length < bodyLength)
        {
            return;
        }
        body = body[..bodyLength];
        if (body.Length < 35)
        {
            return;
        }
        var random = body.Slice(2, 32);
        int sessionLength = body[34];
        var session = body.Slice(35, Math.Min(sessionLength, body.Length - 35));
        Tls.Add(new TlsRecord(Convert.ToHexStringLower(random), Convert.ToHexStringLower(session)));
    }

    /// <summary>Cuckoo's <c>_add_dns</c>; false when Cuckoo's merge would raise KeyError.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool AddDns(IpAddress source, IpAddress destination, ReadOnlySpan<byte> payload)
    {
        var dns = DnsMessage.TryParse(payload);
        if (dns is null)
        {
            return true;
        }
        if (dns.IsQuery && _dnsServersSeen.Add(destination))
        {
            DnsServers.Add(destination);
        }
        if (dns.QuestionName is null)
        {
            return true;
        }
        var type = DnsMessage.TypeName(dns.QuestionType);
        if (IsSafelisted(source, destination, dns.QuestionName))
        {
            foreach (var address in dns.AddressAnswers)
            {
                _safelistedIps.Add(address);
            }
            return true;
        }
        AddDomain(dns.QuestionName);
        var key = (type, dns.QuestionName);
        if (!_dnsByKey.TryGetValue(key, out var entry))
        {
            entry = new DnsRecord { Request = dns.QuestionName, Type = type };
            entry.Answers.AddRange(dns.Answers);
            _dnsByKey[key] = entry;
            Dns.Add(entry);
            return true;
        }
        foreach (var answer in dns.Answers)
        {
            if (answer.Type is null)
            {
                // set((i["type"], i["data"]) ...) meets an empty answer: KeyError.
                return false;
            }
        }
        foreach (var answer in dns.Answers)
        {
            if (!entry.Answers.Contains(answer))
            {
                entry.Answers.Add(answer);
            }
        }
        return true;
    }

    private bool IsSafelisted(IpAddress source, IpAddress destination, string name)
    {
        if (!options.SafelistDns)
        {
            return false;
        }
        if (
            options.AllowedDns.Count > 0
            && !options.AllowedDns.Contains(source.ToString())
            && !options.AllowedDns.Contains(destination.ToString())
        )
        {
            return false;
        }
        return options.SafelistDomains.Contains(name);
    }

    private void AddDomain(string domain)
    {
        if (SkippedDomains().IsMatch(domain) || !_domainsSeen.Add(domain))
        {
            return;
        }
        Domains.Add(domain);
    }

    /// <summary>Cuckoo's <c>smtp</c>: flows to port 25 whose client data starts with EHLO/HELO.</summary>
    public IEnumerable<(IpAddress Destination, byte[] Raw)> SmtpRequests()
    {
        foreach (var destination in _smtpOrder)
        {
            if (_smtpFlows[destination] is not { } flow)
            {
                continue;
            }
            var raw = flow.ToArray();
            if (raw.AsSpan().StartsWith("EHLO"u8) || raw.AsSpan().StartsWith("HELO"u8))
            {
                yield return (destination, raw);
            }
        }
    }

    /// <summary>Cuckoo's <c>dead_hosts</c>: at least two repeats and never any payload to it.</summary>
    public IEnumerable<(IpAddress Ip, ushort Port)> DeadHosts()
    {
        foreach (var host in _deadOrder)
        {
            if (_deadCounts[host] >= 3 && !_alive.Contains(host))
            {
                yield return host;
            }
        }
    }
}
