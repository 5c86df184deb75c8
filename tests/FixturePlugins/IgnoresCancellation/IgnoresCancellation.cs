using Microkernel.Contracts;

namespace Fixture.IgnoresCancellation;

/// <summary>Spins for `spin_seconds` ignoring its token, as a stuck parser would.</summary>
public sealed class IgnoresCancellation : Processing
{
    public override string Key => "stubborn";

    public override Task<object?> RunAsync(CancellationToken cancellationToken)
    {
        var until = DateTime.UtcNow.AddSeconds(Options.GetDouble("spin_seconds", 5));
        while (DateTime.UtcNow < until)
        {
            Thread.Sleep(10);
        }
        return Task.FromResult<object?>(new { finished = true });
    }
}
