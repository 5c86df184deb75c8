using System.Diagnostics;
using System.Text;
using System.Text.Json;
using CliWrap;
using CliWrap.Buffered;
using Microkernel.TestSupport;
using Xunit.Abstractions;

namespace Microkernel.Templates.Tests;

/// <summary>
/// The whole path of a module author, end to end: pack the SDK packages into a local feed,
/// install the template into a private hive, instantiate it, build it and run its tests against
/// the packages, drop the built plugin into an empty plugins folder, and process the shipped
/// sample with the host built by this solution.
/// </summary>
public sealed class ModuleTemplateTests(ITestOutputHelper output)
{
    private static readonly TimeSpan StepTimeout = TimeSpan.FromMinutes(4);

    [Fact(Timeout = 300_000)]
    [Trait("Category", "Slow")]
    public async Task The_module_template_builds_tests_and_runs_in_the_host()
    {
        var total = Stopwatch.StartNew();
        using var work = TempDirectory.Create();
        var feed = work.Combine("feed");
        var hive = work.Combine("hive");
        var packages = work.Combine("packages");
        var project = work.Combine("Hello");

        // 1. The packages a module author gets: contracts and the test kit (which carries the host).
        await Task.WhenAll(
            RunAsync(
                "dotnet",
                [
                    "pack",
                    RepoPaths.InRepo("contracts"),
                    "-c",
                    RepoPaths.Configuration,
                    "--no-build",
                    "--no-restore",
                    "-o",
                    feed,
                    "-nodeReuse:false",
                ]
            ),
            RunAsync(
                "dotnet",
                [
                    "pack",
                    RepoPaths.InRepo("testing", "Microkernel.Testing"),
                    "-c",
                    RepoPaths.Configuration,
                    "--no-build",
                    "--no-restore",
                    "-o",
                    feed,
                    "-nodeReuse:false",
                ]
            )
        );
        var contractsVersion = PackageVersion(feed, "Microkernel.Contracts");
        var testingVersion = PackageVersion(feed, "Microkernel.Testing");
        Step(
            total,
            $"packed Microkernel.Contracts {contractsVersion}, Microkernel.Testing {testingVersion}"
        );

        // 2. Install the template from the repository into a private hive, and instantiate it.
        await RunAsync(
            "dotnet",
            [
                "new",
                "install",
                RepoPaths.InRepo("templates", "Microkernel.Module"),
                "--debug:custom-hive",
                hive,
            ]
        );
        await RunAsync(
            "dotnet",
            [
                "new",
                "microkernel-module",
                "-n",
                "Hello",
                "-o",
                project,
                "--ContractsVersion",
                contractsVersion,
                "--TestingVersion",
                testingVersion,
                "--debug:custom-hive",
                hive,
                "--no-update-check",
            ]
        );
        Assert.True(File.Exists(Path.Combine(project, "Hello", "Hello.csproj")));
        Assert.Contains(
            "Key => \"hello\"",
            await File.ReadAllTextAsync(Path.Combine(project, "Hello", "Hello.cs")),
            StringComparison.Ordinal
        );
        Step(total, "template installed and instantiated");

        // 3. Build it and run its own tests (ModuleTestHost from the package), restoring the
        // Microkernel packages from the feed and the rest from the machine's cache or NuGet.
        // A private packages folder keeps the feed's packages out of the machine's cache, where
        // a later run would find a stale copy under the same version.
        var templateTests = await RunAsync(
            "dotnet",
            [
                "test",
                Path.Combine(project, "Hello.Tests"),
                "-c",
                "Release",
                "-nodeReuse:false",
                $"-p:RestoreAdditionalProjectSources={feed}",
                $"-p:RestoreFallbackFolders={MachinePackages()}",
                "-p:UseSharedCompilation=false",
            ],
            packages
        );
        // Its tests: in-process and worker-process runs of the module, through the packaged kit.
        Assert.Matches(@"Passed:\s+3\b", templateTests.StandardOutput);
        Step(total, "template built and its tests passed");

        // 4. The built plugin alone in a plugins folder, no private contracts copy.
        var built = Path.Combine(project, "Hello", "bin", "Release", "net10.0");
        Assert.False(
            File.Exists(Path.Combine(built, "Microkernel.Contracts.dll")),
            $"The template's plugin ships its own Microkernel.Contracts.dll in {built}: it must compile against the package, not carry it."
        );
        TempDirectory.CopyTree(built, work.Combine("plugins", "Hello"));
        Directory.CreateDirectory(work.Combine("conf"));
        await File.WriteAllTextAsync(
            work.Combine("conf", "processing.conf"),
            "[hello]\nenabled = yes\npattern = *\n"
        );
        var analysis = work.Combine("analysis");
        TempDirectory.CopyTree(RepoPaths.InRepo("samples", "analyses", "1"), analysis);
        var expectedFiles = Directory
            .EnumerateFiles(analysis, "*", SearchOption.AllDirectories)
            .Count();

        // 5. The host built by this solution processes the sample with it.
        var host = Path.Combine(RepoPaths.BuildOutput("host"), "microkernel.dll");
        var reportPath = work.Combine("report.json");
        var result = await RunAsync(
            "dotnet",
            [
                host,
                "process",
                analysis,
                "-o",
                reportPath,
                "--plugins",
                work.Combine("plugins"),
                "--conf",
                work.Combine("conf"),
            ]
        );
        Step(total, "sample processed");

        using var report = JsonDocument.Parse(await File.ReadAllBytesAsync(reportPath));
        var hello = report.RootElement.GetProperty("hello");
        Assert.Equal("*", hello.GetProperty("pattern").GetString());
        Assert.Equal(expectedFiles, hello.GetProperty("count").GetInt32());
        Assert.True(hello.GetProperty("bytes").GetInt64() > 0);
        Assert.True(hello.GetProperty("folders").GetProperty("logs").GetInt32() > 0);
        var statistics = report.RootElement.GetProperty("statistics");
        var module = Assert.Single(statistics.GetProperty("processing").EnumerateArray());
        Assert.Equal("ok", module.GetProperty("outcome").GetString());
        Assert.Empty(statistics.GetProperty("load_failures").EnumerateArray());
        Assert.Empty(statistics.GetProperty("unload").GetProperty("leaked").EnumerateArray());
        Assert.Contains(
            "Hello",
            result.StandardOutput + result.StandardError,
            StringComparison.Ordinal
        );
    }

