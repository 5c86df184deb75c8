using System.Globalization;

namespace Microkernel.Contracts;

/// <summary>
/// One <c>[section]</c> of a configuration file with typed getters. Booleans accept Cuckoo's
/// spellings: <c>on/off</c>, <c>yes/no</c>, <c>true/false</c>, <c>1/0</c>.
/// </summary>
public sealed class ModuleOptions
{
    private readonly IReadOnlyDictionary<string, string> _values;

    /// <summary>Creates a section.</summary>
    /// <param name="section">The section name, e.g. <c>network</c>.</param>
    /// <param name="values">Key/value pairs; keys are matched case-insensitively.</param>
    /// <param name="source">The file the section came from, for error messages.</param>
    public ModuleOptions(
        string section,
        IReadOnlyDictionary<string, string> values,
        string? source = null
    )
    {
        Section = section;
        _values = new Dictionary<string, string>(values, StringComparer.OrdinalIgnoreCase);
        Source = source;
    }

    /// <summary>An empty section.</summary>
    public static ModuleOptions Empty(string section) =>
        new(section, new Dictionary<string, string>());

    /// <summary>The section name.</summary>
    public string Section { get; }

    /// <summary>The file the section came from, if any.</summary>
    public string? Source { get; }

    /// <summary>All keys and raw values.</summary>
    public IReadOnlyDictionary<string, string> Values => _values;

    /// <summary>Whether <paramref name="name"/> is set.</summary>
    public bool Contains(string name) => _values.ContainsKey(name);

    /// <summary>The raw value, or <paramref name="defaultValue"/>.</summary>
    public string? GetString(string name, string? defaultValue = null) =>
        _values.TryGetValue(name, out var value) ? value : defaultValue;

    /// <summary>A boolean in Cuckoo's spellings.</summary>
    /// <exception cref="ProcessingException">The value is not a boolean.</exception>
    public bool GetBoolean(string name, bool defaultValue)
    {
        if (!_values.TryGetValue(name, out var raw))
        {
            return defaultValue;
        }
        return TryParseBoolean(raw, out var value)
            ? value
            : throw Invalid(name, raw, "a boolean (yes/no, on/off, true/false, 1/0)");
    }

    /// <summary>A 64-bit integer.</summary>
    /// <exception cref="ProcessingException">The value is not an integer.</exception>
    public long GetInt64(string name, long defaultValue)
    {
        if (!_values.TryGetValue(name, out var raw) || raw.Length == 0)
        {
            return defaultValue;
        }
        return long.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw Invalid(name, raw, "an integer");
    }

    /// <summary>A 32-bit integer.</summary>
    /// <exception cref="ProcessingException">The value is not an integer in range.</exception>
    public int GetInt32(string name, int defaultValue)
    {
        var value = GetInt64(name, defaultValue);
        return value is >= int.MinValue and <= int.MaxValue
            ? (int)value
            : throw Invalid(name, value.ToString(CultureInfo.InvariantCulture), "a 32-bit integer");
    }

    /// <summary>A floating-point number.</summary>
    /// <exception cref="ProcessingException">The value is not a number.</exception>
    public double GetDouble(string name, double defaultValue)
    {
        if (!_values.TryGetValue(name, out var raw) || raw.Length == 0)
        {
            return defaultValue;
        }
        return double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw Invalid(name, raw, "a number");
    }

    /// <summary>A duration written in seconds (fractions allowed).</summary>
    /// <exception cref="ProcessingException">The value is not a non-negative number.</exception>
    public TimeSpan GetSeconds(string name, TimeSpan defaultValue)
    {
        if (!_values.ContainsKey(name))
        {
            return defaultValue;
        }
        var seconds = GetDouble(name, defaultValue.TotalSeconds);
        return seconds >= 0 && seconds < TimeSpan.MaxValue.TotalSeconds
            ? TimeSpan.FromSeconds(seconds)
            : throw Invalid(name, _values[name], "a non-negative number of seconds");
    }

    /// <summary>Parses Cuckoo's boolean spellings.</summary>
    public static bool TryParseBoolean(string raw, out bool value)
    {
        switch (raw.Trim().ToLowerInvariant())
        {
            case "on" or "yes" or "true" or "1":
                value = true;
                return true;
            case "off" or "no" or "false" or "0":
                value = false;
                return true;
            default:
                value = false;
                return false;
        }
    }

    private ProcessingException Invalid(string name, string raw, string expected) =>
        new($"{Source ?? "configuration"} [{Section}] {name} = '{raw}' is not {expected}.");
}
