using System.Text;
using System.Text.Json;
using Microkernel.Host.Configuration;
using Microkernel.Host.Running;
using Microkernel.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace Microkernel.Plugins.VirusTotal.Tests;

/// <summary>
/// The built plugin folder run by the host's <see cref="AnalysisRunner"/> in its own collectible
/// load context: whatever the lookup ends in, the context must unload. (Polly pinned it through
/// TypeDescriptor's static cache; see docs/virustotal.md.)
/// </summary>
public sealed class PluginUnloadTests
{
#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

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
        using var lab = new HostLab(server.BaseUrl, "rate_limit = 4\n");

        var result = await lab.RunAsync();

        var module = Assert.Single(result.Modules);
        Assert.Equal("ok", module.Outcome);
        Assert.Equal(2, server.Requests.Count);
        using var report = JsonDocument.Parse(await File.ReadAllBytesAsync(result.ReportPath!));
        Assert.Equal(
            3,
            report.RootElement.GetProperty("virustotal").GetProperty("positives").GetInt32()
        );
        Assert.Equal(1, result.Unload.Contexts);
        Assert.Empty(result.Unload.Leaked);
    }

    [Fact(Timeout = 60_000)]
    public async Task Error_reply_unloads_the_plugin_context()
    {
        using var server = new FakeVirusTotalServer(
            (_, _) => Reply.FromFile(401, ReplyPath("wrong_key.json"))
        );
        using var lab = new HostLab(server.BaseUrl);

        var result = await lab.RunAsync();

        var module = Assert.Single(result.Modules);
        Assert.Equal("processing_error", module.Outcome);
        Assert.Contains("rejected the API key", module.Error, StringComparison.Ordinal);
        Assert.Equal(1, result.Unload.Contexts);
        Assert.Empty(result.Unload.Leaked);
    }

    /// <summary>A plugins folder holding only the built VirusTotal plugin, a conf and an analysis.</summary>
    private sealed class HostLab : IDisposable
    {
        private readonly TempDirectory _root = TempDirectory.Create();

        public HostLab(string baseUrl, string extraOptions = "")
        {
            var built = RepoPaths.InRepo("plugins", "VirusTotal", "bin", Configuration, "net10.0");
            if (!File.Exists(Path.Combine(built, "Microkernel.Plugins.VirusTotal.dll")))
            {
                throw new InvalidOperationException(
                    $"The VirusTotal plugin is not built at {built}."
                );
            }
            TempDirectory.CopyTree(built, _root.Combine("plugins", "VirusTotal"));
            Directory.CreateDirectory(_root.Combine("conf"));
            File.WriteAllText(
                _root.Combine("conf", "processing.conf"),
                $"[virustotal]\nenabled = yes\nkey = unload-test-key\nbase_url = {baseUrl}\ntimeout = 5\nretries = 2\nretry_delay = 0.05\n{extraOptions}"
            );
            Directory.CreateDirectory(AnalysisPath);
            File.WriteAllText(
                Path.Combine(AnalysisPath, "analysis.conf"),
                "[analysis]\nid = 42\ncategory = file\n"
            );
            File.WriteAllBytes(
                Path.Combine(AnalysisPath, "binary"),
                Encoding.ASCII.GetBytes("Microkernel VirusTotal test sample\n")
            );
        }

        private string AnalysisPath => _root.Combine("analyses", "42");

        public Task<AnalysisResult> RunAsync() =>
            new AnalysisRunner(
                new MicrokernelOptions
                {
                    PluginsPath = _root.Combine("plugins"),
                    ConfPath = _root.Combine("conf"),
                    DefaultModuleTimeoutSeconds = 30,
                    CancellationGraceSeconds = 1,
                },
                NullLoggerFactory.Instance
            ).RunAsync(new AnalysisRequest(AnalysisPath));

        public void Dispose() => _root.Dispose();
    }
}
