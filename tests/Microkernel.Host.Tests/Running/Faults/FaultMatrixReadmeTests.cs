using Microkernel.TestSupport;

namespace Microkernel.Host.Tests.Running.Faults;

/// <summary>The README's table is rendered from <see cref="FaultMatrix"/>, so it says only what the matrix asserts.</summary>
[Trait("Category", "Faults")]
public sealed class FaultMatrixReadmeTests
{
    [Fact]
    public void The_readme_table_is_the_matrix_these_tests_assert()
    {
        var table = FaultMatrix.Table();
        var readme = File.ReadAllText(RepoPaths.InRepo("README.md")).ReplaceLineEndings("\n");

        Assert.True(
            readme.Contains(table, StringComparison.Ordinal),
            $"README.md's \"Fault isolation\" table is out of date; it must read:\n\n{table}"
        );
    }
}
