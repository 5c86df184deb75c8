using System.Text;
using Microkernel.Testing;
using Microkernel.TestSupport;

namespace Microkernel.Plugins.VirusTotal.Tests;

/// <summary>
/// The built plugin folder run by the host's runner (through <see cref="ModuleTestHost"/>) in its
/// own collectible load context: whatever the lookup ends in, the context must unload. (Polly
/// pinned it through TypeDescriptor's static cache; see docs/virustotal.md.)
/// </summary>
public sealed class PluginUnloadTests
{
    private static string BuildOutput => RepoPaths.BuildOutput("plugins", "VirusTotal");

    private static string ReplyPath(string name) =>
        Path.Combine(AppContext.BaseDirectory, "Replies", name);

    [Fact(Timeout = 60_000)]
    public async Task Found_reply_after_a_retry_unloads_the_plugin_context()
    {
        using var server = new FakeVirusTotalServer(
            (_, index) =>
                index == 0
                    ? new Reply(503, "", RetryAfter: "0")
                    : Reply.FromFile(200, ReplyPath("found.json"))
        );

        var result = await RunAsync(server.BaseUrl, ("rate_limit", "4"));

        Assert.Equal("ok", result.Outcome);
        Assert.Equal(2, server.Requests.Count);
        Assert.Equal(3, result.Section.GetProperty("positives").GetInt32());
        AssertOneContextUnloaded(result);
    }

    [Fact(Timeout = 60_000)]
    public async Task Error_reply_unloads_the_plugin_context()
    {
        using var server = new FakeVirusTotalServer(
            (_, _) => Reply.FromFile(401, ReplyPath("wrong_key.json"))
        );

        var result = await RunAsync(server.BaseUrl);

        Assert.Equal("processing_error", result.Outcome);
        Assert.Contains("rejected the API key", result.Error, StringComparison.Ordinal);
        AssertOneContextUnloaded(result);
    }

    [Fact(Timeout = 120_000)]
    public async Task A_worker_process_gives_the_same_section_as_the_host()
    {
        using var server = new FakeVirusTotalServer(
            (_, _) => Reply.FromFile(200, ReplyPath("found.json"))
        );

        var inProcess = await RunAsync(server.BaseUrl, ModuleIsolation.InProcess);
        var isolated = await RunAsync(server.BaseUrl, ModuleIsolation.Process);

        Assert.Equal("ok", isolated.Outcome);
        Assert.Equal(2, server.Requests.Count);
        Assert.True(
            System.Text.Json.Nodes.JsonNode.DeepEquals(
                System.Text.Json.Nodes.JsonNode.Parse(inProcess.Section.GetRawText()),
                System.Text.Json.Nodes.JsonNode.Parse(isolated.Section.GetRawText())
            ),
            "the virustotal section differs between in-process and process isolation"
        );
    }

    /// <summary>Runs the built plugin on a one-file analysis; the kit fails the test if the context leaks.</summary>
    private static Task<ModuleTestResult> RunAsync(
        string baseUrl,
        params (string Key, string Value)[] extraOptions
    ) => RunAsync(baseUrl, ModuleIsolation.InProcess, extraOptions);

    private static async Task<ModuleTestResult> RunAsync(
        string baseUrl,
        ModuleIsolation isolation,
        params (string Key, string Value)[] extraOptions
    )
    {
        using var analysis = TempDirectory.Create();
        await File.WriteAllTextAsync(
            analysis.Combine("analysis.conf"),
            "[analysis]\nid = 42\ncategory = file\n"
        );
        await File.WriteAllBytesAsync(
            analysis.Combine("binary"),
            Encoding.ASCII.GetBytes("Microkernel VirusTotal test sample\n")
        );
        var options = new Dictionary<string, string>
        {
            ["key"] = "unload-test-key",
            ["base_url"] = baseUrl,
            ["timeout"] = "5",
            ["retries"] = "2",
            ["retry_delay"] = "0.05",
        };
        foreach (var (key, value) in extraOptions)
        {
            options[key] = value;
        }

        await using var host = new ModuleTestHost(BuildOutput)
        {
            Timeout = TimeSpan.FromSeconds(30),
            CancellationGrace = TimeSpan.FromSeconds(1),
        };
        return await host.RunAsync(analysis.Path, options, isolation);
    }

    private static void AssertOneContextUnloaded(ModuleTestResult result)
    {
        var unload = result.Report.GetProperty("statistics").GetProperty("unload");
        Assert.Equal(1, unload.GetProperty("contexts").GetInt32());
        Assert.Equal(1, unload.GetProperty("unloaded").GetInt32());
    }
}
