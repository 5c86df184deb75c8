using System.Runtime.Loader;
using Microkernel.Contracts;

namespace Fixture.ProcessInfo;

/// <summary>
/// Says where it ran: the process and the load context, so a test can tell in-process from
/// worker isolation, and how often its context and its instance ran, so a test can tell a kept
/// context (and a fresh instance in it) from a fresh one.
/// </summary>
public sealed class ProcessInfo : Processing
{
    private static int s_runsInContext;
    private int _runsOfInstance;

    public override string Key => "process_info";

    public override Task<object?> RunAsync(CancellationToken cancellationToken) =>
        Task.FromResult<object?>(
            new Dictionary<string, object?>
            {
                ["pid"] = Environment.ProcessId,
                ["collectible"] = AssemblyLoadContext
                    .GetLoadContext(GetType().Assembly)
                    ?.IsCollectible,
                ["greeting"] = Options.GetString("greeting", "hello"),
                ["runs_in_context"] = Interlocked.Increment(ref s_runsInContext),
                ["runs_of_instance"] = ++_runsOfInstance,
            }
        );
}
