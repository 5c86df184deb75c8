using Microkernel.Contracts;
using Microkernel.Host.Configuration;
using Microkernel.Host.Plugins;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Microkernel.Host.Cli;

/// <summary><c>microkernel modules</c>: what the host would load, and what it would run.</summary>
internal static class ModulesCommand
{
    public static int Run(HostSettings settings)
    {
        using var host = HostFactory.Build(settings);
        var options = host.Services.GetRequiredService<MicrokernelOptions>();
        var logger = host
            .Services.GetRequiredService<ILoggerFactory>()
            .CreateLogger("Microkernel.Modules");
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
            $"{"plugin", -14} {"class", -20} {"key", -12} {"order", 5} {"enabled", -24} {"section", -14} version"
        );
        var session = InProcessPluginSession.Load(PluginCatalog.Scan(pluginsPath), logger);
        foreach (var module in session.Modules.Order(ModuleDescriptor.RunOrder))
        {
            Console.WriteLine(
                $"{module.Plugin, -14} {module.ClassName, -20} {module.Key, -12} {module.Order, 5} {Enabled(module, conf), -24} [{module.Section}]{new string(' ', Math.Max(1, 12 - module.Section.Length))} {module.Version}"
            );
        }
        foreach (var failure in session.Failures)
        {
            Console.WriteLine($"{failure.Plugin, -14} load error: {failure.Reason}");
        }
        var unload = session.UnloadAndVerify(options.UnloadGcRounds);
        Console.WriteLine();
        Console.WriteLine(
            $"{unload.Unloaded}/{unload.Contexts} plugin contexts unloaded after {unload.GcRounds} GC rounds"
        );
        return session.Failures.Count > 0 ? 1 : 0;
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
