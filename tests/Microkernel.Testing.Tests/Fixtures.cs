using Microkernel.TestSupport;

namespace Microkernel.Testing.Tests;

/// <summary>Build outputs of the fixture plugins, and a small analysis folder.</summary>
internal static class Fixtures
{
#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    public static string Output(string fixture) =>
        RepoPaths.InRepo("tests", "FixturePlugins", fixture, "bin", Configuration, "net10.0");

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
