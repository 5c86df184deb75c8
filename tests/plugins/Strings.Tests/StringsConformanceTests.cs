using System.Text.Json;
using Microkernel.TestSupport;

namespace Microkernel.Plugins.Strings.Tests;

/// <summary>strings against Cuckoo 2.0.7's own output on the shared PE fixtures.</summary>
public sealed class StringsConformanceTests
{
    [SkippableTheory]
    [MemberData(nameof(PeFixtures.All), MemberType = typeof(PeFixtures))]
    public async Task The_list_is_identical_in_content_and_order(string fixture)
    {
        var (analysis, document) = await PeFixtures.LoadAsync(fixture, "strings");
        using var _ = analysis;
        using var __ = document;
        var expected = document.RootElement.EnumerateArray().Select(s => s.GetString()!).ToList();

        using var result = await ModuleHarness.RunAsync(new Strings(), analysis.Path);

        var actual = result!.RootElement.EnumerateArray().Select(s => s.GetString()!).ToList();
        Assert.Equal(expected, actual);
    }
}
