using System.Text.Json;
using Microkernel.Host.Running;

namespace Microkernel.Host.Tests.Running;

public sealed class AnalysisRunnerTests
{
    private static JsonElement Report(PluginLab lab) =>
        JsonDocument.Parse(File.ReadAllBytes(lab.ReportPath)).RootElement;

    private static JsonElement Statistic(JsonElement report, string module) =>
        report
            .GetProperty("statistics")
            .GetProperty("processing")
            .EnumerateArray()
            .Single(m => m.GetProperty("name").GetString() == module);

    [Fact]
    public async Task Modules_run_by_order_then_class_name_case_insensitively()
    {
        using var lab = new PluginLab("Multi");
        lab.Enable("multi");

        var result = await lab.RunAsync();

        Assert.Equal(
            ["Bravo", "alpha", "Disabled", "Nothing", "Zulu", "Charlie"],
            result.Modules.Select(m => m.Module.ClassName)
        );
        var report = Report(lab);
        // Each module saw exactly the keys stored before it.
        Assert.Equal(
            ["bravo"],
            report
                .GetProperty("alpha")
                .GetProperty("seen")
                .EnumerateArray()
                .Select(e => e.GetString())
        );
        Assert.Equal(
            ["bravo", "alpha", "zulu"],
            report
                .GetProperty("charlie")
                .GetProperty("seen")
                .EnumerateArray()
                .Select(e => e.GetString())
        );
        Assert.Equal(
            ["bravo", "alpha", "zulu", "charlie", "statistics"],
            report.EnumerateObject().Select(p => p.Name)
        );
    }

    [Fact]
    public async Task A_null_result_stores_nothing_and_counts_as_success()
    {
        using var lab = new PluginLab("Multi");
        lab.Enable("multi");

        var result = await lab.RunAsync();

        Assert.Equal(
            ModuleOutcome.Empty,
            result.Modules.Single(m => m.Module.ClassName == "Nothing").Outcome
        );
        Assert.False(Report(lab).TryGetProperty("nothing", out _));
        Assert.False(result.HasModuleErrors);
    }

    [Fact]
    public async Task A_class_that_says_disabled_never_runs_even_when_its_section_is_enabled()
    {
        using var lab = new PluginLab("Multi");
        lab.Enable("multi");

        var result = await lab.RunAsync();

        var disabled = result.Modules.Single(m => m.Module.ClassName == "Disabled");
        Assert.Equal(ModuleOutcome.Skipped, disabled.Outcome);
        Assert.Contains("Enabled = false", disabled.Error);
        Assert.False(Report(lab).TryGetProperty("disabled", out _));
    }

    [Theory]
    [InlineData("no")]
    [InlineData("off")]
    [InlineData("false")]
    [InlineData("0")]
    public async Task A_section_that_says_disabled_in_any_spelling_skips_the_module(string value)
    {
        using var lab = new PluginLab("Trivial");
        lab.WriteConf($"# comment\n; another\n[trivial]\nenabled = {value}\n");

        var result = await lab.RunAsync();

        Assert.Equal(ModuleOutcome.Skipped, result.Modules.Single().Outcome);
        Assert.Equal("disabled in configuration", result.Modules.Single().Error);
    }

    [Fact]
    public async Task A_module_without_a_section_is_skipped_with_the_section_to_add()
    {
        using var lab = new PluginLab("Trivial");
        lab.WriteConf("[something_else]\nenabled = yes\n");

        var result = await lab.RunAsync();

        var record = result.Modules.Single();
        Assert.Equal(ModuleOutcome.Skipped, record.Outcome);
        Assert.Contains("no [trivial] section", record.Error);
        Assert.Contains("'[trivial]' with 'enabled = yes'", record.Error);
    }

    [Fact]
    public async Task A_malformed_conf_is_an_error_naming_file_and_line_and_nothing_is_written()
    {
        using var lab = new PluginLab("Trivial");
        lab.WriteConf("[trivial]\nenabled = yes\nthis line is wrong\n");

        var error = await Assert.ThrowsAsync<UnusableAnalysisException>(() => lab.RunAsync());

        Assert.Contains(Path.Combine(lab.ConfPath, "processing.conf") + ":3:", error.Message);
        Assert.False(File.Exists(lab.ReportPath));
    }

