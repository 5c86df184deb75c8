using System.Text;
using System.Text.Json;
using Microkernel.Contracts;
using Microkernel.Plugins.FileDescription.Hashing;
using Microkernel.Plugins.FileDescription.Urls;
using Microkernel.TestSupport;

namespace Microkernel.Plugins.TargetInfo.Tests;

public sealed class TargetInfoTests
{
    [Fact]
    public async Task A_missing_binary_gives_Cuckoos_fallback()
    {
        using var analysis = TempDirectory.Create();

        using var result = await ModuleHarness.RunAsync(
            new TargetInfo(),
            analysis.Path,
            task: new TaskInfo { Category = "file", Target = "/tmp/upload/sample.pdf" }
        );

        var file = result!.RootElement.GetProperty("file");
        Assert.Equal(JsonValueKind.Null, file.GetProperty("path").ValueKind);
        Assert.Equal("sample.pdf", file.GetProperty("name").GetString());
        Assert.Equal(0, file.GetProperty("yara").GetArrayLength());
    }

    [Fact]
    public async Task A_url_task_reports_the_url()
    {
        using var analysis = TempDirectory.Create();

        using var result = await ModuleHarness.RunAsync(
            new TargetInfo(),
            analysis.Path,
            task: new TaskInfo { Category = "url", Target = "http://example.com/x" }
        );

        Assert.Equal("url", result!.RootElement.GetProperty("category").GetString());
        Assert.Equal("http://example.com/x", result.RootElement.GetProperty("url").GetString());
        Assert.False(result.RootElement.TryGetProperty("file", out _));
    }

    [Fact]
    public async Task Hashes_of_a_known_input_match_the_standard_check_values()
    {
        using var analysis = TempDirectory.Create();
        await File.WriteAllTextAsync(analysis.Combine("binary"), "123456789");

        using var result = await ModuleHarness.RunAsync(new TargetInfo(), analysis.Path);

        var file = result!.RootElement.GetProperty("file");
        Assert.Equal(9, file.GetProperty("size").GetInt64());
        Assert.Equal("CBF43926", file.GetProperty("crc32").GetString());
        Assert.Equal("25f9e794323b453885f5181f1b624d0b", file.GetProperty("md5").GetString());
        Assert.Equal(
            "f7c3bc1d808e04732adf679965ccc34ca7ae3441",
            file.GetProperty("sha1").GetString()
        );
        // Same as `ssdeep -b` on the same bytes.
        Assert.Equal("3:OWS:OWS", file.GetProperty("ssdeep").GetString());
        Assert.Equal("ASCII text, with no line terminators", file.GetProperty("type").GetString());
    }

    [Fact]
    public async Task An_empty_file_is_described_without_urls()
    {
        using var analysis = TempDirectory.Create();
        await File.WriteAllBytesAsync(analysis.Combine("binary"), []);

        using var result = await ModuleHarness.RunAsync(new TargetInfo(), analysis.Path);

        var file = result!.RootElement.GetProperty("file");
        Assert.Equal("00000000", file.GetProperty("crc32").GetString());
        Assert.Equal("empty", file.GetProperty("type").GetString());
        Assert.Equal("3::", file.GetProperty("ssdeep").GetString());
    }

    [Fact]
    public void Hashing_across_chunk_boundaries_equals_hashing_at_once()
    {
        var data = new byte[FileHashes.ChunkSize * 2 + 12345];
        new Random(7).NextBytes(data);
        using var stream = new MemoryStream(data);

        var hashes = FileHashes.Compute(stream, data.Length);

        Assert.Equal(
            Convert.ToHexStringLower(System.Security.Cryptography.SHA512.HashData(data)),
            hashes.Sha512
        );
        Assert.Equal(
            Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(data)),
            hashes.Md5
        );
        Assert.Equal(data.Length, hashes.Size);
    }

    [Theory]
    [InlineData("xx http://example.com/a/b.php?x=1 yy", "http://example.com/a/b.php?x=1")]
    [InlineData("https://10.0.0.1:8080/gate", "https://10.0.0.1:8080/gate")]
    [InlineData("\0http://host.example\0", "http://host.example")]
    // Cuckoo's regex quirk: an address followed by ']' takes the IP branch and the joined
    // groups repeat its first octet.
    [InlineData("http://10.1.2.3]/x", "http://10.1.2.3]10/x")]
    public void Urls_follow_Cuckoos_regex(string text, string expected)
    {
        using var stream = new MemoryStream(Encoding.Latin1.GetBytes(text));

        var urls = UrlExtractor.Extract(stream);

        Assert.Equal([expected], urls);
    }

    [Fact]
    public void Urls_crossing_a_chunk_boundary_are_found_once()
    {
        var data = new byte[4 * 1024 * 1024 + 100];
        var url = "http://boundary.example/path"u8;
        url.CopyTo(data.AsSpan(4 * 1024 * 1024 - 10));
        "http://second.example"u8.CopyTo(data.AsSpan(50));
        using var stream = new MemoryStream(data);

        var urls = UrlExtractor.Extract(stream);

        Assert.Equal(["http://second.example", "http://boundary.example/path"], urls);
    }

    [Fact]
    public void Safelisted_hosts_are_left_out()
    {
        using var stream = new MemoryStream("http://good.example http://bad.example"u8.ToArray());

        var urls = UrlExtractor.Extract(stream, new HashSet<string> { "good.example" });

        Assert.Equal(["http://bad.example"], urls);
    }
}
