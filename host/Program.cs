using System.CommandLine;
using Microkernel.Host.Cli;

namespace Microkernel.Host;

internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var conf = new Option<string?>("--conf")
        {
            Description = "Folder holding processing.conf (default: ./conf).",
            Recursive = true,
        };
        var plugins = new Option<string?>("--plugins")
        {
            Description = "Folder of plugins (default: plugins/ next to the executable).",
            Recursive = true,
        };
        var set = new Option<string[]>("--set")
        {
            Description = "Override a host setting, e.g. --set DefaultModuleTimeoutSeconds=60.",
            Recursive = true,
            AllowMultipleArgumentsPerToken = false,
        };
        var verbose = new Option<bool>("--verbose", "-v")
        {
            Description = "Log at debug level.",
            Recursive = true,
        };
        var telemetry = new Option<bool>("--console-telemetry")
        {
            Description = "Print spans and metrics to the console.",
            Recursive = true,
        };

        var directories = new Argument<string[]>("analysis-dir")
        {
            Arity = ArgumentArity.OneOrMore,
            Description = "Analysis folders to process.",
        };
        var output = new Option<string?>("--output", "-o")
        {
            Description = "Report path, or - for stdout (default: <analysis>/reports/report.json).",
        };
        var only = new Option<string[]>("--only")
        {
            Description = "Run only these modules (class, plugin, section or key).",
            AllowMultipleArgumentsPerToken = true,
        };
        var skip = new Option<string[]>("--skip")
        {
            Description = "Do not run these modules (class, plugin, section or key).",
            AllowMultipleArgumentsPerToken = true,
        };

        var process = new Command("process", "Process analysis folders into report.json.")
        {
            directories,
            output,
            only,
            skip,
        };
        var modules = new Command("modules", "List discovered processing modules.");
        var root = new RootCommand(
            "Microkernel: Cuckoo-compatible processing modules in isolated plugins."
        )
        {
            conf,
            plugins,
            set,
            verbose,
            telemetry,
            process,
            modules,
        };

        HostSettings Settings(ParseResult r) =>
            new(
                r.GetValue(conf),
                r.GetValue(plugins),
                r.GetValue(set) ?? [],
                r.GetValue(verbose),
                r.GetValue(telemetry)
            );
        static IReadOnlySet<string>? Names(string[]? values) =>
            values is { Length: > 0 }
                ? values.SelectMany(v => v.Split(',')).ToHashSet(StringComparer.OrdinalIgnoreCase)
                : null;

        process.SetAction(
            (r, ct) =>
                ProcessCommand.RunAsync(
                    Settings(r),
                    r.GetValue(directories)!,
                    r.GetValue(output),
                    Names(r.GetValue(only)),
                    Names(r.GetValue(skip)) ?? new HashSet<string>(),
                    ct
                )
        );
        modules.SetAction(r => ModulesCommand.Run(Settings(r)));

        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var error in parsed.Errors)
            {
                await Console.Error.WriteLineAsync($"error: {error.Message}").ConfigureAwait(false);
            }
            await Console
                .Error.WriteLineAsync("Run 'microkernel --help' for usage.")
                .ConfigureAwait(false);
            return ProcessCommand.Unusable;
        }
        try
        {
            return await parsed.InvokeAsync().ConfigureAwait(false);
        }
        catch (ArgumentException ex)
        {
            await Console.Error.WriteLineAsync($"error: {ex.Message}").ConfigureAwait(false);
            return ProcessCommand.Unusable;
        }
    }
}
