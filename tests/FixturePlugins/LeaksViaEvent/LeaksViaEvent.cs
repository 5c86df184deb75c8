using Microkernel.Contracts;

namespace Fixture.LeaksViaEvent;

/// <summary>Subscribes to a process-wide event and never unsubscribes: its context cannot unload.</summary>
public sealed class LeaksViaEvent : Processing
{
    public override string Key => "leaky";

    public override Task<object?> RunAsync(CancellationToken cancellationToken)
    {
        AppDomain.CurrentDomain.ProcessExit += OnExit;
        return Task.FromResult<object?>(new Dictionary<string, object?> { ["subscribed"] = true });
    }

    private void OnExit(object? sender, EventArgs e) => _ = Key;
}
