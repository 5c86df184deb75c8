using System.Globalization;
using Microkernel.Host.Configuration;
using Microkernel.Host.Queue;
using Microsoft.Extensions.DependencyInjection;

namespace Microkernel.Host.Cli;

/// <summary><c>microkernel submit</c>, <c>tasks</c> and <c>requeue</c>: the queue from the command line.</summary>
internal static class QueueCommands
{
    public static Task<int> SubmitAsync(
        HostSettings settings,
        IReadOnlyList<string> directories,
        int priority,
        CancellationToken cancellationToken
    ) =>
        WithQueueAsync(
            settings,
            async queue =>
            {
                var exit = ProcessCommand.Success;
                foreach (var directory in directories)
                {
                    var path = Path.GetFullPath(directory);
                    if (!Directory.Exists(path))
                    {
                        await Console
                            .Error.WriteLineAsync(
                                $"error: {path}: no such analysis folder; not submitted."
                            )
                            .ConfigureAwait(false);
                        exit = ProcessCommand.Unusable;
                        continue;
                    }
                    var id = await queue
                        .SubmitAsync(path, priority, cancellationToken)
                        .ConfigureAwait(false);
                    Console.WriteLine(
                        string.Create(CultureInfo.InvariantCulture, $"task {id}: {path}")
                    );
                }
                return exit;
            }
        );

    public static Task<int> ListAsync(
        HostSettings settings,
        string? status,
        int limit,
        CancellationToken cancellationToken
    ) =>
        WithQueueAsync(
            settings,
            async queue =>
            {
                if (status is not null && !QueueStatus.IsKnown(status))
                {
                    await Console
                        .Error.WriteLineAsync(
                            $"error: unknown status '{status}'; one of {string.Join(", ", QueueStatus.All)}."
                        )
                        .ConfigureAwait(false);
                    return ProcessCommand.Unusable;
                }
                var tasks = await queue
                    .ListAsync(status, limit, cancellationToken)
                    .ConfigureAwait(false);
                var counts = await queue.CountAsync(cancellationToken).ConfigureAwait(false);
                Console.WriteLine(
                    $"{"id", 8} {"status", -17} {"prio", 4} {"tries", 5} {"updated (UTC)", -19} {"node", -24} path / last error"
                );
                foreach (var task in tasks)
                {
                    Console.WriteLine(
                        string.Create(
                            CultureInfo.InvariantCulture,
                            $"{task.Id, 8} {task.Status, -17} {task.Priority, 4} {task.Attempts, 5} {task.UpdatedAt.UtcDateTime:yyyy-MM-dd HH:mm:ss} {task.Node ?? "-", -24} {task.AnalysisPath}"
                        )
                    );
                    if (task.LastError is not null)
                    {
                        Console.WriteLine($"{"", 84}{task.LastError}");
                    }
                }
                Console.WriteLine();
                Console.WriteLine(
                    string.Join(
                        "  ",
                        counts.Select(c =>
                            string.Create(CultureInfo.InvariantCulture, $"{c.Key}: {c.Value}")
                        )
                    )
                        + string.Create(
                            CultureInfo.InvariantCulture,
                            $"  total: {counts.Values.Sum()}"
                        )
                );
                return ProcessCommand.Success;
            }
        );

    public static Task<int> RequeueAsync(
        HostSettings settings,
        long? id,
        bool failed,
        CancellationToken cancellationToken
    ) =>
        WithQueueAsync(
            settings,
            async queue =>
            {
                if (id is null == !failed)
                {
                    await Console
                        .Error.WriteLineAsync(
                            "error: requeue takes a task id or --failed (one of them)."
                        )
                        .ConfigureAwait(false);
                    return ProcessCommand.Unusable;
                }
                if (failed)
                {
                    var count = await queue
                        .RequeueFailedAsync(cancellationToken)
                        .ConfigureAwait(false);
                    Console.WriteLine(
                        string.Create(
                            CultureInfo.InvariantCulture,
                            $"{count} failed tasks requeued"
                        )
                    );
                    return ProcessCommand.Success;
                }
                if (
                    await queue.RequeueAsync(id!.Value, cancellationToken).ConfigureAwait(false)
                    == 1
                )
                {
                    Console.WriteLine(
                        string.Create(CultureInfo.InvariantCulture, $"task {id} requeued")
                    );
                    return ProcessCommand.Success;
                }
                var task = await queue.GetAsync(id.Value, cancellationToken).ConfigureAwait(false);
                await Console
                    .Error.WriteLineAsync(
                        task is null
                            ? $"error: no task {id}."
                            : $"error: task {id} is {task.Status}; only reported or failed_processing tasks can be requeued."
                    )
                    .ConfigureAwait(false);
                return ProcessCommand.Unusable;
            }
        );

    private static async Task<int> WithQueueAsync(
        HostSettings settings,
        Func<ITaskQueue, Task<int>> action
    )
    {
        MicrokernelOptions options;
        using (var host = HostFactory.Build(settings))
        {
            options = host.Services.GetRequiredService<MicrokernelOptions>();
        }
        var queue = TaskQueueFactory.Create(options);
        await using (queue.ConfigureAwait(false))
        {
            try
            {
                await queue.MigrateAsync().ConfigureAwait(false);
                return await action(queue).ConfigureAwait(false);
            }
            catch (Exception ex)
                when (ex is QueueUnavailableException or System.Data.Common.DbException)
            {
                await Console.Error.WriteLineAsync($"error: {ex.Message}").ConfigureAwait(false);
                return ProcessCommand.Unusable;
            }
        }
    }
}