    [Fact]
    public async Task A_throwing_module_is_recorded_and_the_others_still_run()
    {
        using var lab = new PluginLab("Throws", "Trivial");
        lab.Enable("throws", "trivial");

        var result = await lab.RunAsync();

        var thrown = result.Modules.Single(m => m.Module.ClassName == "Throws");
        Assert.Equal(ModuleOutcome.Exception, thrown.Outcome);
        Assert.Contains("index out of patience", thrown.Error);
        Assert.Equal(
            ModuleOutcome.Ok,
            result.Modules.Single(m => m.Module.ClassName == "Trivial").Outcome
        );
        var report = Report(lab);
        Assert.True(report.GetProperty("trivial").GetProperty("ok").GetBoolean());
        Assert.Contains(
            report.GetProperty("debug").GetProperty("errors").EnumerateArray(),
            e =>
                e.GetString()!
                    .StartsWith("Throws: exception: fixture bug", StringComparison.Ordinal)
        );
        Assert.Equal("exception", Statistic(report, "Throws").GetProperty("outcome").GetString());
        Assert.True(result.HasModuleErrors);
    }

    [Fact]
    public async Task Non_fatal_errors_a_module_reports_reach_debug_errors_and_the_module_still_succeeds()
    {
        using var lab = new PluginLab("Trivial");
        lab.WriteConf(
            "[trivial]\nenabled = yes\nreport_error = logs/1.bson: byte offset 12: truncated document\n"
        );

        var result = await lab.RunAsync();

        Assert.Equal(ModuleOutcome.Ok, result.Modules.Single().Outcome);
        Assert.Equal(
            ["Trivial: logs/1.bson: byte offset 12: truncated document"],
            Report(lab)
                .GetProperty("debug")
                .GetProperty("errors")
                .EnumerateArray()
                .Select(e => e.GetString())
        );
    }

    [Fact]
    public async Task A_processing_exception_is_recorded_with_its_message()
    {
        using var lab = new PluginLab("ProcessingError");
        lab.Enable("processingerror");

        var result = await lab.RunAsync();

        var record = result.Modules.Single();
        Assert.Equal(ModuleOutcome.ProcessingError, record.Outcome);
        Assert.Equal("processing_error: the input is not what this module expected", record.Error);
        Assert.Contains(
            "ProcessingError: processing_error: the input is not what this module expected",
            Report(lab)
                .GetProperty("debug")
                .GetProperty("errors")
                .EnumerateArray()
                .Select(e => e.GetString())
        );
    }

    [Fact]
    public async Task A_second_module_claiming_a_taken_key_is_an_error_and_never_overwrites()
    {
        using var lab = new PluginLab("Multi", "DuplicateKey");
        lab.Enable("multi", "duplicatekey");

        var result = await lab.RunAsync();

        var yankee = result.Modules.Single(m => m.Module.ClassName == "Yankee");
        Assert.Equal(ModuleOutcome.DuplicateKey, yankee.Outcome);
        Assert.Contains("already stored by alpha", yankee.Error);
        Assert.Equal("alpha", Report(lab).GetProperty("alpha").GetProperty("class").GetString());
    }

