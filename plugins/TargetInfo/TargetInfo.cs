using Microkernel.Contracts;
using Microkernel.Plugins.FileDescription;
using Microsoft.Extensions.Logging;

namespace Microkernel.Plugins.TargetInfo;

/// <summary>
/// Cuckoo 2.0's <c>TargetInfo</c> (<c>target</c>): what was analysed. File tasks get the
/// <c>File.get_all()</c> description of <c>binary</c>; URL tasks the URL.
/// </summary>
public sealed class TargetInfo : Processing
{
    /// <inheritdoc />
    public override string Key => "target";

    /// <inheritdoc />
    public override Task<object?> RunAsync(CancellationToken cancellationToken)
    {
        var target = new Dictionary<string, object?> { ["category"] = TaskInfo.Category };
        switch (TaskInfo.Category)
        {
            case "file":
            case "archive":
                target["file"] = DescribeBinary(cancellationToken);
                break;
            case "url":
                target["url"] = TaskInfo.Target;
                break;
            default:
                break;
        }
        return Task.FromResult<object?>(target);
    }

    private Dictionary<string, object?> DescribeBinary(CancellationToken cancellationToken)
    {
        // Cuckoo names the target after what was submitted, not after "binary".
        var name = TaskInfo.Target is { Length: > 0 } submitted
            ? Path.GetFileName(submitted)
            : null;
        var path = RealPath(FilePath);
        if (!File.Exists(path))
        {
            // Cuckoo's documented fallback for a deleted binary (delete_bin_copy and friends).
            Logger.LogWarning("The sample file {Path} does not exist", FilePath);
            return new Dictionary<string, object?>
            {
                ["path"] = null,
                ["yara"] = Array.Empty<object>(),
                ["name"] = name,
            };
        }
        using var describer = new FileDescriber(
            message => Logger.LogWarning("{Problem}", message),
            UrlSafelist(Options.GetString("safelist_domains"))
        );
        try
        {
            return describer.Describe(path, name ?? Path.GetFileName(path), cancellationToken);
        }
        catch (IOException e)
        {
            throw new ProcessingException($"Cannot read the sample {path}: {e.Message}", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new ProcessingException($"Cannot read the sample {path}: {e.Message}", e);
        }
    }

    internal static HashSet<string>? UrlSafelist(string? domains)
    {
        if (string.IsNullOrWhiteSpace(domains))
        {
            return null;
        }
        return domains
            .Split(
                [',', ' '],
                StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries
            )
            .ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>Cuckoo records <c>os.path.realpath(binary)</c>: the stored sample behind the link.</summary>
    private static string RealPath(string path)
    {
        try
        {
            var target = new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true);
            return target?.FullName ?? path;
        }
        catch (IOException)
        {
            return path;
        }
    }
}
