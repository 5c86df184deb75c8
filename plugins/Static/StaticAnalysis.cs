using Microkernel.Contracts;
using Microkernel.Plugins.FileDescription.Native;
using Microkernel.Plugins.Static.Pe;
using Microsoft.Extensions.Logging;

namespace Microkernel.Plugins.Static;

/// <summary>
/// Cuckoo 2.0's <c>Static</c> (<c>static</c>): for PE32/PE32+ samples the <c>pe_*</c> keys plus
/// embedded PEM <c>keys</c>. Other file kinds Cuckoo handles (ELF, Office, PDF, LNK, WSF) are not
/// analysed yet and store nothing, like Cuckoo's empty result for an unrecognised file.
/// </summary>
public sealed class StaticAnalysis : Processing
{
    /// <inheritdoc />
    public override string Key => "static";

    /// <inheritdoc />
    public override Task<object?> RunAsync(CancellationToken cancellationToken)
    {
        if (TaskInfo.Category != "file" || !File.Exists(FilePath))
        {
            return Task.FromResult<object?>(null);
        }
        using var magic = MagicTypes.TryOpen(out var failure);
        if (magic is null)
        {
            Logger.LogWarning("File types unavailable: {Failure}", failure);
        }
        var type = magic?.OfFile(FilePath) ?? "";
        var fileName = TaskInfo.Target is { Length: > 0 } target ? Path.GetFileName(target) : "";
        var extension = fileName.Contains('.', StringComparison.Ordinal)
            ? fileName[(fileName.LastIndexOf('.') + 1)..].ToLowerInvariant()
            : fileName.ToLowerInvariant();

        var result = new Dictionary<string, object?>();
        if (
            TaskInfo.Package == "exe"
            || extension == "exe"
            || type.Contains("PE32", StringComparison.Ordinal)
        )
        {
            try
            {
                using var mapped = new MappedFile(FilePath);
                var pe = PortableExecutable.Analyse(mapped.Memory, magic, cancellationToken);
                if (pe is not null)
                {
                    foreach (var (key, value) in pe)
                    {
                        result[key] = value;
                    }
                }
                result["keys"] = PemKeys.Find(mapped.Memory.Span);
            }
            catch (IOException e)
            {
                throw new ProcessingException($"Cannot read the sample {FilePath}: {e.Message}", e);
            }
        }
        return Task.FromResult<object?>(result.Count == 0 ? null : result);
    }
}
