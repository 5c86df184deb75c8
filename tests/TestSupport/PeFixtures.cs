using System.Text.Json;
using Xunit;

namespace Microkernel.TestSupport;

/// <summary>The shared PE conformance fixtures (../shared/fixtures/pe) and Cuckoo's expected output for each.</summary>
public static class PeFixtures
{
    /// <summary>Every PE with expected static, target and strings output.</summary>
    public static TheoryData<string> All() =>
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

    /// <summary>
    /// An analysis folder whose <c>binary</c> is <paramref name="fixture"/>, and Cuckoo's expected
    /// <paramref name="kind"/> (<c>static</c>, <c>target</c> or <c>strings</c>) for it. Skips the
    /// calling test when the shared fixtures are absent.
    /// </summary>
    public static async Task<(TempDirectory Analysis, JsonDocument Expected)> LoadAsync(
        string fixture,
        string kind
    )
    {
        var fixtures = RepoPaths.RequireSharedFixtures();
        var analysis = TempDirectory.Create();
        File.Copy(Path.Combine(fixtures, "pe", fixture), analysis.Combine("binary"));
        var expectedPath = Path.Combine(
            fixtures,
            "pe",
            "expected",
            $"{Path.GetFileNameWithoutExtension(fixture)}.{kind}.json"
        );
        return (analysis, JsonDocument.Parse(await File.ReadAllBytesAsync(expectedPath)));
    }
}
