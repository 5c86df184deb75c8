using Xunit;

namespace Microkernel.TestSupport;

/// <summary>Where the repository and the shared conformance fixtures are.</summary>
public static class RepoPaths
{
    /// <summary>The folder holding Microkernel.sln.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary><c>../shared/fixtures</c> next to the clone, or null on a fresh clone without it.</summary>
    public static string? SharedFixtures
    {
        get
        {
            var path = Path.GetFullPath(Path.Combine(Root, "..", "shared", "fixtures"));
            return Directory.Exists(path) ? path : null;
        }
    }

    /// <summary>The shared fixtures folder; skips the calling <c>[SkippableFact]</c> with a clear message when absent.</summary>
    public static string RequireSharedFixtures()
    {
        var path = SharedFixtures;
        Skip.If(
            path is null,
            $"Conformance fixtures not found at {Path.GetFullPath(Path.Combine(Root, "..", "shared", "fixtures"))}: this test compares against Cuckoo 2.0's own output and needs ../shared next to the clone."
        );
        return path!;
    }

    /// <summary>A file or folder of the repository.</summary>
    public static string InRepo(params string[] parts) => Path.Combine([Root, .. parts]);

    /// <summary>The build configuration of the running tests, so they use the matching build outputs.</summary>
#if DEBUG
    public const string Configuration = "Debug";
#else
    public const string Configuration = "Release";
#endif

    /// <summary>The build output folder of the project in <paramref name="projectFolder"/> (e.g. <c>"plugins", "Memory"</c>), in this configuration.</summary>
    public static string BuildOutput(params string[] projectFolder) =>
        InRepo([.. projectFolder, "bin", Configuration, "net10.0"]);

    private static string FindRoot()
    {
        for (
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            dir is not null;
            dir = dir.Parent
        )
        {
            if (File.Exists(Path.Combine(dir.FullName, "Microkernel.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException(
            $"Microkernel.sln not found above {AppContext.BaseDirectory}"
        );
    }
}
