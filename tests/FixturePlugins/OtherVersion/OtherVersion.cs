using Microkernel.Contracts;
using Microsoft.Extensions.Primitives;

namespace Fixture.OtherVersion;

/// <summary>Reports which Microsoft.Extensions.Primitives it got: its own 8.0.0, not the host's.</summary>
public sealed class OtherVersion : Processing
{
    public override string Key => "other_version";

    public override Task<object?> RunAsync(CancellationToken cancellationToken)
    {
        var values = new StringValues(["a", "b"]);
        var assembly = typeof(StringValues).Assembly.GetName();
        return Task.FromResult<object?>(
            new Dictionary<string, object?>
            {
                ["assembly_version"] = assembly.Version?.ToString(),
                ["joined"] = values.ToString(),
            }
        );
    }
}
