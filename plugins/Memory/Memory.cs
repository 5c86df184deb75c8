using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microkernel.Contracts;
using Microkernel.Plugins.Memory.Volatility;
using Microsoft.Extensions.Logging;

namespace Microkernel.Plugins.Memory;

/// <summary>
/// Cuckoo 2.0's <c>Memory</c> (<c>memory</c>): Volatility on the full memory dump, now Volatility 3
/// run as an external tool, one <c>vol -r json</c> per enabled plugin. Each plugin is bounded by its
/// own timeout and all of them by a total one; a plugin that fails, hangs or prints garbage is
/// recorded under its own name and the others still run.
/// </summary>
public sealed class Memory : Processing
{
    // What is left of the total timeout below this counts as used up. The previous plugin's
    // timeout is a runtime timer, counted in coarse clock ticks (4 ms on Linux here), so it can
    // end a few milliseconds before the stopwatch says the budget is spent; a plugin started with
    // that remainder would only time out, since Volatility's own start-up takes far longer.
    private static readonly TimeSpan MinimumPluginBudget = TimeSpan.FromMilliseconds(100);

    /// <inheritdoc />
    public override string Key => "memory";

    /// <inheritdoc />
    public override async Task<object?> RunAsync(CancellationToken cancellationToken)
    {
        var conf = MemoryConfiguration.Load(Context.ConfDirectory);

        // Cuckoo's guards: no dump or an empty one is logged and leaves no key.
        if (!File.Exists(MemoryPath))
        {
            Logger.LogError(
                "VM memory dump not found: to create VM memory dumps you have to enable memory_dump in cuckoo.conf!"
            );
            return null;
        }
        if (new FileInfo(MemoryPath).Length == 0)
        {
            Logger.LogError(
                "VM memory dump empty: to properly create VM memory dumps you have to enable memory_dump in cuckoo.conf!"
            );
            return null;
        }

        var volatility = ResolveExecutable(conf);
        var sectionPath = Path.Combine(Context.ScratchPath, "memory.section.json");
        var total = Stopwatch.StartNew();
        var taintedPids = new HashSet<long>();

        await using (
            var file = new FileStream(
                sectionPath,
                FileMode.CreateNew,
                FileAccess.Write,
                FileShare.None,
                1 << 16,
                useAsync: false
            )
        )
        await using (var writer = new Utf8JsonWriter(file))
        {
            writer.WriteStartObject();
            // malfind runs first: Cuckoo keeps masked pids that malfind flagged ("tainted").
            foreach (var plugin in conf.Plugins.OrderBy(p => p.Plugin.Name == "malfind" ? 0 : 1))
            {
                var remaining = conf.TotalTimeout - total.Elapsed;
                writer.WritePropertyName(plugin.Plugin.Name);
                writer.WriteStartObject();
                writer.WriteStartObject("config");
                writer.WriteBoolean("filter", plugin.Filter);
                writer.WriteEndObject();
                writer.WriteStartArray("data");
                if (remaining < MinimumPluginBudget)
                {
                    writer.WriteEndArray();
                    var skipped =
                        $"not run: the total timeout ([basic] total_timeout = {conf.TotalTimeout.TotalSeconds:0.###} s) was used up";
                    writer.WriteString("error", skipped);
                    writer.WriteEndObject();
                    Context.ReportError(
                        $"{MemoryPath}: Volatility plugin {plugin.Plugin.Name} {skipped}"
                    );
                    Logger.LogWarning(
                        "Volatility plugin {Plugin} {Error}",
                        plugin.Plugin.Name,
                        skipped
                    );
                    continue;
                }

                var isMalfind = plugin.Plugin.Name == "malfind";
                var sink = new RowSink(
                    writer,
                    pid =>
                    {
                        if (isMalfind && pid is { } tainted)
                        {
                            taintedPids.Add(tainted);
                        }
                        return !plugin.Filter
                            || !conf.MaskEnabled
                            || pid is not { } p
                            || !conf.MaskPids.Contains(p)
                            || taintedPids.Contains(p);
                    }
                );
                var mapper = plugin.Plugin.CreateMapper();
                var timeout = plugin.Timeout < remaining ? plugin.Timeout : remaining;
                var run = await VolatilityRunner
                    .RunAsync(
                        volatility,
                        [
                            .. conf.Arguments,
                            "-q",
                            "-r",
                            "json",
                            "-f",
                            MemoryPath,
                            plugin.Volatility3Name,
                            .. plugin.Arguments,
                        ],
                        Context.ScratchPath,
                        timeout,
                        conf.Grace,
                        conf.MaxRowBytes,
                        conf.MaxOutputBytes,
                        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
                        (row) =>
                        {
                            mapper.Map(row, sink);
                            sink.FlushIfFull();
                        },
                        cancellationToken
                    )
                    .ConfigureAwait(false);
                mapper.Complete(sink);
                writer.WriteEndArray();
                if (run.Error is not null)
                {
                    writer.WriteString("error", run.Error);
                    Context.ReportError(
                        $"{MemoryPath}: Volatility plugin {plugin.Plugin.Name} ({plugin.Volatility3Name}): {run.Error}"
                    );
                    Logger.LogWarning(
                        "Volatility plugin {Plugin} ({Volatility3}) {Outcome}: {Error}",
                        plugin.Plugin.Name,
                        plugin.Volatility3Name,
                        run.Outcome,
                        run.Error
                    );
                }
                writer.WriteEndObject();
                await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
                Logger.LogDebug(
                    "Volatility plugin {Plugin}: {Rows} rows, {Bytes} bytes in {Seconds:0.000} s",
                    plugin.Plugin.Name,
                    sink.Rows,
                    run.OutputBytes,
                    run.Duration.TotalSeconds
                );
            }
            writer.WriteEndObject();
        }

        if (conf.DeleteMemdump)
        {
            try
            {
                File.Delete(MemoryPath);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Logger.LogError(
                    "Unable to delete memory dump file at path \"{Path}\": {Error}",
                    MemoryPath,
                    ex.Message
                );
            }
        }
        return JsonSection.FromFile(sectionPath);
    }

    /// <summary>The <c>vol</c> executable as a full path; the one error users see when Volatility 3 is missing.</summary>
    private static string ResolveExecutable(MemoryConfiguration conf)
    {
        var setting = conf.Volatility;
        if (
            setting.Contains(Path.DirectorySeparatorChar, StringComparison.Ordinal)
            || setting.Contains(Path.AltDirectorySeparatorChar, StringComparison.Ordinal)
        )
        {
            if (File.Exists(setting))
            {
                return Path.GetFullPath(setting);
            }
        }
        else
        {
            var extensions = OperatingSystem.IsWindows()
                ? new[] { ".exe", ".cmd", ".bat", "" }
                : [""];
            foreach (
                var directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(
                    Path.PathSeparator,
                    StringSplitOptions.RemoveEmptyEntries
                )
            )
            {
                foreach (var extension in extensions)
                {
                    var candidate = Path.Combine(directory, setting + extension);
                    if (File.Exists(candidate))
                    {
                        return candidate;
                    }
                }
            }
        }
        throw new MissingDependencyException(
            $"Volatility 3 was not found: '{setting}' is not an existing file or a command on PATH. Install Volatility 3 (pip install volatility3) or set {MemoryConfiguration.VolatilitySetting} in {conf.SourcePath} to the full path of its 'vol' executable."
        );
    }
}
