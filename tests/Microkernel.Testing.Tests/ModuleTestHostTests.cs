namespace Microkernel.Testing.Tests;

public sealed class ModuleTestHostTests
{
    [Fact]
    public async Task Runs_a_plugin_from_its_build_output_and_returns_its_section()
    {
        using var analysis = Fixtures.Analysis();

        await using var host = new ModuleTestHost(Fixtures.Output("Trivial"));
        var result = await host.RunAsync(analysis.Path);

        Assert.Equal("Trivial", host.PluginName);
        Assert.Equal("trivial", host.Section);
        Assert.Equal("ok", result.Outcome);
        Assert.Null(result.Error);
        Assert.Equal(42, result.Section.GetProperty("task").GetInt32());
        Assert.True(result.Section.GetProperty("ok").GetBoolean());
        Assert.Empty(result.Errors);
        Assert.Equal(ModuleIsolation.InProcess, result.Isolation);
        Assert.Equal("Trivial", result.Module.Name);
        Assert.Equal("trivial", result.Module.Key);
    }

    [Fact]
    public async Task Options_reach_the_module_and_reported_errors_land_in_debug_errors()
    {
        using var analysis = Fixtures.Analysis();

        await using var host = new ModuleTestHost(Fixtures.Output("Trivial"));
        var result = await host.RunAsync(
            analysis.Path,
            new Dictionary<string, string> { ["report_error"] = "files/x: truncated at byte 12" }
        );

        Assert.Equal("ok", result.Outcome);
        Assert.Equal(["Trivial: files/x: truncated at byte 12"], result.Errors);
    }

    [Fact]
    public async Task Accepts_the_main_assembly_instead_of_the_folder_and_runs_again()
    {
        using var analysis = Fixtures.Analysis();

        await using var host = new ModuleTestHost(
            Path.Combine(Fixtures.Output("ProcessInfo"), "Fixture.ProcessInfo.dll")
        );
        var first = await host.RunAsync(analysis.Path);
        var second = await host.RunAsync(
            analysis.Path,
            new Dictionary<string, string> { ["greeting"] = "again" }
        );

        Assert.Equal("hello", first.Section.GetProperty("greeting").GetString());
        Assert.Equal("again", second.Section.GetProperty("greeting").GetString());
        // In process: this process, in a collectible context of its own.
        Assert.Equal(Environment.ProcessId, first.Section.GetProperty("pid").GetInt32());
        Assert.True(first.Section.GetProperty("collectible").GetBoolean());
    }

    [Fact]
    public async Task A_failing_module_gives_its_outcome_error_and_debug_errors_line()
    {
        using var analysis = Fixtures.Analysis();

        await using var host = new ModuleTestHost(Fixtures.Output("ProcessingError"));
        var result = await host.RunAsync(analysis.Path);

        Assert.Equal("processing_error", result.Outcome);
        Assert.Equal("processing_error: the input is not what this module expected", result.Error);
        Assert.Contains(
            "ProcessingError: processing_error: the input is not what this module expected",
            result.Errors
        );
        var missing = Assert.Throws<ModuleTestException>(() => result.Section);
        Assert.Contains("no 'processing_error' section", missing.Message, StringComparison.Ordinal);
        Assert.Contains(
            "the input is not what this module expected",
            missing.Message,
            StringComparison.Ordinal
        );
        Assert.Contains(result.Log, l => l.Contains("ProcessingError", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_plugin_that_does_not_unload_fails_with_the_leak_and_keeps_the_result()
    {
        using var analysis = Fixtures.Analysis();

        await using var host = new ModuleTestHost(Fixtures.Output("LeaksViaEvent"));
        var leak = await Assert.ThrowsAsync<PluginLeakException>(() =>
            host.RunAsync(analysis.Path)
        );

        Assert.Contains(
            "Plugin LeaksViaEvent's load context did not unload",
            leak.Message,
            StringComparison.Ordinal
        );
        Assert.Contains("event subscription", leak.Message, StringComparison.Ordinal);
        Assert.NotNull(leak.Result);
        Assert.True(leak.Result.Section.GetProperty("subscribed").GetBoolean());
        Assert.Contains("Plugin contexts could not be unloaded: LeaksViaEvent", leak.Result.Errors);
    }

    [Fact]
    public async Task A_plugin_with_several_modules_is_read_key_by_key()
    {
        using var analysis = Fixtures.Analysis();

        await using var host = new ModuleTestHost(Fixtures.Output("Multi"));
        var result = await host.RunAsync(analysis.Path);

        Assert.Equal(6, result.Modules.Count);
        Assert.Throws<ModuleTestException>(() => result.Module);
        Assert.Equal(
            ["bravo"],
            result
                .GetSection("alpha")
                .GetProperty("seen")
                .EnumerateArray()
                .Select(e => e.GetString())
        );
        Assert.Equal("skipped", result.Modules.Single(m => m.Name == "Disabled").Outcome);
        Assert.Equal("empty", result.Modules.Single(m => m.Name == "Nothing").Outcome);
        Assert.False(result.TryGetSection("nothing", out _));
    }

    [Fact]
    public void A_plugin_that_is_not_built_is_a_clear_error()
    {
        var missing = Path.Combine(Path.GetTempPath(), "microkernel-no-such-plugin", "bin");

        var error = Assert.Throws<ModuleTestException>(() => new ModuleTestHost(missing));

        Assert.Contains(
            "does not exist: build the plugin project first",
            error.Message,
            StringComparison.Ordinal
        );
    }

    [Fact]
    public async Task Options_the_kit_owns_are_refused()
    {
        using var analysis = Fixtures.Analysis();
        await using var host = new ModuleTestHost(Fixtures.Output("Trivial"));

        await Assert.ThrowsAsync<ArgumentException>(() =>
            host.RunAsync(
                analysis.Path,
                new Dictionary<string, string> { ["isolation"] = "process" }
            )
        );
    }

    [Fact]
    public async Task An_unusable_analysis_folder_is_a_clear_error()
    {
        await using var host = new ModuleTestHost(Fixtures.Output("Trivial"));
        var nowhere = Path.Combine(Path.GetTempPath(), "microkernel-no-such-analysis");

        var error = await Assert.ThrowsAsync<ModuleTestException>(() => host.RunAsync(nowhere));

        Assert.Contains("no such analysis folder", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Deletes_its_installation_on_dispose()
    {
        var host = new ModuleTestHost(Fixtures.Output("Trivial"));
        var installation = Path.GetDirectoryName(host.PluginsPath)!;
        Assert.True(Directory.Exists(Path.Combine(host.PluginsPath, "Trivial")));

        await host.DisposeAsync();

        Assert.False(Directory.Exists(installation));
    }
}
