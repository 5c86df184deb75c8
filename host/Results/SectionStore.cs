using System.Text.Json;
using Microkernel.Contracts;

namespace Microkernel.Host.Results;

/// <summary>
/// The global container of one analysis. Each section is kept as UTF-8 JSON, never as a mutable
/// tree: in memory while small, as a file in the run's scratch folder once large (a behaviour
/// section can run to hundreds of MB), so the report writer splices bytes instead of
/// re-serialising a DOM.
/// </summary>
internal sealed class SectionStore : IProcessingResults, IDisposable
{
    private readonly string _directory;
    private readonly List<string> _keys = [];
    private readonly Dictionary<string, StoredSection> _sections = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <param name="directory">Where section files go; created by the first one written there.</param>
    public SectionStore(string directory)
    {
        _directory = directory;
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
    public bool TryAdd(string key, string path, string owner) =>
        TryAdd(key, SectionContent.OfFile(path), owner);

    /// <summary>Stores a section; returns false when the key is taken.</summary>
    public bool TryAdd(string key, SectionContent content, string owner)
    {
        lock (_lock)
        {
            if (_sections.ContainsKey(key))
            {
                return false;
            }
            _sections[key] = new StoredSection(content, owner);
            _keys.Add(key);
            return true;
        }
    }

    /// <summary>Replaces a section the host itself amends (debug.errors).</summary>
    public void Replace(string key, SectionContent content, string owner)
    {
        lock (_lock)
        {
            if (_sections.TryGetValue(key, out var old))
            {
                old.Dispose();
                old.Content.Delete();
                _sections[key] = new StoredSection(content, old.Owner);
            }
            else
            {
                _sections[key] = new StoredSection(content, owner);
                _keys.Add(key);
            }
        }
    }

    /// <summary>
    /// The file holding <paramref name="key"/>'s section, written out first when it is held in
    /// memory (a worker process reads sections by path).
    /// </summary>
    public string? FileOf(string key)
    {
        lock (_lock)
        {
            if (!_sections.TryGetValue(key, out var stored))
            {
                return null;
            }
            if (stored.Content.FilePath is { } path)
            {
                return path;
            }
            path = NewSectionPath(key);
            Directory.CreateDirectory(_directory);
            using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write))
            {
                stored.Content.CopyTo(file);
            }
            // Same entry: an element a module already parsed from it stays valid.
            stored.Content = SectionContent.OfFile(path);
            return path;
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
        lock (_lock)
        {
            return _sections.TryGetValue(key, out var s) ? s.Content.OpenRead() : null;
        }
    }

    /// <summary>Copies the section <paramref name="key"/> to <paramref name="destination"/>; false when there is none.</summary>
    public bool CopySection(string key, Stream destination)
    {
        SectionContent content;
        lock (_lock)
        {
            if (!_sections.TryGetValue(key, out var stored))
            {
                return false;
            }
            content = stored.Content;
        }
        content.CopyTo(destination);
        return true;
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

    private sealed class StoredSection(SectionContent content, string owner) : IDisposable
    {
        private readonly Lock _parseLock = new();
        private JsonDocument? _document;

        public SectionContent Content { get; set; } = content;

        public string Owner { get; } = owner;

        public JsonElement Parse()
        {
            lock (_parseLock)
            {
                if (_document is null)
                {
                    using var stream = Content.OpenRead();
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
