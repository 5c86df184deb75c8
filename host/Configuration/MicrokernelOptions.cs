namespace Microkernel.Host.Configuration;

/// <summary>
/// The host's own settings, bound from the <c>Microkernel</c> configuration section
/// (appsettings.json, <c>MICROKERNEL__*</c> environment variables, <c>--set key=value</c>).
/// </summary>
internal sealed partial class MicrokernelOptions
{
    public const string SectionName = "Microkernel";

    /// <summary>Folder holding one sub-folder per plugin. Default: <c>plugins/</c> next to the executable.</summary>
    public string? PluginsPath { get; set; }

    /// <summary>Folder holding <c>processing.conf</c>. Default: <c>./conf</c>, else <c>conf/</c> next to the executable.</summary>
    public string? ConfPath { get; set; }

    /// <summary>Where the daemon keeps its state (queue database). Default: <c>./storage</c>.</summary>
    public string StoragePath { get; set; } = "storage";

    /// <summary>Time budget of a module whose section sets no <c>timeout</c>, in seconds.</summary>
    public double DefaultModuleTimeoutSeconds { get; set; } = 300;

    /// <summary>How long a cancelled module gets to stop before the host abandons it, in seconds.</summary>
    public double CancellationGraceSeconds { get; set; } = 5;

    /// <summary>Garbage collections to wait for plugin contexts to unload before calling them leaked.</summary>
    public int UnloadGcRounds { get; set; } = 20;

    /// <summary>Write spans and metrics to the console.</summary>
    public bool ConsoleTelemetry { get; set; }

    public TimeSpan DefaultModuleTimeout => TimeSpan.FromSeconds(DefaultModuleTimeoutSeconds);

    public TimeSpan CancellationGrace => TimeSpan.FromSeconds(CancellationGraceSeconds);

    public string ResolvePluginsPath() =>
        Path.GetFullPath(PluginsPath ?? Path.Combine(AppContext.BaseDirectory, "plugins"));

    public string ResolveConfPath()
    {
        if (ConfPath is not null)
        {
            return Path.GetFullPath(ConfPath);
        }
        var local = Path.GetFullPath("conf");
        return File.Exists(Path.Combine(local, "processing.conf"))
            ? local
            : Path.Combine(AppContext.BaseDirectory, "conf");
    }
}
