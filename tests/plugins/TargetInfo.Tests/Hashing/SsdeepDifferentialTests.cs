using System.Diagnostics;
using System.Text;
using Microkernel.Plugins.FileDescription.Hashing;
using Microkernel.Plugins.TargetInfo.Tests.LibFuzzy;
using Microkernel.TestSupport;

namespace Microkernel.Plugins.TargetInfo.Tests.Hashing;

/// <summary>
/// The project's ssdeep against libfuzzy (the reference, Debian libfuzzy2) and the ssdeep tool on
/// generated inputs: sizes around the block-size steps, shapes that trigger often, rarely or never,
/// with and without the total length announced, fed whole or in odd pieces, through the vector
/// path (when this CPU has AVX-512 VBMI) and the scalar one.
/// </summary>
public sealed class SsdeepDifferentialTests
{
    public static TheoryData<int, string> Inputs()
    {
        var data = new TheoryData<int, string>();
        int[] sizes =
        [
            0,
            1,
            6,
            7,
            8,
            63,
            64,
            65,
            191,
            192,
            193,
            383,
            384,
            1000,
            4095,
            4096,
            4097,
            6143,
            12289,
            50_000,
            100_000,
            262_144,
            1_000_003,
        ];
        foreach (var size in sizes)
        {
            foreach (var shape in Shapes)
            {
                data.Add(size, shape);
            }
        }
        data.Add(3 * 1024 * 1024 + 5, "random");
        data.Add(6 * 1024 * 1024 + 1, "mixed");
        data.Add(2 * 1024 * 1024, "text");
        return data;
    }

    private static readonly string[] Shapes =
    [
        "random",
        "text",
        "zeros",
        "mixed",
        "period",
        "high",
        "pairs",
    ];

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Digests_equal_libfuzzys(int size, string shape)
    {
        var data = Generate(size, shape, seed: size * 31 + Array.IndexOf(Shapes, shape));

        // Odd piece sizes move the stretch and read boundaries around; big inputs only need a few.
        int[] pieces = size <= 100_000 ? [int.MaxValue, 4093, 7] : [int.MaxValue, 1 << 20];
        foreach (var announced in new[] { true, false })
        {
            foreach (var piece in pieces)
            {
                var expected = Reference(data, announced, piece);
                // The scalar path is slow in Debug builds: whole big inputs only.
                var paths =
                    size <= 1_000_003 || piece == int.MaxValue ? [true, false] : new[] { true };
                foreach (var vectorised in paths)
                {
                    var actual = Managed(data, announced, piece, vectorised);
                    Assert.True(
                        expected == actual,
                        $"{size} bytes of {shape}, length announced: {announced}, pieces of {piece}, vectorised: {vectorised && Ssdeep.IsVectorised}: libfuzzy {expected}, ours {actual}"
                    );
                }
            }
        }
    }

    [Fact]
    public void A_real_PE_and_its_prefixes_digest_like_libfuzzy()
    {
        // The project's sample PE (46 KiB): headers, code, zero padding and resources; its prefixes
        // cut at and around the block-size steps, and copies of it end to end past 1 MiB so the
        // larger block sizes and their reductions are reached too.
        var pe = File.ReadAllBytes(RepoPaths.InRepo("samples", "analyses", "1", "binary"));
        var repeated = new byte[1_300_000];
        for (var at = 0; at < repeated.Length; at += pe.Length)
        {
            pe.AsSpan(0, Math.Min(pe.Length, repeated.Length - at)).CopyTo(repeated.AsSpan(at));
        }
        int[] cuts = [64, 191, 192, 193, 383, 384, 385, 767, 768, 6143, 6144, 6145, 12_288, 24_577];
        var inputs = cuts.Select(cut => pe[..cut]).Append(pe).Append(repeated);
        foreach (var data in inputs)
        {
            foreach (var announced in new[] { true, false })
            {
                foreach (var piece in new[] { int.MaxValue, 4093, 7 })
                {
                    var expected = Reference(data, announced, piece);
                    foreach (var vectorised in new[] { true, false })
                    {
                        Assert.True(
                            expected == Managed(data, announced, piece, vectorised),
                            $"PE prefix of {data.Length} bytes, length announced: {announced}, pieces of {piece}, vectorised: {vectorised && Ssdeep.IsVectorised}: libfuzzy {expected}"
                        );
                    }
                }
            }
        }
    }

    [Fact]
    public void A_length_that_differs_from_the_announced_one_gives_no_digest_like_libfuzzy()
    {
        var hasher = new Ssdeep();
        Assert.True(hasher.SetTotalLength(10));
        hasher.Append(new byte[9]);

        Assert.Null(hasher.Digest());
        Assert.False(hasher.SetTotalLength(11));
        Assert.False(new Ssdeep().SetTotalLength(Ssdeep.MaxTotalSize + 1));
    }

