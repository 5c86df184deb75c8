using System.Buffers.Binary;
using Microkernel.Plugins.Static.Pe;
using Microkernel.TestSupport;

namespace Microkernel.Plugins.Static.Tests;

/// <summary>Damaged images give what can be read plus pe_errors: no exception, no hang, no huge allocation.</summary>
public sealed class MalformedPeTests
{
    [Fact]
    public void A_resource_directory_pointing_at_itself_ends_with_an_error()
    {
        var image = MinimalPe.Build();
        // Resource directory at RVA 0x1000 (file 0x200): one id entry whose subdirectory is itself.
        MinimalPe.SetDirectory(image, 2, 0x1000, 0x100);
        BinaryPrimitives.WriteUInt16LittleEndian(image.AsSpan(0x200 + 14), 1);
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(0x200 + 16), 3);
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(0x200 + 20), 0x80000000);

        var result = PortableExecutable.Analyse(image, null, default)!;

        Assert.Empty((System.Collections.IEnumerable)result["pe_resources"]!);
        Assert.Contains(
            (List<string>)result["pe_errors"]!,
            e => e.Contains("loop", StringComparison.Ordinal)
        );
    }

    [Fact]
    public void Absurd_export_counts_are_bounded_by_the_file()
    {
        var image = MinimalPe.Build();
        MinimalPe.SetDirectory(image, 0, 0x1000, 0x28);
        var export = image.AsSpan(0x200);
        BinaryPrimitives.WriteUInt32LittleEndian(export[20..], uint.MaxValue); // NumberOfFunctions
        BinaryPrimitives.WriteUInt32LittleEndian(export[24..], uint.MaxValue); // NumberOfNames
        BinaryPrimitives.WriteUInt32LittleEndian(export[28..], 0x1040);
        BinaryPrimitives.WriteUInt32LittleEndian(export[32..], 0x1040);
        BinaryPrimitives.WriteUInt32LittleEndian(export[36..], 0x1040);

        var result = PortableExecutable.Analyse(image, null, default)!;

        Assert.NotNull(result["pe_exports"]);
        Assert.NotEmpty((List<string>)result["pe_errors"]!);
    }

    [Fact]
    public void Directories_and_sections_beyond_the_file_are_reported_not_thrown()
    {
        var image = MinimalPe.Build();
        MinimalPe.SetDirectory(image, 1, 0x7fff0000, 0x1000);
        MinimalPe.SetDirectory(image, 4, 0x7fff0000, 0x1000);
        MinimalPe.SetDirectory(image, 6, 0x7fff0000, 0x1000);
        BinaryPrimitives.WriteUInt16LittleEndian(image.AsSpan(0x80 + 6), 0xffff); // NumberOfSections

        var result = PortableExecutable.Analyse(image, null, default)!;

        Assert.Equal("", result["pe_imphash"]);
        Assert.NotEmpty((List<string>)result["pe_errors"]!);
    }

    [Fact]
    public void Not_a_pe_gives_null()
    {
        Assert.Null(PortableExecutable.Analyse("MZ but nothing else"u8.ToArray(), null, default));
        Assert.Null(PortableExecutable.Analyse(Array.Empty<byte>(), null, default));
    }

    [Fact]
    public void Every_truncation_of_a_project_built_pe_is_survived()
    {
        var sample = File.ReadAllBytes(RepoPaths.InRepo("samples", "analyses", "1", "binary"));
        for (var length = 0; length <= sample.Length; length += 97)
        {
            _ = PortableExecutable.Analyse(sample.AsMemory(0, length), null, default);
        }
    }

    [Fact]
    public void Random_corruption_of_a_project_built_pe_is_survived()
    {
        var sample = File.ReadAllBytes(RepoPaths.InRepo("samples", "analyses", "1", "binary"));
        var random = new Random(1234);
        for (var round = 0; round < 300; round++)
        {
            var copy = (byte[])sample.Clone();
            for (var i = 0; i < 16; i++)
            {
                // Bias towards the headers and tables, where damage matters most.
                var at =
                    random.Next(2) == 0
                        ? random.Next(Math.Min(0x400, copy.Length))
                        : random.Next(copy.Length);
                copy[at] = (byte)random.Next(256);
            }
            _ = PortableExecutable.Analyse(copy, null, default);
        }
    }

    [SkippableFact]
    public void Truncated_shared_fixtures_are_survived()
    {
        var fixtures = RepoPaths.RequireSharedFixtures();
        foreach (var file in Directory.EnumerateFiles(Path.Combine(fixtures, "pe"), "*.*"))
        {
            var data = File.ReadAllBytes(file);
            for (var length = 0; length < Math.Min(data.Length, 0x3000); length += 61)
            {
                _ = PortableExecutable.Analyse(data.AsMemory(0, length), null, default);
            }
        }
    }
}

/// <summary>A minimal PE32 image built byte by byte: headers at 0, one section .data at RVA 0x1000 / file 0x200.</summary>
internal static class MinimalPe
{
    public static byte[] Build()
    {
        var image = new byte[0x600];
        var span = image.AsSpan();
        span[0] = (byte)'M';
        span[1] = (byte)'Z';
        BinaryPrimitives.WriteUInt32LittleEndian(span[0x3c..], 0x80);
        "PE\0\0"u8.CopyTo(span[0x80..]);
        BinaryPrimitives.WriteUInt16LittleEndian(span[0x84..], 0x14c);
        BinaryPrimitives.WriteUInt16LittleEndian(span[0x86..], 1);
        BinaryPrimitives.WriteUInt16LittleEndian(span[0x94..], 0xe0);
        var optional = 0x98;
        BinaryPrimitives.WriteUInt16LittleEndian(span[optional..], 0x10b);
        BinaryPrimitives.WriteUInt32LittleEndian(span[(optional + 28)..], 0x400000);
        BinaryPrimitives.WriteUInt32LittleEndian(span[(optional + 32)..], 0x1000);
        BinaryPrimitives.WriteUInt32LittleEndian(span[(optional + 36)..], 0x200);
        BinaryPrimitives.WriteUInt32LittleEndian(span[(optional + 92)..], 16);
        var section = optional + 0xe0;
        ".data\0\0\0"u8.CopyTo(span[section..]);
        BinaryPrimitives.WriteUInt32LittleEndian(span[(section + 8)..], 0x400);
        BinaryPrimitives.WriteUInt32LittleEndian(span[(section + 12)..], 0x1000);
        BinaryPrimitives.WriteUInt32LittleEndian(span[(section + 16)..], 0x400);
        BinaryPrimitives.WriteUInt32LittleEndian(span[(section + 20)..], 0x200);
        return image;
    }

    public static void SetDirectory(byte[] image, int index, uint rva, uint size)
    {
        var at = 0x98 + 96 + index * 8;
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(at), rva);
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(at + 4), size);
    }
}
