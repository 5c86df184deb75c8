using System.Reflection;
using Microkernel.Testing;

namespace Microkernel.Plugins.FileCount.Tests;

public sealed class FileCountTests : IDisposable
{
    /// <summary>The plugin's build output folder, recorded by the test project at build time.</summary>
    private static readonly string PluginBuildOutput = typeof(FileCountTests)
        .Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "PluginBuildOutput")
        .Value!;

    private const string AnalysisConf = "[analysis]\nid = 7\ncategory = file\n";

    private readonly string _analysis = Path.Combine(
        Path.GetTempPath(),
        "filecount-tests",
        Guid.NewGuid().ToString("N")
    );

    public FileCountTests()
    {
        // A small analysis folder made by the test: analysis.conf, a binary and two logs.
        Directory.CreateDirectory(Path.Combine(_analysis, "logs"));
        File.WriteAllText(Path.Combine(_analysis, "analysis.conf"), AnalysisConf);
        File.WriteAllText(Path.Combine(_analysis, "binary"), "MZ");
        File.WriteAllText(Path.Combine(_analysis, "logs", "1.bson"), "abc");
        File.WriteAllText(Path.Combine(_analysis, "logs", "2.bson"), "defg");
    }

    // In process and in a worker process (the default for modules not shipped with Microkernel):
    // the same section either way, and the kit checks that the plugin unloaded.
    [Theory]
    [InlineData(ModuleIsolation.InProcess)]
    [InlineData(ModuleIsolation.Process)]
    public async Task Counts_every_file_by_default(ModuleIsolation isolation)
    {
        await using var host = new ModuleTestHost(PluginBuildOutput);
        var result = await host.RunAsync(_analysis, isolation: isolation);

        Assert.Equal("ok", result.Outcome);
        Assert.Equal(4, result.Section.GetProperty("count").GetInt32());
        Assert.Equal(
            AnalysisConf.Length + 2 + 3 + 4,
            result.Section.GetProperty("bytes").GetInt64()
        );
        Assert.Equal(2, result.Section.GetProperty("folders").GetProperty("logs").GetInt32());
    }

    [Fact]
    public async Task Counts_only_what_the_options_ask_for()
    {
        await using var host = new ModuleTestHost(PluginBuildOutput);
        var result = await host.RunAsync(
            _analysis,
            new Dictionary<string, string> { ["pattern"] = "*.bson", ["recursive"] = "no" }
        );

        Assert.Equal(0, result.Section.GetProperty("count").GetInt32());
        Assert.Empty(result.Errors);
    }

    public void Dispose() => Directory.Delete(_analysis, recursive: true);
}
