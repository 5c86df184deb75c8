using Microkernel.TestSupport;

namespace Microkernel.Testing.Tests;

/// <summary>Build outputs of the fixture plugins, and a small analysis folder.</summary>
internal static class Fixtures
{
    public static string Output(string fixture) =>
        RepoPaths.BuildOutput("tests", "FixturePlugins", fixture);

    /// <summary>An analysis folder of task 42 with a small binary.</summary>
    public static TempDirectory Analysis()
    {
        var analysis = TempDirectory.Create();
        File.WriteAllText(
            analysis.Combine("analysis.conf"),
            "[analysis]\nid = 42\ncategory = file\n"
        );
        File.WriteAllText(analysis.Combine("binary"), "MZ not really\n");
        return analysis;
    }
}
