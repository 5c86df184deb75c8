using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using Microkernel.Contracts;

namespace Microkernel.Host.Plugins;

/// <summary>A plugin folder found under <c>plugins/</c>, before anything is loaded.</summary>
/// <param name="Name">The folder name; the plugin's <c>processing.conf</c> section is its lower-case form.</param>
/// <param name="Directory">The plugin folder.</param>
/// <param name="MainAssemblyPath">The plugin's own assembly, or null when it could not be determined.</param>
/// <param name="Problem">Why the plugin cannot be loaded, or null.</param>
internal sealed record PluginFolder(
    string Name,
    string Directory,
    string? MainAssemblyPath,
    string? Problem
)
{
    public string Section => Name.ToLowerInvariant();
}

/// <summary>
/// Scans the plugins folder. Finding plugins never loads them, and a broken folder is reported
/// with the reason instead of stopping the host (Cuckoo 2.0 aborts startup on one bad module).
/// </summary>
internal static class PluginCatalog
{
    private static readonly Version HostContractsVersion = typeof(Processing)
        .Assembly.GetName()
        .Version!;

    public static IReadOnlyList<PluginFolder> Scan(string pluginsPath)
    {
        if (!Directory.Exists(pluginsPath))
        {
            return [];
        }
        return Directory
            .EnumerateDirectories(pluginsPath)
            .Where(d => !Path.GetFileName(d).StartsWith('.'))
            .Order(StringComparer.OrdinalIgnoreCase)
            .Select(Describe)
            .ToList();
    }

    public static PluginFolder Describe(string directory)
    {
        var name = Path.GetFileName(Path.TrimEndingDirectorySeparator(directory));
        var main = FindMainAssembly(directory, name, out var problem);
        if (main is not null)
        {
            problem = CheckContractsReference(main);
        }
        return new PluginFolder(name, directory, main, problem);
    }

    /// <summary>The assembly with a <c>.deps.json</c> beside it (what <c>dotnet build</c> emits for a plugin), else <c>Name.dll</c>.</summary>
    private static string? FindMainAssembly(string directory, string name, out string? problem)
    {
        problem = null;
        var candidates = Directory
            .EnumerateFiles(directory, "*.deps.json")
            .Select(d => d[..^".deps.json".Length] + ".dll")
            .Where(File.Exists)
            .ToList();
        if (candidates.Count == 1)
        {
            return candidates[0];
        }
        var byName = Path.Combine(directory, name + ".dll");
        if (File.Exists(byName))
        {
            return byName;
        }
        problem =
            candidates.Count > 1
                ? $"more than one *.deps.json in {directory}: cannot tell which assembly is the plugin"
                : $"no plugin assembly in {directory} (expected a *.deps.json with its .dll, or {name}.dll)";
        return null;
    }

    /// <summary>
    /// Refuses a plugin built against contracts the host cannot provide, before loading it: such
    /// a plugin would otherwise fail later with a cast error (DNCP#242).
    /// </summary>
    private static string? CheckContractsReference(string assemblyPath)
    {
        try
        {
            using var stream = File.OpenRead(assemblyPath);
            using var pe = new PEReader(stream);
            if (!pe.HasMetadata)
            {
                return $"{assemblyPath} is not a .NET assembly";
            }
            var metadata = pe.GetMetadataReader();
            foreach (var handle in metadata.AssemblyReferences)
            {
                var reference = metadata.GetAssemblyReference(handle);
                if (metadata.GetString(reference.Name) != "Microkernel.Contracts")
                {
                    continue;
                }
                var version = reference.Version;
                if (version.Major != HostContractsVersion.Major || version > HostContractsVersion)
                {
                    return $"built against Microkernel.Contracts {version}, but this host provides {HostContractsVersion}; rebuild the plugin against contracts {HostContractsVersion.Major}.x (at most {HostContractsVersion})";
                }
                return null;
            }
            return $"{Path.GetFileName(assemblyPath)} does not reference Microkernel.Contracts, so it holds no processing module";
        }
        catch (BadImageFormatException ex)
        {
            return $"{assemblyPath} is not a valid assembly: {ex.Message}";
        }
        catch (IOException ex)
        {
            return $"{assemblyPath} cannot be read: {ex.Message}";
        }
    }
}