    [Fact]
    public async Task A_module_that_ignores_cancellation_is_abandoned_after_timeout_and_grace_and_reported_unloadable()
    {
        using var lab = new PluginLab("IgnoresCancellation", "Trivial");
        lab.WriteConf(
            // In process the host can only abandon it; isolation = process kills it (ProcessIsolationTests).
            "[ignorescancellation]\nenabled = yes\nisolation = in-process\ntimeout = 0.3\nspin_seconds = 12\n[trivial]\nenabled = yes\n"
        );

        var started = DateTime.UtcNow;
        var result = await lab.RunAsync(lab.Options(graceSeconds: 0.3));
        var elapsed = DateTime.UtcNow - started;

        var stubborn = result.Modules.Single(m => m.Module.ClassName == "IgnoresCancellation");
        Assert.Equal(ModuleOutcome.Abandoned, stubborn.Outcome);
        Assert.Contains("timed out after 0.3 s", stubborn.Error);
        // Waiting for the module would take its 12 s spin; giving up takes 0.6 s plus the rest of the run.
        Assert.True(
            elapsed < TimeSpan.FromSeconds(8),
            $"the host waited {elapsed} for a module with a 0.3 s budget"
        );
        Assert.Equal(
            ModuleOutcome.Ok,
            result.Modules.Single(m => m.Module.ClassName == "Trivial").Outcome
        );
        Assert.Equal(["IgnoresCancellation"], result.Unload.Leaked);
        Assert.False(Report(lab).TryGetProperty("stubborn", out _));
    }

    [Fact]
    public async Task The_per_section_timeout_overrides_the_default()
    {
        using var lab = new PluginLab("IgnoresCancellation");
        lab.WriteConf("[ignorescancellation]\nenabled = yes\ntimeout = 0.2\nspin_seconds = 3\n");

        // Default budget 60 s, section budget 0.2 s; the module stops within the generous grace
        // (after 3 s, far beyond any timer delay on a loaded machine): a timeout, not abandoned.
        var result = await lab.RunAsync(lab.Options(timeoutSeconds: 60, graceSeconds: 20));

        var record = result.Modules.Single();
        Assert.Equal(ModuleOutcome.Timeout, record.Outcome);
        Assert.Equal("timeout: timed out after 0.2 s", record.Error);
        Assert.True(record.Elapsed < TimeSpan.FromSeconds(15), $"took {record.Elapsed}");
        Assert.Empty(result.Unload.Leaked);
    }

    [Fact]
    public async Task A_very_large_result_is_written_whole_and_its_context_unloads()
    {
        using var lab = new PluginLab("LargeResult");
        lab.WriteConf("[largeresult]\nenabled = yes\nmegabytes = 40\n");

        var result = await lab.RunAsync();

        Assert.Equal(ModuleOutcome.Ok, result.Modules.Single().Outcome);
        Assert.True(new FileInfo(lab.ReportPath).Length > 40_000_000);
        using var stream = File.OpenRead(lab.ReportPath);
        using var report = await JsonDocument.ParseAsync(stream);
        var large = report.RootElement.GetProperty("large");
        Assert.Equal(40_000, large.GetProperty("Count").GetInt32());
        Assert.Equal(39_999, large.GetProperty("Rows")[39_999].GetProperty("Index").GetInt32());
        Assert.Equal(1, result.Unload.Unloaded);
    }

    [Fact]
    public async Task A_plugin_gets_its_own_version_of_a_dependency_the_host_also_uses()
    {
        using var lab = new PluginLab("OtherVersion");
        lab.Enable("otherversion");

        var result = await lab.RunAsync();

        Assert.Equal(ModuleOutcome.Ok, result.Modules.Single().Outcome);
        var seen = Report(lab).GetProperty("other_version");
        Assert.Equal("8.0.0.0", seen.GetProperty("assembly_version").GetString());
        Assert.Equal("a,b", seen.GetProperty("joined").GetString());
        var hostVersion = typeof(Microsoft.Extensions.Primitives.StringValues)
            .Assembly.GetName()
            .Version!;
        Assert.Equal(10, hostVersion.Major);
        Assert.Equal(1, result.Unload.Unloaded);
    }

    [Fact]
    public async Task A_plugin_that_keeps_host_objects_in_statics_still_unloads()
    {
        using var lab = new PluginLab("StaticReference");
        lab.Enable("staticreference");

        var result = await lab.RunAsync();

        Assert.Equal(ModuleOutcome.Ok, result.Modules.Single().Outcome);
        Assert.Equal((1, 1), (result.Unload.Contexts, result.Unload.Unloaded));
        Assert.Empty(result.Unload.Leaked);
        Assert.DoesNotContain(
            AppDomain.CurrentDomain.GetAssemblies(),
            a => a.GetName().Name == "Fixture.StaticReference"
        );
    }

