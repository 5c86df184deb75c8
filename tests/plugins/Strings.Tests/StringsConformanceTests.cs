using System.Text.Json;
using Microkernel.TestSupport;

namespace Microkernel.Plugins.Strings.Tests;

/// <summary>strings against Cuckoo 2.0.7's own output on the shared PE fixtures.</summary>
public sealed class StringsConformanceTests
{
    public static TheoryData<string> Fixtures() =>
        new()
        {
            "apphost-x64.exe",
            "apphost-x86.exe",
            "clam-mew.exe",
            "clam-upack.exe",
            "clam-upx.exe",
            "icardres.dll",
            "mingw-app-x64.exe",
            "mingw-app-x86.exe",
            "mingw-lib-x64.dll",
            "mingw-lib-x86.dll",
        };

    [SkippableTheory]
    [MemberData(nameof(Fixtures))]
    public async Task The_list_is_identical_in_content_and_order(string fixture)
    {
        var fixtures = RepoPaths.RequireSharedFixtures();
        using var analysis = TempDirectory.Create();
        File.Copy(Path.Combine(fixtures, "pe", fixture), analysis.Combine("binary"));
        var expected = JsonSerializer.Deserialize<List<string>>(
            await File.ReadAllTextAsync(
                Path.Combine(
                    fixtures,
                    "pe",
                    "expected",
                    Path.GetFileNameWithoutExtension(fixture) + ".strings.json"
                )
            )
        )!;

        using var result = await ModuleHarness.RunAsync(new Strings(), analysis.Path);

        var actual = result!.RootElement.EnumerateArray().Select(s => s.GetString()!).ToList();
        Assert.Equal(expected, actual);
    }
}
