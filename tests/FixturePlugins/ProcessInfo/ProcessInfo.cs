using System.Runtime.Loader;
using Microkernel.Contracts;

namespace Fixture.ProcessInfo;

/// <summary>Says where it ran: the process and the load context, so a test can tell in-process from worker isolation.</summary>
public sealed class ProcessInfo : Processing
{
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
            }
        );
}