    [SkippableFact]
    public void Files_give_what_the_ssdeep_tool_prints()
    {
        var tool = FindOnPath("ssdeep");
        Skip.If(tool is null, "the ssdeep tool is not installed (Debian package ssdeep)");
        using var folder = TempDirectory.Create();
        foreach (
            var (size, shape) in new[]
            {
                (5_000_000, "random"),
                (700_000, "text"),
                (2_500_000, "mixed"),
            }
        )
        {
            var path = folder.Combine($"{shape}.bin");
            File.WriteAllBytes(path, Generate(size, shape, seed: size));

            var printed = RunSsdeep(tool!, path);

            Assert.Equal(printed, FileHashes.Compute(path).Ssdeep);
        }
    }

    private static string? Reference(byte[] data, bool announced, int piece)
    {
        using var reference = FuzzyHash.TryCreate(announced ? data.Length : null, out var failure);
        Assert.True(reference is not null, $"libfuzzy2 is needed for this test: {failure}");
        for (var at = 0; at < data.Length; at += piece)
        {
            reference!.Append(data.AsSpan(at, Math.Min(piece, data.Length - at)));
        }
        return reference!.Digest();
    }

    private static string? Managed(byte[] data, bool announced, int piece, bool vectorised)
    {
        var hasher = new Ssdeep(vectorised);
        if (announced)
        {
            Assert.True(hasher.SetTotalLength((ulong)data.Length));
        }
        for (var at = 0; at < data.Length; at += piece)
        {
            hasher.Append(data.AsSpan(at, Math.Min(piece, data.Length - at)));
        }
        return hasher.Digest();
    }

    /// <summary>
    /// random: triggers as often as the block size says; text: a narrow byte range; zeros: the
    /// rolling hash never changes; mixed: runs of all three; period: a short repeating pattern,
    /// whose triggers repeat with it; high: only bytes with both top bits set, which the vector
    /// path carries above the 6-bit hashes until it stores them; pairs: random with short bursts of
    /// 247, 142 repeated, where every window ending in 142 has a rolling sum of 3 * 2^14 times an
    /// odd number, so every other byte triggers each block size up to 49152 (the dense case,
    /// where candidates are taken from whole sums rather than their low bits).
    /// </summary>
    internal static byte[] Generate(int size, string shape, int seed)
    {
        var random = new Random(seed);
        var data = new byte[size];
        switch (shape)
        {
            case "random":
                random.NextBytes(data);
                break;
            case "text":
                for (var i = 0; i < size; i++)
                {
                    data[i] = random.Next(16) == 0 ? (byte)'\n' : (byte)random.Next(0x20, 0x7f);
                }
                break;
            case "zeros":
                break;
            case "pairs":
                random.NextBytes(data);
                for (var at = random.Next(1000, 9000); at < size; at += random.Next(1000, 9000))
                {
                    var burst = Math.Min(random.Next(20, 61), size - at);
                    for (var j = 0; j < burst; j++)
                    {
                        data[at + j] = (byte)(j % 2 == 0 ? 247 : 142);
                    }
                }
                break;
            case "high":
                for (var i = 0; i < size; i++)
                {
                    data[i] = (byte)random.Next(0xC0, 0x100);
                }
                break;
            case "period":
                var pattern = Encoding.Latin1.GetBytes(
                    "MZ\u0090\0\u0003\0\0\0\u0004\0\0\0\u00ff\u00ff\0\0PE"
                );
                for (var i = 0; i < size; i++)
                {
                    data[i] = pattern[i % pattern.Length];
                }
                break;
            default:
                for (var i = 0; i < size; )
                {
                    var run = random.Next(1, 20_000);
                    var kind = random.Next(3);
                    for (var j = 0; j < run && i < size; j++, i++)
                    {
                        data[i] = kind switch
                        {
                            0 => (byte)random.Next(256),
                            1 => 0,
                            _ => (byte)(j % 31),
                        };
                    }
                }
                break;
        }
        return data;
    }

    private static string RunSsdeep(string tool, string path)
    {
        using var process = Process.Start(
            new ProcessStartInfo(tool, ["-s", path]) { RedirectStandardOutput = true }
        )!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        // "ssdeep,1.1--blocksize:hash:hash,filename" then "<digest>,"<path>"".
        var line = output.Split('\n')[1];
        return line[..line.IndexOf(',', StringComparison.Ordinal)];
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => Path.Combine(folder, name))
            .FirstOrDefault(File.Exists);
}
