using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;

namespace Microkernel.Contracts.Tests;

public sealed class SectionStreamTests : IDisposable
{
    private readonly string _root = Path.Combine(
        Path.GetTempPath(),
        $"contracts-tests-{Guid.NewGuid():N}"
    );

    private string Scratch => Path.Combine(_root, "Module");

    [Fact]
    public void A_small_section_stays_in_memory_and_creates_no_scratch_folder()
    {
        using var stream = Context().CreateSectionStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            writer.WriteString("name", "é");
            writer.WriteEndObject();
        }

        var section = stream.ToSection();

        Assert.Null(section.FilePath);
        Assert.Equal(
            """{"name":"\u00E9"}""",
            System.Text.Encoding.UTF8.GetString(section.Utf8.Span)
        );
        Assert.False(Directory.Exists(Scratch));
    }

    [Fact]
    public void Content_across_chunk_boundaries_comes_back_whole()
    {
        var content = Pattern(3 * SectionStream.ChunkSize + 123);
        using var stream = Context().CreateSectionStream();
        // Odd write sizes, so that writes straddle chunk boundaries.
        for (var at = 0; at < content.Length; at += 7919)
        {
            stream.Write(content, at, Math.Min(7919, content.Length - at));
        }

        var section = stream.ToSection();

        Assert.Null(section.FilePath);
        Assert.Equal(content, section.Utf8.ToArray());
    }

    [Theory]
    [InlineData(100)]
    [InlineData(5_000)]
    [InlineData(200_000)]
    public void Memory_held_grows_with_the_section_not_by_whole_chunks(int length)
    {
        var content = Pattern(length);
        using var stream = Context().CreateSectionStream();
        for (var at = 0; at < content.Length; at += 13)
        {
            stream.Write(content, at, Math.Min(13, content.Length - at));
        }

        var section = stream.ToSection();

        Assert.Equal(content, section.Utf8.ToArray());
        var held = section.Chunks!.Sum(chunk => (long)chunk.Length);
        // Doubling chunk sizes hold at most twice the content, plus the first chunk.
        Assert.InRange(held, length, 2L * length + SectionStream.FirstChunkSize);
        Assert.All(
            section.Chunks!,
            chunk => Assert.InRange(chunk.Length, 1, SectionStream.ChunkSize)
        );
    }

    [Fact]
    public void A_section_past_one_MiB_moves_to_a_scratch_file_with_all_its_bytes()
    {
        var content = Pattern((1 << 20) + 5000);
        using var stream = Context().CreateSectionStream();
        stream.Write(content, 0, 1000);
        Assert.False(Directory.Exists(Scratch));
        stream.Write(content, 1000, content.Length - 1000);
        Assert.Single(Directory.GetFiles(Scratch));

        var section = stream.ToSection();

        Assert.NotNull(section.FilePath);
        Assert.StartsWith(Scratch, section.FilePath);
        Assert.Equal(content, File.ReadAllBytes(section.FilePath));
        Assert.True(section.Utf8.IsEmpty);
    }

    [Fact]
    public void A_stream_disposed_before_ToSection_deletes_its_file()
    {
        var stream = Context().CreateSectionStream();
        stream.Write(Pattern((1 << 20) + 1));
        Assert.Single(Directory.GetFiles(Scratch));

        stream.Dispose();

        Assert.Empty(Directory.GetFiles(Scratch));
        Assert.Throws<ObjectDisposedException>(() => stream.Write([1]));
    }

    [Fact]
    public void A_stream_ends_with_its_section()
    {
        using var stream = Context().CreateSectionStream();
        stream.Write("1"u8);
        stream.ToSection();

        Assert.False(stream.CanWrite);
        Assert.Throws<ObjectDisposedException>(() => stream.Write("2"u8));
        Assert.Throws<ObjectDisposedException>(() => stream.ToSection());
    }

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private static byte[] Pattern(int length)
    {
        var bytes = new byte[length];
        for (var i = 0; i < length; i++)
        {
            bytes[i] = (byte)(i * 31 + i / 251);
        }
        return bytes;
    }

    private ProcessingContext Context() =>
        new(
            _root,
            new TaskInfo(),
            ModuleOptions.Empty("module"),
            NullLogger.Instance,
            new NoSections(),
            Scratch,
            _root,
            ModuleOptions.Empty("processing")
        );
}
