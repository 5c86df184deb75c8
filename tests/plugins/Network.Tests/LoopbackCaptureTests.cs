using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microkernel.TestSupport;

namespace Microkernel.Plugins.Network.Tests;

/// <summary>The project's own capture (captures/make-captures.sh): DNS, HTTP, SMTP and IRC.</summary>
public sealed class LoopbackCaptureTests
{
    private static async Task<(JsonDocument Document, string[] Bodies)> RunAsync(
        Dictionary<string, string>? options = null
    )
    {
        using var analysis = TempDirectory.Create();
        File.Copy(
            Path.Combine(AppContext.BaseDirectory, "captures", "loopback.pcap"),
            Path.Combine(analysis.Path, "dump.pcap")
        );
        var document = await ModuleHarness.RunAsync(new NetworkAnalysis(), analysis.Path, options);
        var network = Path.Combine(analysis.Path, "network");
        return (document!, Directory.GetFiles(network).Select(f => Path.GetFileName(f)).ToArray());
    }

    private static string Sha1(string text) =>
        Convert.ToHexStringLower(SHA1.HashData(Encoding.ASCII.GetBytes(text)));

    [Fact]
    public async Task Dns_hosts_and_domains()
    {
        var (document, _) = await RunAsync();
        using var _document = document;
        var root = document.RootElement;
        Assert.Equal(
            ["8.8.8.8", "93.184.216.34", "94.100.180.70", "185.30.166.37"],
            root.GetProperty("hosts").EnumerateArray().Select(h => h.GetString())
        );
        Assert.Equal(
            [
                "update.example.net",
                "mail.example.org",
                "irc.example.com",
                "nonexistent.example.invalid",
            ],
            root.GetProperty("domains")
                .EnumerateArray()
                .Select(d => d.GetProperty("domain").GetString())
        );
        var first = root.GetProperty("dns")[0];
        Assert.Equal(
            "93.184.216.34",
            first.GetProperty("answers")[0].GetProperty("data").GetString()
        );
        Assert.Equal(0, root.GetProperty("dns")[3].GetProperty("answers").GetArrayLength());
    }

    [Fact]
    public async Task Http_keep_alive_chunked_and_gzip_exchanges()
    {
        var (document, bodies) = await RunAsync();
        using var _document = document;
        var exchanges = document.RootElement.GetProperty("http_ex").EnumerateArray().ToList();
        Assert.Equal(
            ["/payload.exe", "/chunked", "/gzip", "/gate.php"],
            exchanges.Select(e => e.GetProperty("uri").GetString())
        );
        Assert.All(exchanges, e => Assert.Equal(200, e.GetProperty("status").GetInt32()));
        Assert.Equal(
            Sha1("chunked body, part one; part two."),
            exchanges[1].GetProperty("sha1").GetString()
        );
        Assert.Equal(
            Sha1("<html><body>compressed page</body></html>"),
            exchanges[2].GetProperty("sha1").GetString()
        );
        Assert.Equal(
            Sha1("id=4242&os=win7"),
            exchanges[3].GetProperty("req").GetProperty("sha1").GetString()
        );
        Assert.Contains(Sha1("id=4242&os=win7"), bodies);
        Assert.Equal(4, document.RootElement.GetProperty("http").GetArrayLength());
        Assert.Equal(
            "http://update.example.net/gate.php",
            document.RootElement.GetProperty("http")[3].GetProperty("uri").GetString()
        );
    }

    [Fact]
    public async Task Smtp_and_smtp_ex()
    {
        var (document, _) = await RunAsync();
        using var _document = document;
        var smtp = Assert.Single(document.RootElement.GetProperty("smtp").EnumerateArray());
        Assert.StartsWith(
            "EHLO WIN-GUEST\r\n",
            smtp.GetProperty("raw").GetString(),
            StringComparison.Ordinal
        );
        var request = Assert
            .Single(document.RootElement.GetProperty("smtp_ex").EnumerateArray())
            .GetProperty("req");
        Assert.Equal("bot@example.org", request.GetProperty("username").GetString());
        Assert.Equal("secret", request.GetProperty("password").GetString());
        Assert.Equal("report", request.GetProperty("headers").GetProperty("Subject").GetString());
        Assert.Equal(
            ["drop@example.org"],
            request.GetProperty("mail_to").EnumerateArray().Select(m => m.GetString())
        );
    }

    [Fact]
    public async Task Irc_client_and_server_messages()
    {
        var (document, _) = await RunAsync();
        using var _document = document;
        var irc = document.RootElement.GetProperty("irc").EnumerateArray().ToList();
        Assert.Contains(
            irc,
            m =>
                m.GetProperty("command").GetString() == "NICK"
                && m.GetProperty("params").GetString() == "bot42"
        );
        Assert.Contains(
            irc,
            m =>
                m.GetProperty("type").GetString() == "server"
                && m.GetProperty("command").GetString() == "001"
                && m.GetProperty("prefix").GetString() == ":irc.example.com"
        );
        Assert.Contains(
            irc,
            m =>
                m.GetProperty("command").GetString() == "PRIVMSG"
                && m.GetProperty("type").GetString() == "server"
        );
    }

    [Fact]
    public async Task Small_stream_limit_drops_data_and_says_so()
    {
        var (document, _) = await RunAsync(
            new Dictionary<string, string> { ["max_stream_bytes"] = "512" }
        );
        using var _document = document;
        var errors = document
            .RootElement.GetProperty("errors")
            .EnumerateArray()
            .Select(e => e.GetString())
            .ToList();
        Assert.Contains(
            errors,
            e => e!.Contains("max_stream_bytes (512)", StringComparison.Ordinal)
        );
    }

    [Fact]
    public async Task A_rerun_keeps_intact_body_files_and_rewrites_a_damaged_one()
    {
        using var analysis = TempDirectory.Create();
        File.Copy(
            Path.Combine(AppContext.BaseDirectory, "captures", "loopback.pcap"),
            Path.Combine(analysis.Path, "dump.pcap")
        );
        (await ModuleHarness.RunAsync(new NetworkAnalysis(), analysis.Path))!.Dispose();
        var kept = analysis.Combine("network", Sha1("chunked body, part one; part two."));
        var damaged = analysis.Combine("network", Sha1("id=4242&os=win7"));
        // A rewrite would set the time to now.
        var longAgo = new DateTime(2001, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        File.SetLastWriteTimeUtc(kept, longAgo);
        File.WriteAllText(damaged, "id=4243&os=win7"); // same length, other bytes

        (await ModuleHarness.RunAsync(new NetworkAnalysis(), analysis.Path))!.Dispose();

        // Not rewritten: rewriting truncates first, and freeing blocks costs a disk command.
        Assert.Equal(longAgo, File.GetLastWriteTimeUtc(kept));
        Assert.Equal("chunked body, part one; part two.", File.ReadAllText(kept));
        Assert.Equal("id=4242&os=win7", File.ReadAllText(damaged));
    }
}
