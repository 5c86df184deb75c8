using System.Text;
using System.Text.Json;
using Microkernel.Contracts;
using Microkernel.Host.Running;
using Microsoft.Extensions.Logging.Abstractions;

namespace Microkernel.TestSupport;

/// <summary>
/// Runs one module instance directly (no load context) on an analysis folder and returns its
/// section exactly as the host would store it. For unit and conformance tests of modules.
/// </summary>
public static class ModuleHarness
{
    /// <summary>Runs <paramref name="module"/>; returns null when it stores nothing.</summary>
    /// <param name="module">A fresh module instance.</param>
    /// <param name="analysisPath">The analysis folder (use a <see cref="TempDirectory"/> copy if the module writes).</param>
    /// <param name="options">The module's section, e.g. <c>{"calls": "no"}</c>.</param>
    /// <param name="earlierResults">Sections of modules that ran before, as JSON text by key.</param>
    /// <param name="processingOptions">The <c>[processing]</c> section.</param>
    /// <param name="task">The task; default: read from nothing (id 1, category file).</param>
    /// <param name="confDirectory">The conf folder; default: the repository's conf/.</param>
    /// <param name="errors">Receives what the module reports with <see cref="ProcessingContext.ReportError"/>.</param>
    public static async Task<JsonDocument?> RunAsync(
        Processing module,
        string analysisPath,
        IReadOnlyDictionary<string, string>? options = null,
        IReadOnlyDictionary<string, string>? earlierResults = null,
        IReadOnlyDictionary<string, string>? processingOptions = null,
        TaskInfo? task = null,
        string? confDirectory = null,
        ICollection<string>? errors = null,
        CancellationToken cancellationToken = default
    )
    {
        using var scratch = TempDirectory.Create();
        var errorsLock = new object();
        var context = new ProcessingContext(
            Path.GetFullPath(analysisPath),
            task ?? new TaskInfo { Id = 1, Category = "file" },
            new ModuleOptions("module", options ?? new Dictionary<string, string>(), "test"),
            NullLogger.Instance,
            new DictionaryResults(earlierResults ?? new Dictionary<string, string>()),
            scratch.Path,
            confDirectory ?? RepoPaths.InRepo("conf"),
            new ModuleOptions(
                "processing",
                processingOptions ?? new Dictionary<string, string>(),
                "test"
            ),
            message =>
            {
                lock (errorsLock)
                {
                    errors?.Add(message);
                }
            }
        );
        module.Initialize(context);
        var result = await module.RunAsync(cancellationToken);
        if (result is null)
        {
            return null;
        }
        var sectionPath = Path.Combine(scratch.Path, "section.json");
        var section = InProcessModuleExecutor.WriteSection(result, sectionPath);
        using var stream = section.OpenRead();
        return await JsonDocument.ParseAsync(stream, cancellationToken: cancellationToken);
    }

    private sealed class DictionaryResults(IReadOnlyDictionary<string, string> sections)
        : IProcessingResults
    {
        private readonly Dictionary<string, JsonDocument> _parsed = [];

        public IReadOnlyList<string> Keys => sections.Keys.ToList();

        public bool Contains(string key) => sections.ContainsKey(key);

        public bool TryGetSection(string key, out JsonElement section)
        {
            if (!sections.TryGetValue(key, out var json))
            {
                section = default;
                return false;
            }
            if (!_parsed.TryGetValue(key, out var document))
            {
                document = JsonDocument.Parse(json);
                _parsed[key] = document;
            }
            section = document.RootElement;
            return true;
        }

        public Stream? OpenSection(string key) =>
            sections.TryGetValue(key, out var json)
                ? new MemoryStream(Encoding.UTF8.GetBytes(json), writable: false)
                : null;
    }
}
