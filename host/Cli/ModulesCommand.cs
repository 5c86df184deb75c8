using Microkernel.Contracts;
using Microkernel.Host.Configuration;
using Microkernel.Host.Plugins;
using Microkernel.Host.Running;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Microkernel.Host.Cli;

/// <summary><c>microkernel modules</c>: what the host would load, and what it would run.</summary>
internal static class ModulesCommand
{
    public static async Task<int> RunAsync(HostSettings settings)
    {
        using var host = HostFactory.Build(settings);
        var options = host.Services.GetRequiredService<MicrokernelOptions>();
        var loggerFactory = host.Services.GetRequiredService<ILoggerFactory>();
        var logger = loggerFactory.CreateLogger("Microkernel.Modules");
        var pluginsPath = options.ResolvePluginsPath();
        var confPath = Path.Combine(options.ResolveConfPath(), "processing.conf");
        ConfFile? conf = null;
        try
        {
            conf = ConfFile.Load(confPath);
        }
        catch (Exception ex) when (ex is ConfFileException or IOException)
        {
            Console.Error.WriteLine($"warning: {ex.Message}");
        }
        Console.WriteLine($"plugins: {pluginsPath}");
        Console.WriteLine($"conf:    {confPath}");
        Console.WriteLine();
        Console.WriteLine(
            $"{"plugin", -14} {"class", -20} {"key", -12} {"order", 5} {"enabled", -24} {"isolation", -11} {"section", -14} version"
        );
        // Third-party plugins are described by a worker: listing them must not run their code here.
        var plugins = await PluginSet
            .LoadAsync(
                pluginsPath,
                conf,
                includeDisabled: true,
                loggerFactory,
                logger,
                CancellationToken.None
            )
            .ConfigureAwait(false);
        foreach (var (module, _, isolation) in plugins.Modules)
        {
            Console.WriteLine(
                $"{module.Plugin, -14} {module.ClassName, -20} {module.Key, -12} {module.Order, 5} {Enabled(module, conf), -24} {isolation, -11} [{module.Section}]{new string(' ', Math.Max(1, 12 - module.Section.Length))} {module.Version}"
            );
        }
        foreach (var failure in plugins.Failures)
        {
            Console.WriteLine($"{failure.Plugin, -14} load error: {failure.Reason}");
        }
        var unload = await plugins.UnloadAsync(options.UnloadGcRounds).ConfigureAwait(false);
        Console.WriteLine();
        Console.WriteLine(
            $"{unload.Unloaded}/{unload.Contexts} plugin contexts unloaded after {unload.GcRounds} GC rounds"
        );
        return plugins.Failures.Count > 0 ? 1 : 0;
    }

    private static string Enabled(ModuleDescriptor module, ConfFile? conf)
    {
        var section = conf?.GetSection(module.Section);
        if (section is null)
        {
            return "no (no section)";
        }
        var confEnabled =
            ModuleOptions.TryParseBoolean(section.GetString("enabled", "no")!, out var e) && e;
        return (confEnabled, module.ClassEnabled) switch
        {
            (true, true) => "yes",
            (false, _) => "no (conf)",
            (true, false) => "no (class)",
        };
    }
}
