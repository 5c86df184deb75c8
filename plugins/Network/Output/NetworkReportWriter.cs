using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microkernel.Plugins.Network.Dissection;
using Microkernel.Plugins.Network.Streams;

namespace Microkernel.Plugins.Network.Output;

/// <summary>Everything the section holds, gathered before writing.</summary>
internal sealed class NetworkReport
{
    public string? PcapSha256;
    public string? SortedPcapSha256;
    public CuckooDissector? Dissector;
    public ApplicationExchanges? Exchanges;
    public IReadOnlyDictionary<string, string> ResolvedDomains = new Dictionary<string, string>();
    public List<string> Errors { get; } = [];

    /// <summary>mitm.log lines as ready JSON values.</summary>
    public List<string> Mitm { get; } = [];
}

/// <summary>
/// Writes the <c>network</c> section with <see cref="Utf8JsonWriter"/>. Keys come in ordinal
/// order at every level, as in the conformance files (Cuckoo itself writes Python 2 dict order).
/// </summary>
internal static class NetworkReportWriter
{
    public static readonly JsonWriterOptions WriterOptions = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = false,
    };

    public static void Write(Stream output, NetworkReport report)
    {
        using var json = new Utf8JsonWriter(output, WriterOptions);
        json.WriteStartObject();
        var dissector = report.Dissector;
        var exchanges = report.Exchanges;
        if (dissector is not null)
        {
            json.WriteStartArray("dead_hosts");
            foreach (var (ip, port) in dissector.DeadHosts())
            {
                json.WriteStartArray();
                json.WriteStringValue(ip.ToString());
                json.WriteNumberValue(port);
                json.WriteEndArray();
            }
            json.WriteEndArray();

            json.WriteStartArray("dns");
            foreach (var entry in dissector.Dns)
            {
                json.WriteStartObject();
                json.WriteStartArray("answers");
                foreach (var answer in entry.Answers)
                {
                    json.WriteStartObject();
                    if (answer.Type is not null)
                    {
                        json.WriteString("data", answer.Data);
                        json.WriteString("type", answer.Type);
                    }
                    json.WriteEndObject();
                }
                json.WriteEndArray();
                json.WriteString("request", entry.Request);
                json.WriteString("type", entry.Type);
                json.WriteEndObject();
            }
            json.WriteEndArray();

            json.WriteStartArray("dns_servers");
            foreach (var server in dissector.DnsServers)
            {
                json.WriteStringValue(server.ToString());
            }
            json.WriteEndArray();

            json.WriteStartArray("domains");
            foreach (var domain in dissector.Domains)
            {
                json.WriteStartObject();
                json.WriteString("domain", domain);
                json.WriteString("ip", report.ResolvedDomains.GetValueOrDefault(domain, ""));
                json.WriteEndObject();
            }
            json.WriteEndArray();
        }
        if (report.Errors.Count > 0)
        {
            json.WriteStartArray("errors");
            foreach (var error in report.Errors)
            {
                json.WriteStringValue(error);
            }
            json.WriteEndArray();
        }
        if (dissector is not null)
        {
            json.WriteStartArray("hosts");
            foreach (var host in dissector.UniqueHosts)
            {
                json.WriteStringValue(host.ToString());
            }
            json.WriteEndArray();

            json.WriteStartArray("http");
            foreach (var http in dissector.Http)
            {
                json.WriteStartObject();
                json.WriteString("body", http.Body);
                json.WriteNumber("count", http.Count);
                json.WriteString("data", http.Data);
                json.WriteString("host", http.Host);
                json.WriteString("method", http.Method);
                json.WriteString("path", http.Path);
                json.WriteNumber("port", http.Port);
                json.WriteString("uri", http.Uri);
                if (http.UserAgent is not null)
                {
                    json.WriteString("user-agent", http.UserAgent);
                }
                json.WriteString("version", http.Version);
                json.WriteEndObject();
            }
            json.WriteEndArray();
        }
        if (exchanges is not null)
        {
            json.WriteStartArray("http_ex");
            exchanges.Http.WriteSortedTo(json);
            json.WriteEndArray();
            json.WriteStartArray("https_ex");
            json.WriteEndArray();
        }
        if (dissector is not null)
        {
            json.WriteStartArray("icmp");
            foreach (var icmp in dissector.Icmp)
            {
                json.WriteStartObject();
                json.WriteString("data", icmp.Data);
                json.WriteString("dst", icmp.Destination.ToString());
                json.WriteString("src", icmp.Source.ToString());
                json.WriteNumber("type", icmp.Type);
                json.WriteEndObject();
            }
            json.WriteEndArray();

            json.WriteStartArray("irc");
            foreach (var irc in dissector.Irc)
            {
                json.WriteStartObject();
                json.WriteString("command", irc.Command);
                json.WriteString("params", irc.Params);
                if (irc.Prefix is not null)
                {
                    json.WriteString("prefix", irc.Prefix);
                }
                json.WriteString("type", irc.Type);
                json.WriteEndObject();
            }
            json.WriteEndArray();
        }
        json.WriteStartArray("mitm");
        foreach (var value in report.Mitm)
        {
            json.WriteRawValue(value);
        }
        json.WriteEndArray();
        if (report.PcapSha256 is not null)
        {
            json.WriteString("pcap_sha256", report.PcapSha256);
        }
        if (dissector is not null)
        {
            json.WriteStartArray("smtp");
            foreach (var (destination, raw) in dissector.SmtpRequests())
            {
                json.WriteStartObject();
                json.WriteString("dst", destination.ToString());
                json.WriteString("raw", Text.Latin1(raw));
                json.WriteEndObject();
            }
            json.WriteEndArray();
        }
        if (exchanges is not null)
        {
            json.WriteStartArray("smtp_ex");
            foreach (var smtp in SortByTimestamp(exchanges.Smtp, e => e.Timestamp))
            {
                WriteSmtpExchange(json, smtp);
            }
            json.WriteEndArray();
        }
        if (report.SortedPcapSha256 is not null)
        {
            json.WriteString("sorted_pcap_sha256", report.SortedPcapSha256);
        }
        if (dissector is not null)
        {
            WriteFlows(json, "tcp", dissector.Tcp);
            json.WriteStartArray("tls");
            foreach (var tls in dissector.Tls)
            {
                json.WriteStartObject();
                json.WriteString("server_random", tls.ServerRandom);
                json.WriteString("session_id", tls.SessionId);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            WriteFlows(json, "udp", dissector.Udp);
        }
        json.WriteEndObject();
    }

    /// <summary>Python's stable sort on the timestamp, where None sorts first.</summary>
    private static IEnumerable<T> SortByTimestamp<T>(List<T> items, Func<T, double?> key) =>
        items.OrderBy(i => key(i) ?? double.NegativeInfinity);

    private static void WriteFlows(Utf8JsonWriter json, string name, List<FlowRecord> flows)
    {
        json.WriteStartArray(name);
        foreach (var flow in flows)
        {
            json.WriteStartObject();
            json.WriteNumber("dport", flow.DestinationPort);
            json.WriteString("dst", flow.Destination.ToString());
            json.WriteNumber("offset", flow.Offset);
            json.WriteNumber("sport", flow.SourcePort);
            json.WriteString("src", flow.Source.ToString());
            json.WritePropertyName("time");
            WritePythonFloat(json, flow.Time);
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }

    /// <summary>Python's float repr: shortest round-trip digits, always with a fraction or exponent.</summary>
    public static void WritePythonFloat(Utf8JsonWriter json, double value)
    {
        var text = value.ToString("R", CultureInfo.InvariantCulture);
        if (
            !text.Contains('.', StringComparison.Ordinal)
            && !text.Contains('E', StringComparison.Ordinal)
        )
        {
            text += ".0";
        }
        json.WriteRawValue(text, skipInputValidation: true);
    }

    private static void WriteBody(Utf8JsonWriter json, string name, BodyFile body)
    {
        json.WriteStartObject(name);
        json.WriteString("md5", body.Md5);
        json.WriteString("path", body.Path);
        json.WriteString("sha1", body.Sha1);
        json.WriteEndObject();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void WriteHttpExchange(Utf8JsonWriter json, HttpExchange http)
    {
        json.WriteStartObject();
        json.WriteNumber("dport", http.Stream.ServerPort);
        json.WriteString("dst", http.Stream.Server.ToString());
        if (http.HostIsList)
        {
            json.WriteStartArray("host");
            foreach (var host in http.Host)
            {
                json.WriteStringValue(host);
            }
            json.WriteEndArray();
        }
        else
        {
            json.WriteString("host", http.Host[0]);
        }
        json.WriteString("md5", http.ResponseBody.Md5);
        json.WriteString("method", http.Method);
        json.WriteString("path", http.ResponseBody.Path);
        json.WriteString("protocol", "http");
        WriteBody(json, "req", http.RequestBody);
        Latin1Json.WriteString(json, "request", http.Request.Span);
        WriteBody(json, "resp", http.ResponseBody);
        Latin1Json.WriteString(json, "response", http.Response.Span);
        json.WriteString("sha1", http.ResponseBody.Sha1);
        json.WriteNumber("sport", http.Stream.ClientPort);
        json.WriteString("src", http.Stream.Client.ToString());
        json.WriteNumber("status", http.Status);
        json.WriteString("uri", http.Uri);
        json.WriteEndObject();
    }

    private static void WriteSmtpExchange(Utf8JsonWriter json, SmtpExchange smtp)
    {
        json.WriteStartObject();
        json.WriteNumber("dport", smtp.Stream.ServerPort);
        json.WriteString("dst", smtp.Stream.Server.ToString());
        json.WriteString("protocol", "smtp");
        json.WriteStartObject("req");
        json.WriteString("auth_type", smtp.AuthType);
        json.WriteStartObject("headers");
        foreach (var (name, value) in smtp.Headers)
        {
            json.WriteString(name, value);
        }
        json.WriteEndObject();
        json.WriteString("hostname", smtp.Hostname);
        json.WriteString("mail_body", smtp.MailBody);
        json.WriteStartArray("mail_from");
        foreach (var from in smtp.MailFrom)
        {
            json.WriteStringValue(from);
        }
        json.WriteEndArray();
        json.WriteStartArray("mail_to");
        foreach (var to in smtp.MailTo)
        {
            json.WriteStringValue(to);
        }
        json.WriteEndArray();
        json.WriteString("password", smtp.Password);
        json.WriteString("username", smtp.Username);
        json.WriteEndObject();
        json.WriteStartObject("resp");
        json.WriteString("banner", smtp.Banner);
        json.WriteEndObject();
        json.WriteNumber("sport", smtp.Stream.ClientPort);
        json.WriteString("src", smtp.Stream.Client.ToString());
        json.WriteEndObject();
    }
}
