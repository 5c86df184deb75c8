using System.Security.Cryptography;
using System.Text.Json;
using Microkernel.TestSupport;

namespace Microkernel.Plugins.Behavior.Tests;

/// <summary>Checks against Cuckoo 2.0.7's own output for the real monitor log in ../shared/fixtures.</summary>
public sealed class ConformanceTests
{
    private static string Fixture =>
        Path.Combine(RepoPaths.RequireSharedFixtures(), "cuckoo-analysis");

    [SkippableFact]
    public async Task Matches_cuckoo_output_for_the_real_monitor_log()
    {
        var fixture = Fixture;
        using var copy = TempDirectory.CopyOf(fixture);
        using var result = await ModuleHarness.RunAsync(new BehaviorAnalysis(), copy.Path);
        Assert.NotNull(result);
        using var expected = JsonDocument.Parse(
            await File.ReadAllBytesAsync(Path.Combine(fixture, "expected", "behavior.json"))
        );
        JsonAssert.Equal(expected.RootElement, result.RootElement);
    }

    [SkippableFact]
    public async Task Writes_the_buffer_file_and_empties_reboot_json()
    {
        var fixture = Fixture;
        using var copy = TempDirectory.CopyOf(fixture);
        var buffer = copy.Combine("buffer", "32692b6152fcd32674fbe4c8c398e3a8df87c398");
        File.Delete(buffer);
        await ModuleHarness.RunAsync(new BehaviorAnalysis(), copy.Path);
        Assert.True(File.Exists(buffer));
        Assert.Equal(
            "32692b6152fcd32674fbe4c8c398e3a8df87c398",
            Convert.ToHexStringLower(SHA1.HashData(await File.ReadAllBytesAsync(buffer)))
        );
        Assert.Equal(0, new FileInfo(copy.Combine("reboot.json")).Length);
    }

    [SkippableFact]
    public async Task Calls_no_keeps_summary_and_apistats()
    {
        var fixture = Fixture;
        using var copy = TempDirectory.CopyOf(fixture);
        using var result = await ModuleHarness.RunAsync(
            new BehaviorAnalysis(),
            copy.Path,
            options: new Dictionary<string, string> { ["calls"] = "no" }
        );
        Assert.NotNull(result);
        var root = result.RootElement;
        Assert.Equal(0, root.GetProperty("processes")[0].GetProperty("calls").GetArrayLength());
        Assert.Equal(
            32,
            root.GetProperty("apistats").GetProperty("752").GetProperty("NtClose").GetInt32()
        );
        Assert.Equal(3, root.GetProperty("summary").EnumerateObject().Count());
    }
}