    private void Step(Stopwatch total, string what) =>
        output.WriteLine($"[{total.Elapsed.TotalSeconds, 6:0.0} s] {what}");

    /// <summary>The machine's NuGet cache, used read-only as a fallback folder.</summary>
    private static string MachinePackages() =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES")
        ?? Path.Combine(
            Environment.GetFolderPath(Environment.SpecialFolder.UserProfile),
            ".nuget",
            "packages"
        );

    private static string PackageVersion(string feed, string id)
    {
        var package = Directory
            .EnumerateFiles(feed, $"{id}.*.nupkg")
            .Select(Path.GetFileNameWithoutExtension)
            .Single(n => n!.Length > id.Length + 1 && char.IsDigit(n[id.Length + 1]));
        return package![(id.Length + 1)..];
    }

    /// <summary>Runs a command to completion (killing it on timeout); fails with its output if it exits non-zero.</summary>
    private async Task<BufferedCommandResult> RunAsync(
        string program,
        string[] arguments,
        string? nugetPackages = null
    )
    {
        using var timeout = new CancellationTokenSource(StepTimeout);
        var command = Cli.Wrap(program)
            .WithArguments(arguments)
            .WithValidation(CommandResultValidation.None)
            .WithEnvironmentVariables(env =>
            {
                // A child build must not inherit the test run's MSBuild or test-host settings.
                foreach (var name in Environment.GetEnvironmentVariables().Keys.Cast<string>())
                {
                    if (
                        name.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)
                        || name.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase)
                        || name.Equals("DOTNET_HOST_PATH", StringComparison.OrdinalIgnoreCase)
                    )
                    {
                        env.Set(name, null);
                    }
                }
                env.Set("DOTNET_CLI_TELEMETRY_OPTOUT", "1")
                    .Set("DOTNET_NOLOGO", "1")
                    .Set("DOTNET_SKIP_FIRST_TIME_EXPERIENCE", "1")
                    .Set("DOTNET_CLI_DO_NOT_USE_MSBUILD_SERVER", "1");
                if (nugetPackages is not null)
                {
                    env.Set("NUGET_PACKAGES", nugetPackages);
                }
            });
        var started = Stopwatch.StartNew();
        var result = await command.ExecuteBufferedAsync(Encoding.UTF8, timeout.Token);
        output.WriteLine(
            $"$ {program} {string.Join(' ', arguments)}: exit {result.ExitCode} in {started.Elapsed.TotalSeconds:0.0} s"
        );
        if (result.ExitCode != 0)
        {
            Assert.Fail(
                $"{program} {string.Join(' ', arguments)} exited with {result.ExitCode}.\n{result.StandardOutput}\n{result.StandardError}"
            );
        }
        return result;
    }
}
