using Microkernel.Contracts;

namespace Fixture.DuplicateKey;

/// <summary>Claims the key of Multi's Alpha module and runs after it.</summary>
public sealed class Yankee : Processing
{
    public override string Key => "alpha";

    public override int Order => 2;

    public override Task<object?> RunAsync(CancellationToken cancellationToken) =>
        Task.FromResult<object?>(new Dictionary<string, object?> { ["overwrite"] = true });
}