    [Fact]
    public async Task A_plugin_pinned_by_a_process_wide_event_is_detected_and_reported_as_leaked()
    {
        using var lab = new PluginLab("LeaksViaEvent", "Trivial");
        lab.Enable("leaksviaevent", "trivial");

        var result = await lab.RunAsync();

        Assert.Equal(["LeaksViaEvent"], result.Unload.Leaked);
        Assert.Equal(1, result.Unload.Unloaded);
        var report = Report(lab);
        Assert.Equal(
            "LeaksViaEvent",
            report
                .GetProperty("statistics")
                .GetProperty("unload")
                .GetProperty("leaked")[0]
                .GetString()
        );
        Assert.Contains(
            "Plugin contexts could not be unloaded: LeaksViaEvent",
            report
                .GetProperty("debug")
                .GetProperty("errors")
                .EnumerateArray()
                .Select(e => e.GetString())
        );
    }

    [Fact]
    public async Task Every_context_unloads_after_a_normal_run()
    {
        using var lab = new PluginLab("Multi", "Throws", "ProcessingError", "Trivial");
        lab.Enable("multi", "throws", "processingerror", "trivial");

        var result = await lab.RunAsync();

        Assert.Equal(4, result.Unload.Contexts);
        Assert.Equal(4, result.Unload.Unloaded);
        Assert.Empty(result.Unload.Leaked);
        var loaded = AppDomain
            .CurrentDomain.GetAssemblies()
            .Select(a => a.GetName().Name)
            .ToHashSet();
        Assert.DoesNotContain("Fixture.Multi", loaded);
        Assert.DoesNotContain("Fixture.Throws", loaded);
    }

    [Fact]
    public async Task A_broken_plugin_folder_is_reported_and_the_rest_run()
    {
        using var lab = new PluginLab("Trivial");
        var broken = Path.Combine(lab.PluginsPath, "Broken");
        Directory.CreateDirectory(broken);
        await File.WriteAllTextAsync(Path.Combine(broken, "Broken.dll"), "this is not an assembly");
        Directory.CreateDirectory(Path.Combine(lab.PluginsPath, "Empty"));
        lab.Enable("trivial", "broken", "empty");

        var result = await lab.RunAsync();

        Assert.Equal(ModuleOutcome.Ok, result.Modules.Single().Outcome);
        Assert.Contains(
            result.LoadFailures,
            f =>
                f.Plugin == "Broken"
                && f.Reason.Contains("not a valid assembly", StringComparison.Ordinal)
        );
        Assert.Contains(
            result.LoadFailures,
            f =>
                f.Plugin == "Empty"
                && f.Reason.Contains("no plugin assembly", StringComparison.Ordinal)
        );
        Assert.Equal(
            2,
            Report(lab).GetProperty("statistics").GetProperty("load_failures").GetArrayLength()
        );
    }

    [Fact]
    public async Task Only_and_skip_select_modules_by_class_plugin_section_or_key()
    {
        using var lab = new PluginLab("Multi", "Trivial");
        lab.Enable("multi", "trivial");

        var result = await lab.RunAsync(
            request: new AnalysisRequest(lab.AnalysisPath)
            {
                Only = new HashSet<string>(["multi", "trivial"], StringComparer.OrdinalIgnoreCase),
                Skip = new HashSet<string>(["zulu", "Bravo"], StringComparer.OrdinalIgnoreCase),
            }
        );

        var ran = result
            .Modules.Where(m => m.Outcome != ModuleOutcome.Skipped)
            .Select(m => m.Module.ClassName);
        Assert.Equal(["alpha", "Nothing", "Trivial", "Charlie"], ran);
    }

    [Fact]
    public async Task A_missing_analysis_folder_is_unusable()
    {
        using var lab = new PluginLab("Trivial");
        lab.Enable("trivial");

        var error = await Assert.ThrowsAsync<UnusableAnalysisException>(() =>
            lab.RunAsync(request: new AnalysisRequest(Path.Combine(lab.AnalysisPath, "nope")))
        );
        Assert.Contains("no such analysis folder", error.Message);
    }
}
