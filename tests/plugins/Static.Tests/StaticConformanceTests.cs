using System.Text.Json;
using Microkernel.Contracts;
using Microkernel.TestSupport;

namespace Microkernel.Plugins.Static.Tests;

/// <summary>
/// static against Cuckoo 2.0.7's own output on the shared PE fixtures, field by field. Named
/// differences: peid_signatures (no PEiD database ships, so always null), pe_resources aliasing
/// (Cuckoo's Q15: we report every leaf's own values), pe_errors (Microkernel's addition).
/// </summary>
public sealed class StaticConformanceTests
{
    [SkippableTheory]
    [MemberData(nameof(PeFixtures.All), MemberType = typeof(PeFixtures))]
    public async Task Ordered_fields_are_identical(string fixture)
    {
        var (expected, actual) = await RunAsync(fixture);
        foreach (
            var field in new[]
            {
                "pe_imports",
                "pe_exports",
                "pe_imphash",
                "pe_timestamp",
                "pdb_path",
                "imported_dll_count",
            }
        )
        {
            AssertSame(fixture, field, expected.GetProperty(field), actual.GetProperty(field));
        }
    }

    [SkippableTheory]
    [MemberData(nameof(PeFixtures.All), MemberType = typeof(PeFixtures))]
    public async Task Sections_are_identical_with_entropy_compared_as_numbers(string fixture)
    {
        var (expected, actual) = await RunAsync(fixture);
        var want = expected.GetProperty("pe_sections").EnumerateArray().ToList();
        var got = actual.GetProperty("pe_sections").EnumerateArray().ToList();
        Assert.Equal(want.Count, got.Count);
        for (var i = 0; i < want.Count; i++)
        {
            foreach (
                var field in new[] { "name", "virtual_address", "virtual_size", "size_of_data" }
            )
            {
                AssertSame(
                    fixture,
                    $"pe_sections[{i}].{field}",
                    want[i].GetProperty(field),
                    got[i].GetProperty(field)
                );
            }
            Assert.Equal(
                want[i].GetProperty("entropy").GetDouble(),
                got[i].GetProperty("entropy").GetDouble(),
                12
            );
        }
    }

    [SkippableTheory]
    [MemberData(nameof(PeFixtures.All), MemberType = typeof(PeFixtures))]
    public async Task Unordered_fields_are_identical_as_multisets(string fixture)
    {
        // Cuckoo's order here is Python 2 dict/set order (fixtures README).
        var (expected, actual) = await RunAsync(fixture);
        foreach (var field in new[] { "pe_versioninfo", "keys" })
        {
            var want = expected
                .GetProperty(field)
                .EnumerateArray()
                .Select(Canonical)
                .Order()
                .ToList();
            var got = actual.GetProperty(field).EnumerateArray().Select(Canonical).Order().ToList();
            Assert.Equal(want, got);
        }
    }

    [SkippableTheory]
    [MemberData(nameof(PeFixtures.All), MemberType = typeof(PeFixtures))]
    public async Task Resources_match_except_for_Cuckoos_per_type_aliasing(string fixture)
    {
        var (expected, actual) = await RunAsync(fixture);
        var want = expected.GetProperty("pe_resources").EnumerateArray().ToList();
        var got = actual.GetProperty("pe_resources").EnumerateArray().ToList();
        Assert.Equal(want.Count, got.Count);
        for (var i = 0; i < want.Count; i++)
        {
            var name = want[i].GetProperty("name").GetString();
            AssertSame(
                fixture,
                $"pe_resources[{i}].name",
                want[i].GetProperty("name"),
                got[i].GetProperty("name")
            );
            var lastOfType =
                i == want.Count - 1 || want[i + 1].GetProperty("name").GetString() != name;
            if (lastOfType)
            {
                // Cuckoo's aliased entries all carry the last leaf's values, so the last one is exact.
                AssertSame(fixture, $"pe_resources[{i}]", want[i], got[i]);
            }
        }
    }

