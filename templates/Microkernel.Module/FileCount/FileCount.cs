using Microkernel.Contracts;
using Microsoft.Extensions.Logging;

namespace Microkernel.Plugins.FileCount;

/// <summary>
/// Counts the files of the analysis folder that match a pattern, and sums their sizes.
/// Configuration, in <c>processing.conf</c>:
/// <code>
/// [filecount]
/// enabled = yes
/// pattern = *          # which files to count
/// recursive = yes      # also count files in sub-folders (logs/, files/...)
/// </code>
/// </summary>
public sealed class FileCount : Processing
{
    /// <summary>The report key: <c>report.json</c> holds this module's result under it.</summary>
    public override string Key => "filecount";

    /// <summary>Counts the files; honours cancellation between files.</summary>
    public override Task<object?> RunAsync(CancellationToken cancellationToken)
    {
        var pattern = Options.GetString("pattern", "*")!;
        var recursive = Options.GetBoolean("recursive", true);
        if (!Directory.Exists(AnalysisPath))
        {
            throw new ProcessingException($"{AnalysisPath}: the analysis folder does not exist");
        }

        var count = 0;
        long bytes = 0;
        var byFolder = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var files = Directory.EnumerateFiles(
            AnalysisPath,
            pattern,
            recursive ? SearchOption.AllDirectories : SearchOption.TopDirectoryOnly
        );
        foreach (var file in files)
        {
            cancellationToken.ThrowIfCancellationRequested();
            FileInfo info;
            try
            {
                info = new FileInfo(file);
                bytes += info.Length;
            }
            catch (IOException ex)
            {
                // Not fatal: say which file was left out, and go on.
                Context.ReportError($"{file}: not counted ({ex.Message})");
                continue;
            }
            count++;
            var folder = Path.GetRelativePath(AnalysisPath, info.DirectoryName!);
            byFolder[folder] = byFolder.GetValueOrDefault(folder) + 1;
        }
        Logger.LogInformation("Counted {Count} files in {Folder}", count, AnalysisPath);

        // Plain dictionaries and lists: the host writes them to report.json as they are.
        return Task.FromResult<object?>(
            new Dictionary<string, object?>
            {
                ["pattern"] = pattern,
                ["count"] = count,
                ["bytes"] = bytes,
                ["folders"] = byFolder,
            }
        );
    }
}
