using Microkernel.TestSupport;

namespace Microkernel.Plugins.Behavior.Tests;

/// <summary>The committed sample analysis (logs written by bench/Behavior.Bench's sample generator).</summary>
public sealed class SampleTests
{
    [Fact]
    public async Task Sample_analysis_has_a_full_behavior_section()
    {
        using var copy = TempDirectory.CopyOf(RepoPaths.InRepo("samples", "analyses", "1"));
        using var result = await ModuleHarness.RunAsync(new BehaviorAnalysis(), copy.Path);
        var root = result!.RootElement;
        var hello = root.GetProperty("processtree")[0];
        Assert.Equal(2044, hello.GetProperty("pid").GetInt32());
        Assert.Equal("hello.exe", hello.GetProperty("process_name").GetString());
        Assert.Equal(2100, hello.GetProperty("children")[0].GetProperty("pid").GetInt32());
        var summary = root.GetProperty("summary");
        foreach (
            var key in new[]
            {
                "file_created",
                "file_written",
                "regkey_written",
                "mutex",
                "resolves_host",
                "connects_ip",
                "fetches_url",
                "command_line",
                "file_read",
            }
        )
        {
            Assert.True(summary.TryGetProperty(key, out _), key);
        }
        Assert.False(root.TryGetProperty("errors", out _));
        Assert.Equal(2, File.ReadAllLines(copy.Combine("reboot.json")).Length);
    }
}
