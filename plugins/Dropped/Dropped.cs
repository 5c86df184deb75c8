using System.Text.Json;
using Microkernel.Contracts;
using Microkernel.Plugins.FileDescription;
using Microsoft.Extensions.Logging;

namespace Microkernel.Plugins.Dropped;

/// <summary>
/// Cuckoo 2.0's <c>Dropped</c> (<c>dropped</c>): every file under <c>files/</c> and
/// <c>package_files/</c>, described like the target, plus <c>pids</c> and the guest
/// <c>filepath</c> from <c>files.json</c>. Unlike Cuckoo (Q8) a malformed <c>files.json</c> line
/// is reported and skipped, and nothing outside the analysis folder is ever read.
/// </summary>
public sealed class Dropped : Processing
{
    /// <summary>Default cap on described files; the rest is reported, not silently lost.</summary>
    public const int DefaultMaxFiles = 10000;

    /// <inheritdoc />
    public override string Key => "dropped";

    /// <inheritdoc />
    public override Task<object?> RunAsync(CancellationToken cancellationToken)
    {
        var root = Path.GetFullPath(AnalysisPath);
        var meta = ReadMeta(root);
        var maxFiles = Options.GetInt32("max_files", DefaultMaxFiles);
        var files = new List<string>();
        foreach (var folder in new[] { DroppedPath, Path.Combine(AnalysisPath, "package_files") })
        {
            if (Directory.Exists(folder) && IsInside(root, folder, out _))
            {
                files.AddRange(
                    Directory
                        .EnumerateFiles(
                            folder,
                            "*",
                            new EnumerationOptions
                            {
                                RecurseSubdirectories = true,
                                AttributesToSkip = 0,
                            }
                        )
                        .Order(StringComparer.Ordinal)
                );
            }
        }
        if (files.Count > maxFiles)
        {
            Problem(
                $"{DroppedPath}: {files.Count} dropped files found; only the first {maxFiles} are described (max_files)"
            );
            files = files.Take(maxFiles).ToList();
        }
        using var describer = new FileDescriber(Problem);
        var dropped = new List<Dictionary<string, object?>>();
        foreach (var file in files)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!IsInside(root, file, out var reason))
            {
                Problem($"{file}: dropped file refused: {reason}");
                continue;
            }
            try
            {
                var info = describer.Describe(file, cancellationToken: cancellationToken);
                if (meta.TryGetValue(Path.GetFullPath(file), out var entry))
                {
                    info["pids"] = entry.Pids;
                    info["filepath"] = entry.FilePath;
                }
                dropped.Add(info);
            }
            catch (IOException e)
            {
                Problem($"{file}: dropped file cannot be read: {e.Message}");
            }
            catch (UnauthorizedAccessException e)
            {
                Problem($"{file}: dropped file cannot be read: {e.Message}");
            }
        }
        // Cuckoo stores nothing for an empty list.
        return Task.FromResult<object?>(dropped.Count == 0 ? null : dropped);
    }

    private sealed record Meta(List<long> Pids, string? FilePath);

    /// <summary>A skipped file or line: logged, and listed in debug.errors by the host.</summary>
    private void Problem(string message)
    {
        Logger.LogWarning("{Problem}", message);
        Context.ReportError(message);
    }

    private Dictionary<string, Meta> ReadMeta(string root)
    {
        var meta = new Dictionary<string, Meta>(StringComparer.Ordinal);
        if (!File.Exists(DroppedMetaPath))
        {
            return meta;
        }
        var number = 0;
        foreach (var line in File.ReadLines(DroppedMetaPath))
        {
            number++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }
            try
            {
                using var document = JsonDocument.Parse(line);
                var entry = document.RootElement;
                var relative = entry.GetProperty("path").GetString();
                if (
                    string.IsNullOrEmpty(relative)
                    || Path.IsPathRooted(relative)
                    || relative.Split('/', '\\').Contains("..")
                )
                {
                    Problem(
                        $"{DroppedMetaPath}:{number}: path {relative} leaves the analysis folder; refused"
                    );
                    continue;
                }
                var full = Path.GetFullPath(Path.Combine(root, relative));
                if (!IsInside(root, full, out var reason))
                {
                    Problem($"{DroppedMetaPath}:{number}: path {relative} refused: {reason}");
                    continue;
                }
                var pids = new List<long>();
                if (
                    entry.TryGetProperty("pids", out var pidArray)
                    && pidArray.ValueKind == JsonValueKind.Array
                )
                {
                    pids.AddRange(
                        pidArray
                            .EnumerateArray()
                            .Where(p => p.ValueKind == JsonValueKind.Number)
                            .Select(p => p.GetInt64())
                    );
                }
                var filepath =
                    entry.TryGetProperty("filepath", out var guestPath)
                    && guestPath.ValueKind == JsonValueKind.String
                        ? guestPath.GetString()
                        : null;
                meta[full] = new Meta(pids, filepath);
            }
            catch (Exception e)
                when (e
                        is JsonException
                            or KeyNotFoundException
                            or InvalidOperationException
                            or FormatException
                )
            {
                Problem($"{DroppedMetaPath}:{number}: malformed line skipped: {e.Message}");
            }
        }
        return meta;
    }

    /// <summary>True when <paramref name="path"/>, with symlinks resolved, stays inside <paramref name="root"/>.</summary>
    private static bool IsInside(string root, string path, out string? reason)
    {
        var full = Path.GetFullPath(path);
        FileSystemInfo info = Directory.Exists(full) ? new DirectoryInfo(full) : new FileInfo(full);
        try
        {
            if (info.LinkTarget is not null)
            {
                full = info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? full;
            }
            // A symlinked parent folder leads out just as well.
            var parent = Path.GetDirectoryName(full);
            if (parent is not null && Directory.Exists(parent))
            {
                var resolvedParent = ResolveFolder(parent);
                full = Path.Combine(resolvedParent, Path.GetFileName(full));
            }
        }
        catch (IOException e)
        {
            reason = e.Message;
            return false;
        }
        var resolvedRoot = ResolveFolder(root);
        var inside = full.StartsWith(
            resolvedRoot.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar,
            StringComparison.Ordinal
        );
        reason = inside ? null : $"it resolves to {full}, outside {resolvedRoot}";
        return inside;
    }

    private static string ResolveFolder(string folder)
    {
        var parts = Path.GetFullPath(folder)
            .Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries);
        var current = Path.GetPathRoot(Path.GetFullPath(folder)) ?? "/";
        foreach (var part in parts)
        {
            current = Path.Combine(current, part);
            var info = new DirectoryInfo(current);
            if (info.LinkTarget is not null)
            {
                current = info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? current;
            }
        }
        return current;
    }
}
