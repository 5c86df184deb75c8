using System.Reflection;
using Microkernel.Contracts;

namespace Fixture.Versioned;

/// <summary>Built twice (VersionedV1, VersionedV2) with one assembly name and two versions: a plugin upgrade for hot-reload tests.</summary>
public sealed class Versioned : Processing
{
    public override string Key => "versioned";

    public override Task<object?> RunAsync(CancellationToken cancellationToken) =>
        Task.FromResult<object?>(
            new Dictionary<string, object?>
            {
                ["version"] = typeof(Versioned)
                    .Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()
                    ?.InformationalVersion,
            }
        );
}
