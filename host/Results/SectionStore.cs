using System.Text.Json;
using Microkernel.Contracts;

namespace Microkernel.Host.Results;

/// <summary>
/// The global container of one analysis. Each section is kept as a UTF-8 JSON file in the
/// run's scratch folder, never as a mutable tree: a behaviour section can run to hundreds of
/// MB, so the report writer splices files instead of re-serialising a DOM.
/// </summary>
internal sealed class SectionStore : IProcessingResults, IDisposable
{
    private readonly string _directory;
    private readonly List<string> _keys = [];
    private readonly Dictionary<string, StoredSection> _sections = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public SectionStore(string directory)
    {
        _directory = directory;
        Directory.CreateDirectory(directory);
    }

    public IReadOnlyList<string> Keys
    {
        get
        {
            lock (_lock)
            {
                return _keys.ToArray();
            }
        }
    }

    /// <summary>A fresh file path for a module attempt to write its section to.</summary>
    public string NewSectionPath(string moduleName) =>
        Path.Combine(_directory, $"{moduleName}-{Guid.NewGuid():N}.json");

    public bool Contains(string key)
    {
        lock (_lock)
        {
            return _sections.ContainsKey(key);
        }
    }

    /// <summary>Who stored <paramref name="key"/>, if anyone.</summary>
    public string? OwnerOf(string key)
    {
        lock (_lock)
        {
            return _sections.TryGetValue(key, out var s) ? s.Owner : null;
        }
    }

    /// <summary>Stores a section file; returns false when the key is taken.</summary>
    public bool TryAdd(string key, string path, string owner)
    {
        lock (_lock)
        {
            if (_sections.ContainsKey(key))
            {
                return false;
            }
            _sections[key] = new StoredSection(path, owner);
            _keys.Add(key);
            return true;
        }
    }

    /// <summary>Replaces a section the host itself amends (debug.errors).</summary>
    public void Replace(string key, string path, string owner)
    {
        lock (_lock)
        {
            if (_sections.TryGetValue(key, out var old))
            {
                old.Dispose();
                TryDelete(old.Path);
                _sections[key] = new StoredSection(path, old.Owner);
            }
            else
            {
                _sections[key] = new StoredSection(path, owner);
                _keys.Add(key);
            }
        }
    }

    public string? PathOf(string key)
    {
        lock (_lock)
        {
            return _sections.TryGetValue(key, out var s) ? s.Path : null;
        }
    }

    public bool TryGetSection(string key, out JsonElement section)
    {
        StoredSection? stored;
        lock (_lock)
        {
            _sections.TryGetValue(key, out stored);
        }
        if (stored is null)
        {
            section = default;
            return false;
        }
        section = stored.Parse();
        return true;
    }

    public Stream? OpenSection(string key)
    {
        var path = PathOf(key);
        return path is null
            ? null
            : new FileStream(
                path,
                FileMode.Open,
                FileAccess.Read,
                FileShare.Read,
                1 << 16,
                FileOptions.SequentialScan
            );
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var section in _sections.Values)
            {
                section.Dispose();
            }
            _sections.Clear();
            _keys.Clear();
        }
    }

    internal static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    private sealed class StoredSection(string path, string owner) : IDisposable
    {
        private readonly Lock _parseLock = new();
        private JsonDocument? _document;

        public string Path { get; } = path;

        public string Owner { get; } = owner;

        public JsonElement Parse()
        {
            lock (_parseLock)
            {
                if (_document is null)
                {
                    using var stream = File.OpenRead(Path);
                    _document = JsonDocument.Parse(stream);
                }
                return _document.RootElement;
            }
        }

        public void Dispose()
        {
            lock (_parseLock)
            {
                _document?.Dispose();
                _document = null;
            }
        }
    }
}
