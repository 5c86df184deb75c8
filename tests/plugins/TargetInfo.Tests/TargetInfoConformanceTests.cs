using System.Text.Json;
using Microkernel.Contracts;
using Microkernel.TestSupport;

namespace Microkernel.Plugins.TargetInfo.Tests;

/// <summary>target.file against Cuckoo 2.0.7's own File getters on the shared PE fixtures.</summary>
public sealed class TargetInfoConformanceTests
{
    [SkippableTheory]
    [MemberData(nameof(PeFixtures.All), MemberType = typeof(PeFixtures))]
    public async Task Every_field_Cuckoo_reports_is_identical(string fixture)
    {
        var (analysis, expected) = await PeFixtures.LoadAsync(fixture, "target");
        using var _ = analysis;
        using var __ = expected;

        using var result = await ModuleHarness.RunAsync(
            new TargetInfo(),
            analysis.Path,
            task: new TaskInfo
            {
                Id = 1,
                Category = "file",
                Target = "/tmp/submitted/" + fixture,
            }
        );

        var file = result!.RootElement.GetProperty("file");
        Assert.Equal("file", result.RootElement.GetProperty("category").GetString());
        Assert.Equal(fixture, file.GetProperty("name").GetString());
        Assert.Equal(analysis.Combine("binary"), file.GetProperty("path").GetString());
        foreach (var property in expected.RootElement.EnumerateObject())
        {
            Assert.True(
                JsonElement.DeepEquals(property.Value, file.GetProperty(property.Name)),
                $"{fixture}: {property.Name} is {file.GetProperty(property.Name)}, Cuckoo says {property.Value}"
            );
        }
        Assert.Equal(JsonValueKind.Array, file.GetProperty("yara").ValueKind);
        Assert.Equal(JsonValueKind.Array, file.GetProperty("urls").ValueKind);
    }

    [SkippableFact]
    public async Task The_mingw_app_url_is_extracted()
    {
        var fixtures = RepoPaths.RequireSharedFixtures();
        using var analysis = TempDirectory.Create();
        File.Copy(Path.Combine(fixtures, "pe", "mingw-app-x86.exe"), analysis.Combine("binary"));

        using var result = await ModuleHarness.RunAsync(new TargetInfo(), analysis.Path);

        var urls = result!
            .RootElement.GetProperty("file")
            .GetProperty("urls")
            .EnumerateArray()
            .Select(u => u.GetString())
            .ToList();
        Assert.NotEmpty(urls);
        Assert.All(urls, u => Assert.StartsWith("http", u, StringComparison.Ordinal));
    }
}
