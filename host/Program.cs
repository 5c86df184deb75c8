using System.CommandLine;
using Microkernel.Host.Cli;

namespace Microkernel.Host;

internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        // A module worker skips the command line and the generic host: it must start fast.
        if (args is [Isolation.WorkerLauncher.WorkerVerb, ..])
        {
            return await Isolation.WorkerMain.RunAsync(args).ConfigureAwait(false);
        }
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

        var queue = new Option<string?>("--queue")
        {
            Description =
                "Queue database: a SQLite file or connection string, or a PostgreSQL one (Host=...). Default: <storage>/queue.db.",
        };
        var priority = new Option<int>("--priority")
        {
            Description = "Higher runs first (default 1).",
            DefaultValueFactory = _ => 1,
        };
        var submitted = new Argument<string[]>("analysis-dir")
        {
            Arity = ArgumentArity.OneOrMore,
            Description = "Analysis folders to queue.",
        };
        var submit = new Command("submit", "Queue analysis folders for 'serve'.")
        {
            submitted,
            priority,
            queue,
        };
        var status = new Option<string?>("--status")
        {
            Description = "Only tasks with this status.",
        };
        var limit = new Option<int>("--limit")
        {
            Description = "At most this many tasks (default 100).",
            DefaultValueFactory = _ => 100,
        };
        var tasks = new Command("tasks", "List queued tasks, with counts per status.")
        {
            status,
            limit,
            queue,
        };
        var taskId = new Argument<long?>("id")
        {
            Arity = ArgumentArity.ZeroOrOne,
            Description = "The task to run again.",
        };
        var failedOnly = new Option<bool>("--failed")
        {
            Description = "Requeue every failed_processing task.",
        };
        var requeue = new Command("requeue", "Put a finished task back to pending.")
        {
            taskId,
            failedOnly,
            queue,
        };
        var workers = new Option<int?>("--workers")
        {
            Description = "Concurrent workers (default: one per core).",
        };
        var serve = new Command(
            "serve",
            "Process queued tasks until stopped (SIGTERM/Ctrl+C stop gracefully)."
        )
        {
            workers,
            queue,
        };
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
            submit,
            tasks,
            requeue,
            serve,
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
        modules.SetAction((r, _) => ModulesCommand.RunAsync(Settings(r)));
        HostSettings QueueSettings(ParseResult r)
        {
            var s = Settings(r);
            List<string> extra = [];
            if (r.GetValue(queue) is { } q)
            {
                extra.Add($"QueueConnectionString={q}");
            }
            if (r.GetValue(workers) is { } w)
            {
                extra.Add(
                    string.Create(System.Globalization.CultureInfo.InvariantCulture, $"Workers={w}")
                );
            }
            return s with { Overrides = [.. s.Overrides, .. extra] };
        }
        submit.SetAction(
            (r, ct) =>
                QueueCommands.SubmitAsync(
                    QueueSettings(r),
                    r.GetValue(submitted)!,
                    r.GetValue(priority),
                    ct
                )
        );
        tasks.SetAction(
            (r, ct) =>
                QueueCommands.ListAsync(QueueSettings(r), r.GetValue(status), r.GetValue(limit), ct)
        );
        requeue.SetAction(
            (r, ct) =>
                QueueCommands.RequeueAsync(
                    QueueSettings(r),
                    r.GetValue(taskId),
                    r.GetValue(failedOnly),
                    ct
                )
        );
        serve.SetAction(r => ServeCommand.RunAsync(QueueSettings(r)));

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
            // serve stops through the generic host's own SIGTERM handling, with its own (longer) timeout.
            return await parsed
                .InvokeAsync(
                    parsed.CommandResult.Command == serve
                        ? new InvocationConfiguration { ProcessTerminationTimeout = null }
                        : null
                )
                .ConfigureAwait(false);
        }
        catch (ArgumentException ex)
        {
            await Console.Error.WriteLineAsync($"error: {ex.Message}").ConfigureAwait(false);
            return ProcessCommand.Unusable;
        }
    }
}
