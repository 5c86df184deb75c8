using Microkernel.Contracts;

namespace Fixture.Multi;

/// <summary>Shared base: abstract, so never instantiated as a module.</summary>
public abstract class RecordingModule : Processing
{
    public override Task<object?> RunAsync(CancellationToken cancellationToken)
    {
        // Which keys were stored before this module ran: proves the run order.
        return Task.FromResult<object?>(
            new Dictionary<string, object?>
            {
                ["seen"] = Results.Keys.ToList(),
                ["class"] = GetType().Name,
            }
        );
    }
}

public sealed class Zulu : RecordingModule
{
    public override string Key => "zulu";
}

#pragma warning disable CS8981 // a lower-case class name proves the case-insensitive sort
public sealed class alpha : RecordingModule
{
    public override string Key => "alpha";
}
#pragma warning restore CS8981

public sealed class Bravo : RecordingModule
{
    public override string Key => "bravo";

    public override int Order => 0;
}

public sealed class Charlie : RecordingModule
{
    public override string Key => "charlie";

    public override int Order => 5;
}

public sealed class Disabled : RecordingModule
{
    public override string Key => "disabled";

    public override bool Enabled => false;
}

public sealed class Nothing : Processing
{
    public override string Key => "nothing";

    public override Task<object?> RunAsync(CancellationToken cancellationToken) =>
        Task.FromResult<object?>(null);
}
