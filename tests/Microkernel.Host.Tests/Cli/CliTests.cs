using System.Diagnostics;
using Microkernel.TestSupport;

namespace Microkernel.Host.Tests.Cli;

/// <summary>Runs the real <c>microkernel</c> executable as a process.</summary>
public sealed class CliTests
{
    private static (int ExitCode, string Stdout, string Stderr) Run(params string[] args) =>
        RunIn(null, args);

    private static (int ExitCode, string Stdout, string Stderr) RunIn(
        string? workingDirectory,
        params string[] args
    ) => RunIn(workingDirectory, null, args);

    private static (int ExitCode, string Stdout, string Stderr) RunIn(
        string? workingDirectory,
        IReadOnlyDictionary<string, string>? environment,
        params string[] args
    )
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? "",
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "microkernel.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(60_000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("microkernel did not exit within 60 s");
        }
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    [Fact]
    public void Process_exits_0_and_prints_one_line_per_module_when_all_succeed()
    {
        using var lab = new PluginLab("Trivial", "Multi");
        lab.Enable("trivial", "multi");

        var (exit, stdout, stderr) = Run(
            "--plugins",
            lab.PluginsPath,
            "--conf",
            lab.ConfPath,
            "process",
            lab.AnalysisPath
        );

        Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");
        Assert.Matches(@"\n  ok\s+Trivial\s+trivial\s+\d+\.\d{3} s", stdout);
        Assert.Matches(@"\n  skipped\s+Disabled\s+disabled", stdout);
        Assert.Contains("report: " + lab.ReportPath, stdout);
        Assert.True(File.Exists(lab.ReportPath));
    }

    [Fact]
    public void An_appsettings_json_in_the_working_folder_is_not_read()
    {
        // Settings come from next to the executable; the folder a command runs in may be anything
        // (the storage folder under systemd, or /), and reading it meant watching all of it.
        using var lab = new PluginLab("Trivial");
        lab.Enable("trivial");
        using var working = TempDirectory.Create();
        File.WriteAllText(
            working.Combine("appsettings.json"),
            """{"Microkernel": {"DefaultModuleTimeoutSeconds": "not a number"}}"""
        );

        var (exit, stdout, stderr) = RunIn(
            working.Path,
            "--plugins",
            lab.PluginsPath,
            "--conf",
            lab.ConfPath,
            "process",
            lab.AnalysisPath
        );

        Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");
        Assert.True(File.Exists(lab.ReportPath));
    }

    [Fact]
    public void Process_exits_1_when_the_report_was_written_with_module_errors()
    {
        using var lab = new PluginLab("Trivial", "Throws");
        lab.Enable("trivial", "throws");

        var (exit, stdout, _) = Run(
            "--plugins",
            lab.PluginsPath,
            "--conf",
            lab.ConfPath,
            "process",
            lab.AnalysisPath
        );

        Assert.Equal(1, exit);
        Assert.Matches(@"  exception\s+Throws", stdout);
        Assert.True(File.Exists(lab.ReportPath));
    }

    [Fact]
    public void Process_exits_2_with_a_clear_message_for_an_unusable_folder_and_writes_nothing()
    {
        using var lab = new PluginLab("Trivial");
        lab.WriteConf("[trivial]\nenabled = maybe?\n[broken\n");

        var (exit, _, stderr) = Run(
            "--plugins",
            lab.PluginsPath,
            "--conf",
            lab.ConfPath,
            "process",
            lab.AnalysisPath
        );

        Assert.Equal(2, exit);
        Assert.Contains("processing.conf:3: malformed section header '[broken'", stderr);
        Assert.False(File.Exists(lab.ReportPath));
    }

    [Fact]
    public void Bad_usage_exits_2()
    {
        var (exit, _, stderr) = Run("process");

        Assert.Equal(2, exit);
        Assert.Contains("error:", stderr);
    }

    [Fact]
    public void Process_can_write_the_report_to_stdout()
    {
        using var lab = new PluginLab("Trivial");
        lab.Enable("trivial");

        var (exit, stdout, _) = Run(
            "--plugins",
            lab.PluginsPath,
            "--conf",
            lab.ConfPath,
            "process",
            lab.AnalysisPath,
            "-o",
            "-"
        );

        Assert.Equal(0, exit);
        using var report = System.Text.Json.JsonDocument.Parse(stdout);
        Assert.Equal(42, report.RootElement.GetProperty("trivial").GetProperty("task").GetInt32());
        Assert.False(File.Exists(lab.ReportPath));
    }

    [Fact]
    public void Modules_lists_plugins_classes_keys_and_load_errors()
    {
        using var lab = new PluginLab("Multi");
        Directory.CreateDirectory(Path.Combine(lab.PluginsPath, "Hollow"));
        lab.WriteConf("[multi]\nenabled = yes\n");

        var (_, stdout, _) = Run("--plugins", lab.PluginsPath, "--conf", lab.ConfPath, "modules");

        Assert.Matches(@"Multi\s+Bravo\s+bravo\s+0\s+yes\s+process\s+\[multi\]", stdout);
        Assert.Matches(@"Multi\s+Disabled\s+disabled\s+1\s+no \(class\)", stdout);
        Assert.Contains("Hollow         load error: no plugin assembly", stdout);
        Assert.Contains("1/1 plugin contexts unloaded", stdout);
    }

    [Fact]
    public void The_shipped_sample_processes_with_the_shipped_conf_and_plugins_and_no_scratch_file()
    {
        // Its sections are small and stay in memory. On a disk mounted with online discard, every
        // scratch file and folder created and deleted per analysis was a synchronous disk command.
        using var copy = TempDirectory.CopyOf(RepoPaths.InRepo("samples", "analyses", "1"));
        using var temp = TempDirectory.Create();

        var (exit, stdout, stderr) = RunIn(
            null,
            new Dictionary<string, string> { ["TMPDIR"] = temp.Path },
            "--conf",
            RepoPaths.InRepo("conf"),
            "--plugins",
            PluginLab.HostPlugins,
            "process",
            copy.Path
        );

        Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");
        Assert.Matches(@"  ok\s+AnalysisInfo\s+info", stdout);
        using var report = System.Text.Json.JsonDocument.Parse(
            File.ReadAllBytes(copy.Combine("reports", "report.json"))
        );
        Assert.Equal(1, report.RootElement.GetProperty("info").GetProperty("id").GetInt32());
        foreach (
            var key in (string[])
                ["behavior", "network", "strings", "static", "target", "dropped", "debug"]
        )
        {
            Assert.True(report.RootElement.TryGetProperty(key, out _), $"no {key} in the report");
        }
        Assert.NotEmpty(
            report.RootElement.GetProperty("network").GetProperty("http_ex").EnumerateArray()
        );
        Assert.False(
            Directory.Exists(Path.Combine(temp.Path, "microkernel")),
            "the run created a scratch folder"
        );
    }
}
