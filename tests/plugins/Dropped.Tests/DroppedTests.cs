using System.Text.Json;
using Microkernel.TestSupport;

namespace Microkernel.Plugins.Dropped.Tests;

public sealed class DroppedTests
{
    [SkippableFact]
    public async Task The_Cuckoo_analysis_folder_lists_its_eight_dropped_files_with_guest_paths()
    {
        var fixtures = RepoPaths.RequireSharedFixtures();
        using var analysis = TempDirectory.CopyOf(Path.Combine(fixtures, "cuckoo-analysis"));

        using var result = await ModuleHarness.RunAsync(new Dropped(), analysis.Path);

        var files = result!.RootElement.EnumerateArray().ToList();
        Assert.Equal(8, files.Count);
        var journal = files.Single(f =>
            f.GetProperty("name").GetString() == "19386a5ae743b37d_SharedDataEvents-journal"
        );
        Assert.Equal(1024, journal.GetProperty("size").GetInt64());
        Assert.StartsWith(
            "19386a5ae743b37d",
            journal.GetProperty("sha256").GetString(),
            StringComparison.Ordinal
        );
        Assert.Equal(JsonValueKind.Array, journal.GetProperty("pids").ValueKind);
        Assert.Equal(JsonValueKind.String, journal.GetProperty("filepath").ValueKind);
        // Every dropped file of this folder is named after its own SHA-256.
        Assert.All(
            files,
            f =>
                Assert.StartsWith(
                    f.GetProperty("name").GetString()![..16],
                    f.GetProperty("sha256").GetString(),
                    StringComparison.Ordinal
                )
        );
    }

    [Fact]
    public async Task A_malformed_files_json_line_is_skipped_not_fatal()
    {
        using var analysis = TempDirectory.Create();
        Directory.CreateDirectory(analysis.Combine("files"));
        await File.WriteAllTextAsync(analysis.Combine("files", "a.txt"), "alpha");
        await File.WriteAllTextAsync(analysis.Combine("files", "b.txt"), "bravo");
        await File.WriteAllLinesAsync(
            analysis.Combine("files.json"),
            [
                "{\"path\": \"files/a.txt\", \"pids\": [1, 2], \"filepath\": \"C:\\\\a.txt\"}",
                "{this is not json",
                "{\"path\": \"files/b.txt\", \"pids\": [3], \"filepath\": null}",
            ]
        );

        var errors = new List<string>();
        using var result = await ModuleHarness.RunAsync(
            new Dropped(),
            analysis.Path,
            errors: errors
        );

        var files = result!.RootElement.EnumerateArray().ToList();
        Assert.Equal(2, files.Count);
        var error = Assert.Single(errors);
        Assert.StartsWith(
            analysis.Combine("files.json") + ":2: malformed line skipped",
            error,
            StringComparison.Ordinal
        );
        Assert.Equal("C:\\a.txt", files[0].GetProperty("filepath").GetString());
        Assert.Equal(
            [1L, 2L],
            files[0].GetProperty("pids").EnumerateArray().Select(p => p.GetInt64())
        );
        Assert.Equal(JsonValueKind.Null, files[1].GetProperty("filepath").ValueKind);
    }

    [Fact]
    public async Task Paths_leaving_the_analysis_folder_are_refused()
    {
        using var outside = TempDirectory.Create();
        await File.WriteAllTextAsync(outside.Combine("secret.txt"), "secret");
        using var analysis = TempDirectory.Create();
        Directory.CreateDirectory(analysis.Combine("files"));
        await File.WriteAllTextAsync(analysis.Combine("files", "ok.txt"), "fine");
        File.CreateSymbolicLink(
            analysis.Combine("files", "link.txt"),
            outside.Combine("secret.txt")
        );
        Directory.CreateSymbolicLink(analysis.Combine("package_files"), outside.Path);
        await File.WriteAllLinesAsync(
            analysis.Combine("files.json"),
            [
                "{\"path\": \"../secret.txt\", \"pids\": [1], \"filepath\": \"x\"}",
                $"{{\"path\": \"{outside.Combine("secret.txt")}\", \"pids\": [1], \"filepath\": \"y\"}}",
            ]
        );

        using var result = await ModuleHarness.RunAsync(new Dropped(), analysis.Path);

        var file = Assert.Single(result!.RootElement.EnumerateArray());
        Assert.Equal("ok.txt", file.GetProperty("name").GetString());
        Assert.False(file.TryGetProperty("pids", out _));
    }

    [Fact]
    public async Task No_dropped_files_store_nothing()
    {
        using var analysis = TempDirectory.Create();

        var result = await ModuleHarness.RunAsync(new Dropped(), analysis.Path);

        Assert.Null(result);
    }
}
