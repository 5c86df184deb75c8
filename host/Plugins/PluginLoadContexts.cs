using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;
using System.Text.Json;
using McMaster.NETCore.Plugins.Loader;

namespace Microkernel.Host.Plugins;

/// <summary>
/// Builds a plugin's collectible load context with McMaster's
/// <see cref="AssemblyLoadContextBuilder"/>, configured as <c>PluginLoader</c> configures it,
/// except for the probing paths taken from runtimeconfig files.
/// </summary>
/// <remarks>
/// <c>PluginLoader</c> re-reads the host's runtimeconfig.json on every load and, because it
/// names a TFM, asks <c>Process.MainModule</c> where dotnet lives, which parses
/// /proc/self/maps (longer with every plugin mapped): measured at 42% of a plugin load. The
/// host's part is the same for every plugin of a process, so it is worked out once here; a
/// plugin's own runtimeconfig only adds probing paths through a runtimeconfig.dev.json, so
/// McMaster reads it only when one exists.
/// </remarks>
internal static class PluginLoadContexts
{
    private static readonly Lazy<string[]> HostProbingPaths = new(ReadHostProbingPaths);

    public static AssemblyLoadContext Create(string mainAssemblyPath, IEnumerable<Type> sharedTypes)
    {
        var builder = new AssemblyLoadContextBuilder()
            .SetMainAssemblyPath(mainAssemblyPath)
            .SetDefaultContext(AssemblyLoadContext.Default)
            .EnableUnloading()
            .IsLazyLoaded(false);
        foreach (var type in sharedTypes)
        {
            builder.PreferDefaultLoadContextAssembly(type.Assembly.GetName());
        }
        var runtimeConfig = Path.ChangeExtension(mainAssemblyPath, ".runtimeconfig.json");
        if (File.Exists(Path.ChangeExtension(mainAssemblyPath, ".runtimeconfig.dev.json")))
        {
            builder.TryAddAdditionalProbingPathFromRuntimeConfig(
                runtimeConfig,
                includeDevConfig: true,
                out _
            );
        }
        foreach (var path in HostProbingPaths.Value)
        {
            builder.AddProbingPath(path);
        }
        return builder.Build();
    }

    /// <summary>What PluginLoader adds for the host's runtimeconfig files, read once.</summary>
    private static string[] ReadHostProbingPaths()
    {
        var paths = new List<string>();
        foreach (var file in Directory.GetFiles(AppContext.BaseDirectory, "*.runtimeconfig.json"))
        {
            if (!TryReadRuntimeOptions(file, out var options))
            {
                continue;
            }
            TryReadRuntimeOptions(file[..^".json".Length] + ".dev.json", out var devOptions);
            var tfm = Tfm(options) ?? Tfm(devOptions);
            AddProbingPaths(options, tfm, paths);
            AddProbingPaths(devOptions, tfm, paths);
            // Environment.ProcessPath is what MainModule would say, without reading the maps.
            if (
                tfm is not null
                && Environment.ProcessPath is { } dotnet
                && string.Equals(
                    Path.GetFileNameWithoutExtension(dotnet),
                    "dotnet",
                    StringComparison.OrdinalIgnoreCase
                )
            )
            {
                paths.Add(
                    Path.Combine(
                        Path.GetDirectoryName(dotnet)!,
                        "store",
                        RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant(),
                        tfm
                    )
                );
            }
        }
        return [.. paths.Distinct(StringComparer.Ordinal)];
    }

    private static bool TryReadRuntimeOptions(string file, out JsonElement? options)
    {
        options = null;
        try
        {
            using var document = JsonDocument.Parse(
                File.ReadAllBytes(file),
                new JsonDocumentOptions
                {
                    AllowTrailingCommas = true,
                    CommentHandling = JsonCommentHandling.Skip,
                }
            );
            if (
                document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("runtimeOptions", out var found)
                && found.ValueKind == JsonValueKind.Object
            )
            {
                options = found.Clone();
            }
            return true;
        }
        catch (Exception ex)
            when (ex is IOException or UnauthorizedAccessException or JsonException)
        {
            // PluginLoader ignores a missing or unreadable runtimeconfig too.
            return false;
        }
    }

    private static string? Tfm(JsonElement? options) =>
        options is { } o
        && o.TryGetProperty("tfm", out var tfm)
        && tfm.ValueKind == JsonValueKind.String
            ? tfm.GetString()
            : null;

    private static void AddProbingPaths(JsonElement? options, string? tfm, List<string> paths)
    {
        if (
            options is not { } o
            || !o.TryGetProperty("additionalProbingPaths", out var list)
            || list.ValueKind != JsonValueKind.Array
        )
        {
            return;
        }
        foreach (var item in list.EnumerateArray())
        {
            if (item.GetString() is not { } path)
            {
                continue;
            }
            // The substitutions PluginLoader makes: a |tfm| path needs a known TFM.
            path = path.Replace(
                "|arch|",
                RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant(),
                StringComparison.Ordinal
            );
            if (path.Contains("|tfm|", StringComparison.Ordinal))
            {
                if (tfm is null)
                {
                    continue;
                }
                path = path.Replace("|tfm|", tfm, StringComparison.Ordinal);
            }
            paths.Add(path);
        }
    }
}
