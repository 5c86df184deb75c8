using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Microkernel.Contracts;
using Microkernel.TestSupport;

namespace Microkernel.Plugins.VirusTotal.Tests;

public sealed class VirusTotalTests
{
    private const string ApiKey = "test-key-0123456789abcdef-SECRET";
    private const string SampleSha256 =
        "4b496f00fdb2ea336e0f85e207dcaba044c23b00a491022454d9a4fde9342bf2";
    private static readonly byte[] Sample = Encoding.ASCII.GetBytes(
        "Microkernel VirusTotal test sample\n"
    );

    private static string ReplyPath(string name) =>
        Path.Combine(AppContext.BaseDirectory, "Replies", name);

    private static Dictionary<string, string> Options(
        FakeVirusTotalServer server,
        params (string Key, string Value)[] extra
    )
    {
        var options = new Dictionary<string, string>
        {
            ["key"] = ApiKey,
            ["base_url"] = server.BaseUrl,
            ["timeout"] = "5",
            ["retry_delay"] = "0.05",
        };
        foreach (var (key, value) in extra)
        {
            options[key] = value;
        }
        return options;
    }

    private static async Task<TempDirectory> AnalysisWithSampleAsync()
    {
        var analysis = TempDirectory.Create();
        await File.WriteAllBytesAsync(analysis.Combine("binary"), Sample);
        return analysis;
    }

