namespace Microkernel.Contracts;

/// <summary>
/// Cuckoo's INI dialect: <c>[section]</c> headers, <c>key = value</c> or <c>key: value</c>,
/// whole-line comments starting with <c>#</c> or <c>;</c>, indented continuation lines.
/// </summary>
public sealed class ConfFile
{
    private readonly Dictionary<string, ModuleOptions> _sections;

    private ConfFile(string path, Dictionary<string, ModuleOptions> sections)
    {
        Path = path;
        _sections = sections;
    }

    /// <summary>The file that was read.</summary>
    public string Path { get; }

    /// <summary>Section names in file order.</summary>
    public IReadOnlyCollection<string> SectionNames => _sections.Keys;

    /// <summary>The section, or <c>null</c>.</summary>
    public ModuleOptions? GetSection(string name) =>
        _sections.TryGetValue(name, out var section) ? section : null;

    /// <summary>Reads and parses a file.</summary>
    /// <exception cref="ConfFileException">The file is malformed; the message names file and line.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static ConfFile Load(string path) => Parse(path, File.ReadAllLines(path));

    /// <summary>Parses lines that came from <paramref name="path"/>.</summary>
    /// <exception cref="ConfFileException">The text is malformed; the message names file and line.</exception>
    public static ConfFile Parse(string path, IEnumerable<string> lines)
    {
        var sections = new Dictionary<string, ModuleOptions>(StringComparer.OrdinalIgnoreCase);
        var order = new List<(string Name, Dictionary<string, string> Values)>();
        Dictionary<string, string>? current = null;
        string? lastKey = null;
        var lineNumber = 0;
        foreach (var rawLine in lines)
        {
            lineNumber++;
            var line = rawLine.TrimEnd();
            var trimmed = line.TrimStart();
            if (trimmed.Length == 0 || trimmed[0] is '#' or ';')
            {
                continue;
            }
            if (line[0] is ' ' or '\t' && current is not null && lastKey is not null)
            {
                current[lastKey] = current[lastKey] + "\n" + trimmed;
                continue;
            }
            if (trimmed[0] == '[')
            {
                var close = trimmed.IndexOf(']', StringComparison.Ordinal);
                var name = close > 1 ? trimmed[1..close].Trim() : "";
                if (close < 0 || name.Length == 0 || trimmed[(close + 1)..].Trim().Length > 0)
                {
                    throw new ConfFileException(
                        path,
                        lineNumber,
                        $"malformed section header '{trimmed}'"
                    );
                }
                if (
                    order.Exists(s =>
                        string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase)
                    )
                )
                {
                    throw new ConfFileException(
                        path,
                        lineNumber,
                        $"section [{name}] appears twice"
                    );
                }
                current = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                order.Add((name, current));
                lastKey = null;
                continue;
            }
            var separator = trimmed.IndexOfAny(['=', ':']);
            if (separator <= 0)
            {
                throw new ConfFileException(
                    path,
                    lineNumber,
                    $"expected 'key = value', found '{trimmed}'"
                );
            }
            if (current is null)
            {
                throw new ConfFileException(path, lineNumber, "a key appears before any [section]");
            }
            lastKey = trimmed[..separator].Trim();
            current[lastKey] = trimmed[(separator + 1)..].Trim();
        }
        foreach (var (name, values) in order)
        {
            sections[name] = new ModuleOptions(name, values, path);
        }
        return new ConfFile(path, sections);
    }
}

/// <summary>A configuration file is malformed.</summary>
public sealed class ConfFileException : FormatException
{
    /// <summary>Creates the exception.</summary>
    public ConfFileException(string path, int line, string problem)
        : base($"{path}:{line}: {problem}")
    {
        FilePath = path;
        Line = line;
    }

    /// <summary>The file.</summary>
    public string FilePath { get; }

    /// <summary>1-based line number.</summary>
    public int Line { get; }
}
