using System.Globalization;
using Microkernel.Contracts;
using Microkernel.Plugins.Memory.Volatility;

namespace Microkernel.Plugins.Memory;

/// <summary>
/// <c>conf/memory.conf</c> in Cuckoo 2.0's layout (<c>[basic]</c>, <c>[mask]</c>, one section per
/// Volatility plugin with <c>enabled</c> and <c>filter</c>), plus the settings a Volatility 3
/// command line needs: the executable, timeouts and an output cap.
/// </summary>
internal sealed class MemoryConfiguration
{
    public const string FileName = "memory.conf";

    /// <summary>Where the setting naming the <c>vol</c> executable lives, for error messages.</summary>
    public const string VolatilitySetting = "[basic] volatility";

    public required string SourcePath { get; init; }

    /// <summary>The <c>vol</c> executable: a path, or a name looked up on PATH.</summary>
    public string Volatility { get; init; } = "vol";

    /// <summary>Extra arguments put before the plugin name (e.g. <c>-s /srv/symbols</c>).</summary>
    public IReadOnlyList<string> Arguments { get; init; } = [];

    public bool DeleteMemdump { get; init; }

    public TimeSpan PluginTimeout { get; init; } = TimeSpan.FromMinutes(10);

    public TimeSpan TotalTimeout { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>How long an interrupted Volatility gets to exit before its process tree is killed.</summary>
    public TimeSpan Grace { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Bytes of JSON one plugin may print before it is stopped.</summary>
    public long MaxOutputBytes { get; init; } = 1L << 30;

    /// <summary>The largest single row (a process with its children, for pstree) held in memory.</summary>
    public int MaxRowBytes { get; init; } = 16 << 20;

    public bool MaskEnabled { get; init; }

    public IReadOnlySet<long> MaskPids { get; init; } = new HashSet<long>();

    /// <summary>Enabled plugins, in Cuckoo's run order.</summary>
    public IReadOnlyList<PluginSettings> Plugins { get; init; } = [];

    /// <summary>Reads <paramref name="confDirectory"/>/memory.conf; a missing file means Cuckoo's defaults.</summary>
    /// <exception cref="ProcessingException">A value is malformed.</exception>
    public static MemoryConfiguration Load(string confDirectory)
    {
        var path = Path.Combine(confDirectory, FileName);
        ConfFile? file = null;
        if (File.Exists(path))
        {
            try
            {
                file = ConfFile.Load(path);
            }
            catch (ConfFileException ex)
            {
                throw new ProcessingException(ex.Message, ex);
            }
        }
        return FromConf(path, file);
    }

    public static MemoryConfiguration FromConf(string path, ConfFile? file)
    {
        var basic = file?.GetSection("basic") ?? ModuleOptions.Empty("basic");
        var mask = file?.GetSection("mask") ?? ModuleOptions.Empty("mask");
        var pluginTimeout = basic.GetSeconds("timeout", TimeSpan.FromMinutes(10));
        var plugins = new List<PluginSettings>();
        foreach (var known in VolatilityPlugins.All)
        {
            var section = file?.GetSection(known.Name);
            var enabled =
                section?.GetBoolean("enabled", known.EnabledByDefault) ?? known.EnabledByDefault;
            if (!enabled)
            {
                continue;
            }
            plugins.Add(
                new PluginSettings(
                    known,
                    section?.GetBoolean("filter", known.FilterByDefault) ?? known.FilterByDefault,
                    section?.GetSeconds("timeout", pluginTimeout) ?? pluginTimeout,
                    section?.GetString("plugin") is { Length: > 0 } name ? name : known.Volatility3,
                    SplitArguments(section?.GetString("arguments"))
                )
            );
        }
        return new MemoryConfiguration
        {
            SourcePath = path,
            Volatility = basic.GetString("volatility") is { Length: > 0 } vol ? vol : "vol",
            Arguments = SplitArguments(basic.GetString("arguments")),
            DeleteMemdump = basic.GetBoolean("delete_memdump", false),
            PluginTimeout = pluginTimeout,
            TotalTimeout = basic.GetSeconds("total_timeout", TimeSpan.FromMinutes(30)),
            Grace = basic.GetSeconds("grace", TimeSpan.FromSeconds(5)),
            MaxOutputBytes = basic.GetInt64("max_output_size", 1L << 30),
            MaxRowBytes = basic.GetInt32("max_row_size", 16 << 20),
            MaskEnabled = mask.GetBoolean("enabled", false),
            MaskPids = ParsePids(mask.GetString("pid_generic")),
            Plugins = plugins,
        };
    }

    // Cuckoo writes lists as comma-separated values; it keeps only entries that are all digits.
    private static HashSet<long> ParsePids(string? raw)
    {
        var pids = new HashSet<long>();
        foreach (
            var part in (raw ?? "").Split(
                [',', ' '],
                StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries
            )
        )
        {
            if (long.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                pids.Add(pid);
            }
        }
        return pids;
    }

    // Whitespace-separated; paths with spaces are not expected in these settings.
    private static string[] SplitArguments(string? raw) =>
        (raw ?? "").Split(
            [' ', '\t', '\n'],
            StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries
        );
}

/// <summary>One enabled plugin: what to run and how long it may take.</summary>
internal sealed record PluginSettings(
    VolatilityPlugin Plugin,
    bool Filter,
    TimeSpan Timeout,
    string Volatility3Name,
    IReadOnlyList<string> Arguments
);