    [Fact]
    public async Task Found_file_is_looked_up_by_sha256_with_the_key_header_and_mapped_to_Cuckoos_shape()
    {
        using var server = new FakeVirusTotalServer(
            (_, _) => Reply.FromFile(200, ReplyPath("found.json"))
        );
        using var analysis = await AnalysisWithSampleAsync();
        using var document = await ModuleHarness.RunAsync(
            new VirusTotal(),
            analysis.Path,
            Options(server)
        );

        var request = Assert.Single(server.Requests);
        Assert.Equal("GET", request.Method);
        Assert.Equal($"/api/v3/files/{SampleSha256}", request.Path);
        Assert.Equal(ApiKey, request.ApiKey);

        var vt = document!.RootElement;
        var summary = vt.GetProperty("summary");
        Assert.Equal(3, summary.GetProperty("positives").GetInt32());
        Assert.Equal(
            $"https://www.virustotal.com/gui/file/{SampleSha256}",
            summary.GetProperty("permalink").GetString()
        );
        Assert.Equal("2024-03-01 11:00:00", summary.GetProperty("scan_date").GetString());
        Assert.Equal(3, vt.GetProperty("positives").GetInt32());
        Assert.Equal(6, vt.GetProperty("total").GetInt32());
        Assert.Equal(SampleSha256, vt.GetProperty("sha256").GetString());
        Assert.Equal(1, vt.GetProperty("response_code").GetInt32());

        var scans = vt.GetProperty("scans");
        Assert.False(scans.TryGetProperty("Engine.One", out _));
        var engine = scans.GetProperty("Engine_One");
        Assert.True(engine.GetProperty("detected").GetBoolean());
        Assert.Equal(
            "Trojan.Win32.Zbot.abcd!CVE-2012-0158",
            engine.GetProperty("result").GetString()
        );
        Assert.Equal(
            ["CVE-2012-0158", "Zbot"],
            engine.GetProperty("normalized").EnumerateArray().Select(e => e.GetString()!).ToArray()
        );
        Assert.False(scans.GetProperty("Ikarus").GetProperty("detected").GetBoolean());
        Assert.Empty(scans.GetProperty("Microsoft").GetProperty("normalized").EnumerateArray());

        // Case-insensitive union in engine order.
        Assert.Equal(
            ["AIDetectMalware", "CVE-2012-0158", "Zbot", "Tiny"],
            vt.GetProperty("normalized").EnumerateArray().Select(e => e.GetString()!).ToArray()
        );
        Assert.DoesNotContain(ApiKey, vt.GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Not_found_is_Cuckoos_not_scanned_summary()
    {
        using var server = new FakeVirusTotalServer(
            (_, _) => Reply.FromFile(404, ReplyPath("not_found.json"))
        );
        using var analysis = await AnalysisWithSampleAsync();
        using var document = await ModuleHarness.RunAsync(
            new VirusTotal(),
            analysis.Path,
            Options(server)
        );
        Assert.Equal(
            "resource has not been scanned yet",
            document!.RootElement.GetProperty("summary").GetProperty("error").GetString()
        );
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task A_wrong_key_is_a_clear_module_error_without_the_key()
    {
        using var server = new FakeVirusTotalServer(
            (_, _) => Reply.FromFile(401, ReplyPath("wrong_key.json"))
        );
        using var analysis = await AnalysisWithSampleAsync();
        var error = await Assert.ThrowsAsync<ProcessingException>(() =>
            ModuleHarness.RunAsync(new VirusTotal(), analysis.Path, Options(server))
        );
        Assert.Contains("rejected the API key", error.Message, StringComparison.Ordinal);
        Assert.Contains("WrongCredentialsError", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(ApiKey, error.ToString(), StringComparison.Ordinal);
        // 401 is not retried.
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task A_server_that_echoes_the_key_still_never_gets_it_into_the_message()
    {
        using var server = new FakeVirusTotalServer(
            (_, _) =>
                new Reply(
                    403,
                    $"{{\"error\": {{\"code\": \"ForbiddenError\", \"message\": \"key {ApiKey} is banned\"}}}}"
                )
        );
        using var analysis = await AnalysisWithSampleAsync();
        var error = await Assert.ThrowsAsync<ProcessingException>(() =>
            ModuleHarness.RunAsync(new VirusTotal(), analysis.Path, Options(server))
        );
        Assert.Contains("ForbiddenError", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(ApiKey, error.ToString(), StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task Rate_limited_reply_is_retried_after_Retry_After_and_then_succeeds()
    {
        using var server = new FakeVirusTotalServer(
            (_, index) =>
                index == 0
                    ? new Reply(
                        429,
                        File.ReadAllText(ReplyPath("quota_exceeded.json")),
                        RetryAfter: "1"
                    )
                    : Reply.FromFile(200, ReplyPath("found.json"))
        );
        using var analysis = await AnalysisWithSampleAsync();
        var stopwatch = Stopwatch.StartNew();
        using var document = await ModuleHarness.RunAsync(
            new VirusTotal(),
            analysis.Path,
            Options(server)
        );
        stopwatch.Stop();
        Assert.Equal(3, document!.RootElement.GetProperty("positives").GetInt32());
        Assert.Equal(2, server.Requests.Count);
        // Honoured Retry-After (1 s), not the 50 ms backoff.
        Assert.True(stopwatch.Elapsed >= TimeSpan.FromSeconds(0.9), $"took {stopwatch.Elapsed}");
    }

    [Fact(Timeout = 30_000)]
    public async Task Quota_exhausted_after_retries_is_a_module_error_not_a_not_scanned_result()
    {
        using var server = new FakeVirusTotalServer(
            (_, _) => new Reply(429, File.ReadAllText(ReplyPath("quota_exceeded.json")))
        );
        using var analysis = await AnalysisWithSampleAsync();
        var error = await Assert.ThrowsAsync<ProcessingException>(() =>
            ModuleHarness.RunAsync(
                new VirusTotal(),
                analysis.Path,
                Options(server, ("retries", "2"))
            )
        );
        Assert.Contains("rate limit or quota exceeded", error.Message, StringComparison.Ordinal);
        Assert.Contains("QuotaExceededError", error.Message, StringComparison.Ordinal);
        Assert.Equal(3, server.Requests.Count);
    }

    [Fact(Timeout = 30_000)]
    public async Task Server_errors_are_retried()
    {
        using var server = new FakeVirusTotalServer(
            (_, index) =>
                index < 2 ? new Reply(503, "") : Reply.FromFile(200, ReplyPath("found.json"))
        );
        using var analysis = await AnalysisWithSampleAsync();
        using var document = await ModuleHarness.RunAsync(
            new VirusTotal(),
            analysis.Path,
            Options(server)
        );
        Assert.Equal(3, server.Requests.Count);
        Assert.Equal(6, document!.RootElement.GetProperty("total").GetInt32());
    }

    [Fact(Timeout = 30_000)]
    public async Task A_reply_slower_than_the_timeout_is_a_clear_module_error()
    {
        using var server = new FakeVirusTotalServer(
            (_, _) =>
                Reply.FromFile(200, ReplyPath("found.json")) with
                {
                    // Far beyond the bound below; disposing the server ends the wait.
                    Delay = TimeSpan.FromSeconds(60),
                }
        );
        using var analysis = await AnalysisWithSampleAsync();
        var stopwatch = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<ProcessingException>(() =>
            ModuleHarness.RunAsync(
                new VirusTotal(),
                analysis.Path,
                Options(server, ("timeout", "1"), ("retries", "0"))
            )
        );
        Assert.Contains("did not answer within 1 s", error.Message, StringComparison.Ordinal);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(20), $"took {stopwatch.Elapsed}");
    }

    [Fact]
    public async Task Malformed_json_is_a_clear_module_error()
    {
        using var server = new FakeVirusTotalServer(
            (_, _) => Reply.FromFile(200, ReplyPath("malformed.json"))
        );
        using var analysis = await AnalysisWithSampleAsync();
        var error = await Assert.ThrowsAsync<ProcessingException>(() =>
            ModuleHarness.RunAsync(new VirusTotal(), analysis.Path, Options(server))
        );
        Assert.Contains("malformed JSON", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_key_the_module_says_it_is_not_configured_and_sends_nothing()
    {
        using var server = new FakeVirusTotalServer(
            (_, _) => Reply.FromFile(200, ReplyPath("found.json"))
        );
        using var analysis = await AnalysisWithSampleAsync();
        var options = Options(server);
        options.Remove("key");
        var error = await Assert.ThrowsAsync<ProcessingException>(() =>
            ModuleHarness.RunAsync(new VirusTotal(), analysis.Path, options)
        );
        Assert.Contains("key not configured", error.Message, StringComparison.Ordinal);
        Assert.Empty(server.Requests);
    }

    [Fact]
    public async Task Url_tasks_are_looked_up_by_their_url_identifier()
    {
        using var server = new FakeVirusTotalServer(
            (_, _) => Reply.FromFile(404, ReplyPath("not_found.json"))
        );
        using var analysis = TempDirectory.Create();
        using var document = await ModuleHarness.RunAsync(
            new VirusTotal(),
            analysis.Path,
            Options(server),
            task: new TaskInfo
            {
                Id = 1,
                Category = "url",
                Target = "http://example.com/a?b=1",
            }
        );
        // base64url of the URL without padding, as API v3 wants.
        Assert.Equal(
            "/api/v3/urls/aHR0cDovL2V4YW1wbGUuY29tL2E_Yj0x",
            Assert.Single(server.Requests).Path
        );
        Assert.Equal(
            "resource has not been scanned yet",
            document!.RootElement.GetProperty("summary").GetProperty("error").GetString()
        );
    }

    [Fact]
    public async Task Dropped_PE_files_are_looked_up_from_files_when_no_dropped_section_exists()
    {
        using var server = new FakeVirusTotalServer(
            (request, _) =>
                request.Path.EndsWith(SampleSha256, StringComparison.Ordinal)
                    ? Reply.FromFile(200, ReplyPath("found.json"))
                    : Reply.FromFile(404, ReplyPath("not_found.json"))
        );
        using var analysis = await AnalysisWithSampleAsync();
        Directory.CreateDirectory(analysis.Combine("files"));
        await File.WriteAllBytesAsync(
            analysis.Combine("files", "0001_dropped.exe"),
            [(byte)'M', (byte)'Z', 0x90, 0]
        );
        await File.WriteAllTextAsync(analysis.Combine("files", "0002_notes.txt"), "not a PE");
        using var document = await ModuleHarness.RunAsync(
            new VirusTotal(),
            analysis.Path,
            Options(server, ("dropped", "yes"))
        );
        var dropped = Assert.Single(document!.RootElement.GetProperty("dropped").EnumerateArray());
        Assert.Equal("0001_dropped.exe", dropped.GetProperty("name").GetString());
        Assert.Equal(
            "resource has not been scanned yet",
            dropped
                .GetProperty("virustotal")
                .GetProperty("summary")
                .GetProperty("error")
                .GetString()
        );
        Assert.Equal(2, server.Requests.Count);
    }

    [Fact]
    public async Task Dropped_PE_files_come_from_the_dropped_section_in_summary_form()
    {
        using var server = new FakeVirusTotalServer(
            (_, _) => Reply.FromFile(200, ReplyPath("found.json"))
        );
        using var analysis = await AnalysisWithSampleAsync();
        var dropped = $$"""
            [
              {"name": "evil.dll", "path": "/nowhere/evil.dll", "sha256": "{{new string(
                'a',
                64
            )}}", "type": "PE32 executable (DLL) (GUI) Intel 80386, for MS Windows"},
              {"name": "notes.txt", "path": "/nowhere/notes.txt", "sha256": "{{new string(
                'b',
                64
            )}}", "type": "ASCII text"}
            ]
            """;
        using var document = await ModuleHarness.RunAsync(
            new VirusTotal(),
            analysis.Path,
            Options(server, ("dropped", "yes")),
            earlierResults: new Dictionary<string, string> { ["dropped"] = dropped }
        );
        var entry = Assert.Single(document!.RootElement.GetProperty("dropped").EnumerateArray());
        Assert.Equal("evil.dll", entry.GetProperty("name").GetString());
        var report = entry.GetProperty("virustotal");
        Assert.Equal(3, report.GetProperty("summary").GetProperty("positives").GetInt32());
        Assert.False(report.TryGetProperty("scans", out _));
        Assert.Contains(server.Requests, r => r.Path == $"/api/v3/files/{new string('a', 64)}");
    }

    [Fact]
    public async Task Dropped_lookups_stop_at_the_dropped_limit()
    {
        using var server = new FakeVirusTotalServer(
            (_, _) => Reply.FromFile(404, ReplyPath("not_found.json"))
        );
        using var analysis = await AnalysisWithSampleAsync();
        Directory.CreateDirectory(analysis.Combine("files"));
        for (var i = 0; i < 5; i++)
        {
            await File.WriteAllBytesAsync(
                analysis.Combine("files", $"{i}.exe"),
                [(byte)'M', (byte)'Z', (byte)i]
            );
        }
        using var document = await ModuleHarness.RunAsync(
            new VirusTotal(),
            analysis.Path,
            Options(server, ("dropped", "yes"), ("dropped_limit", "2"))
        );
        Assert.Equal(2, document!.RootElement.GetProperty("dropped").GetArrayLength());
        Assert.Equal(3, server.Requests.Count);
    }

    [SkippableFact]
    public async Task Conformance_recorded_v3_replies_map_to_Cuckoos_fields()
    {
        var fixtures = Path.Combine(RepoPaths.RequireSharedFixtures(), "virustotal");
        var recorded = Path.Combine(
            fixtures,
            "417c06700c3e899f0554654102fa064385bf1d3ecec32471ac488096d81bf38c.json"
        );
        using var server = new FakeVirusTotalServer((_, _) => Reply.FromFile(200, recorded));
        using var analysis = await AnalysisWithSampleAsync();
        using var document = await ModuleHarness.RunAsync(
            new VirusTotal(),
            analysis.Path,
            Options(server)
        );
        var vt = document!.RootElement;
        Assert.Equal(7, vt.GetProperty("summary").GetProperty("positives").GetInt32());
        Assert.Equal(76, vt.GetProperty("total").GetInt32());
        Assert.Equal(
            "2023-12-18 18:19:49",
            vt.GetProperty("summary").GetProperty("scan_date").GetString()
        );
        Assert.Equal(
            "417c06700c3e899f0554654102fa064385bf1d3ecec32471ac488096d81bf38c",
            vt.GetProperty("sha256").GetString()
        );
        Assert.Equal(76, vt.GetProperty("scans").EnumerateObject().Count());
        var ikarus = vt.GetProperty("scans").GetProperty("Ikarus");
        Assert.True(ikarus.GetProperty("detected").GetBoolean());
        Assert.Equal(
            ["Tiny"],
            ikarus.GetProperty("normalized").EnumerateArray().Select(e => e.GetString()!).ToArray()
        );
        var normalized = vt.GetProperty("normalized")
            .EnumerateArray()
            .Select(e => e.GetString())
            .ToList();
        Assert.Contains("AIDetectMalware", normalized);
        Assert.Contains("Tiny", normalized);
        Assert.DoesNotContain("Trojan", normalized);
    }

    [SkippableFact]
    public async Task Conformance_recorded_not_found_and_wrong_key_replies()
    {
        var fixtures = Path.Combine(RepoPaths.RequireSharedFixtures(), "virustotal");
        using (
            var server = new FakeVirusTotalServer(
                (_, _) => Reply.FromFile(404, Path.Combine(fixtures, "not_found.json"))
            )
        )
        {
            using var analysis = await AnalysisWithSampleAsync();
            using var document = await ModuleHarness.RunAsync(
                new VirusTotal(),
                analysis.Path,
                Options(server)
            );
            Assert.Equal(
                "resource has not been scanned yet",
                document!.RootElement.GetProperty("summary").GetProperty("error").GetString()
            );
        }
        using (
            var server = new FakeVirusTotalServer(
                (_, _) => Reply.FromFile(401, Path.Combine(fixtures, "wrong_key.json"))
            )
        )
        {
            using var analysis = await AnalysisWithSampleAsync();
            var error = await Assert.ThrowsAsync<ProcessingException>(() =>
                ModuleHarness.RunAsync(new VirusTotal(), analysis.Path, Options(server))
            );
            Assert.Contains("Wrong API key", error.Message, StringComparison.Ordinal);
        }
    }
}
