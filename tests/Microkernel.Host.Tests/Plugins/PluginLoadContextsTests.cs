using System.Text.Json;
using Microkernel.Host.Running;
using Microkernel.TestSupport;

namespace Microkernel.Host.Tests.Plugins;

/// <summary>
/// The load context built without PluginLoader still honours what PluginLoader read from a
/// plugin's runtimeconfig.dev.json: a dependency found only on its additional probing path.
/// </summary>
public sealed class PluginLoadContextsTests
{
    [Fact]
    public async Task A_dependency_is_found_on_the_probing_path_of_the_plugins_runtimeconfig_dev_json()
    {
        using var lab = new PluginLab("OtherVersion");
        lab.Enable("otherversion");
        using var probing = TempDirectory.Create();
        var plugin = Path.Combine(lab.PluginsPath, "OtherVersion");
        // Its own Microsoft.Extensions.Primitives 8.0.0 moves out of the plugin folder; without
        // the probing path the host's 10.x would be loaded instead.
        File.Move(
            Path.Combine(plugin, "Microsoft.Extensions.Primitives.dll"),
            Path.Combine(probing.Path, "Microsoft.Extensions.Primitives.dll")
        );
        await File.WriteAllTextAsync(
            Path.Combine(plugin, "Fixture.OtherVersion.runtimeconfig.dev.json"),
            JsonSerializer.Serialize(
                new { runtimeOptions = new { additionalProbingPaths = new[] { probing.Path } } }
            )
        );

        var result = await lab.RunAsync();

        Assert.Equal(ModuleOutcome.Ok, result.Modules.Single().Outcome);
        using var report = JsonDocument.Parse(await File.ReadAllBytesAsync(lab.ReportPath));
        Assert.Equal(
            "8.0.0.0",
            report
                .RootElement.GetProperty("other_version")
                .GetProperty("assembly_version")
                .GetString()
        );
        Assert.Equal(1, result.Unload.Unloaded);
    }
}
