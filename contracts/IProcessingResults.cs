using System.Text.Json;

namespace Microkernel.Contracts;

/// <summary>
/// Read-only view of the global container as it stands when a module runs. Cuckoo 2.0 hands
/// modules the live dictionary; Microkernel hands them this view, so one module cannot corrupt
/// another's section.
/// </summary>
public interface IProcessingResults
{
    /// <summary>Keys stored so far, in run order.</summary>
    IReadOnlyList<string> Keys { get; }

    /// <summary>Whether a section is stored under <paramref name="key"/>.</summary>
    bool Contains(string key);

    /// <summary>
    /// The parsed section under <paramref name="key"/>. Parsing happens on first access; the
    /// element stays valid until the analysis ends.
    /// </summary>
    bool TryGetSection(string key, out JsonElement section);

    /// <summary>The section's raw UTF-8 JSON as a new read-only stream, or <c>null</c>.</summary>
    Stream? OpenSection(string key);
}