    [SkippableFact]
    public async Task Deliberate_difference_Q15_each_resource_leaf_keeps_its_own_values()
    {
        // Cuckoo shows both RT_STRING leaves of mingw-app-x86 as the English one; objdump shows a
        // German leaf at 0x13210 (0x8e bytes) and an English one at 0x132a0 (0xec bytes).
        var (_, actual) = await RunAsync("mingw-app-x86.exe");
        var strings = actual
            .GetProperty("pe_resources")
            .EnumerateArray()
            .Where(r => r.GetProperty("name").GetString() == "RT_STRING")
            .ToList();
        Assert.Equal(2, strings.Count);
        Assert.Equal("LANG_GERMAN", strings[0].GetProperty("language").GetString());
        Assert.Equal("0x00013210", strings[0].GetProperty("offset").GetString());
        Assert.Equal("0x0000008e", strings[0].GetProperty("size").GetString());
        Assert.Equal("LANG_ENGLISH", strings[1].GetProperty("language").GetString());
        Assert.Equal("0x000132a0", strings[1].GetProperty("offset").GetString());
    }

    [SkippableTheory]
    [MemberData(nameof(PeFixtures.All), MemberType = typeof(PeFixtures))]
    public async Task Deliberate_difference_peid_signatures_are_null_without_a_database(
        string fixture
    )
    {
        var (_, actual) = await RunAsync(fixture);
        Assert.Equal(JsonValueKind.Null, actual.GetProperty("peid_signatures").ValueKind);
    }

    [SkippableTheory]
    [InlineData("apphost-x86.exe", "33000001c8243ac81e4d9388bb0000000001c8")]
    [InlineData("apphost-x64.exe", "33000001c79aa1eedc27e2f8b70000000001c7")]
    public async Task The_Authenticode_signer_is_reported(string fixture, string serial)
    {
        // Cuckoo's reference run lacked M2Crypto; osslsigncode gives these signers (fixtures README).
        var (_, actual) = await RunAsync(fixture);
        var signer = Assert.Single(actual.GetProperty("signature").EnumerateArray());
        Assert.Equal(serial, signer.GetProperty("serial_number").GetString());
        Assert.Equal(".NET", signer.GetProperty("common_name").GetString());
        Assert.Equal("Microsoft Corporation", signer.GetProperty("organization").GetString());
        Assert.Equal("US", signer.GetProperty("country").GetString());
        Assert.Equal("Redmond", signer.GetProperty("locality").GetString());
        Assert.Equal(40, signer.GetProperty("sha1").GetString()!.Length);
        Assert.Equal(32, signer.GetProperty("md5").GetString()!.Length);
    }

    [SkippableTheory]
    [InlineData("mingw-app-x86.exe")]
    [InlineData("mingw-lib-x64.dll")]
    [InlineData("apphost-x64.exe")]
    [InlineData("icardres.dll")]
    public async Task Well_formed_files_report_no_errors(string fixture)
    {
        var (_, actual) = await RunAsync(fixture);
        Assert.False(actual.TryGetProperty("pe_errors", out var errors), errors.ToString());
    }

    private static string Canonical(JsonElement element) => JsonSerializer.Serialize(element);

    private static void AssertSame(
        string fixture,
        string field,
        JsonElement expected,
        JsonElement actual
    ) =>
        Assert.True(
            JsonElement.DeepEquals(expected, actual),
            $"{fixture}: {field} is {actual}, Cuckoo says {expected}"
        );

    private static async Task<(JsonElement Expected, JsonElement Actual)> RunAsync(string fixture)
    {
        var (analysis, expected) = await PeFixtures.LoadAsync(fixture, "static");
        using var _ = analysis;
        var actual = await ModuleHarness.RunAsync(
            new StaticAnalysis(),
            analysis.Path,
            task: new TaskInfo { Category = "file", Target = "/tmp/" + fixture }
        );
        return (expected.RootElement, actual!.RootElement);
    }
}
