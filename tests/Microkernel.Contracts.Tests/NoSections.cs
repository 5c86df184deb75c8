using System.Text.Json;

namespace Microkernel.Contracts.Tests;

/// <summary>An empty global container, for contexts of modules that read no earlier section.</summary>
internal sealed class NoSections : IProcessingResults
{
    public IReadOnlyList<string> Keys => [];

    public bool Contains(string key) => false;

    public bool TryGetSection(string key, out JsonElement section)
    {
        section = default;
        return false;
    }

    public Stream? OpenSection(string key) => null;
}
