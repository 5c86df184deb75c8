using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microkernel.Contracts;
using Microsoft.Extensions.Logging;

namespace Microkernel.Plugins.VirusTotal;

/// <summary>
/// Cuckoo 2.0's <c>VirusTotal</c> (<c>virustotal</c>, order 2), on API v3: GET
/// <c>/api/v3/files/{sha256}</c> (or <c>/urls/{id}</c> for URL tasks) with the <c>x-apikey</c>
/// header. Looks up only; never uploads a sample. "Not found" is a result
/// (<c>summary.error</c>); a rejected key, an exhausted quota, a timeout or a broken reply fail the
/// module with a clear message. The key never appears in logs, spans, reports or messages.
/// </summary>
public sealed class VirusTotal : Processing
{
    /// <inheritdoc />
    public override string Key => "virustotal";

    /// <inheritdoc />
    public override int Order => 2;

    /// <inheritdoc />
    public override async Task<object?> RunAsync(CancellationToken cancellationToken)
    {
        var settings = VirusTotalSettings.From(Options);
        if (Options.GetBoolean("scan", false))
        {
            Logger.LogWarning(
                "[virustotal] scan = yes is ignored: Microkernel never uploads samples."
            );
        }
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        budget.CancelAfter(settings.TotalTimeout);
        try
        {
            await using var client = new VirusTotalClient(settings);
            return await LookUpAsync(client, settings, budget.Token).ConfigureAwait(false);
        }
        catch (VirusTotalException ex)
        {
            throw new ProcessingException(Scrub(ex.Message, settings.Key));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ProcessingException(
                $"VirusTotal lookups did not finish within [virustotal] total_timeout ({settings.TotalTimeout.TotalSeconds:0.###} s)."
            );
        }
    }

    private async Task<JsonObject?> LookUpAsync(
        VirusTotalClient client,
        VirusTotalSettings settings,
        CancellationToken cancellationToken
    )
    {
        JsonObject report;
        switch (TaskInfo.Category)
        {
            case "file" or "archive":
                if (!File.Exists(FilePath))
                {
                    throw new ProcessingException(
                        "Sample file doesn't exist: VirusTotal has nothing to look up."
                    );
                }
                var sha256 = await Sha256Async(FilePath, cancellationToken).ConfigureAwait(false);
                report = await FileReportAsync(
                        client,
                        sha256,
                        summaryOnly: false,
                        cancellationToken
                    )
                    .ConfigureAwait(false);
                break;
            case "url":
                var url =
                    TaskInfo.Target
                    ?? throw new ProcessingException("URL task without a target URL.");
                var id = Convert
                    .ToBase64String(Encoding.UTF8.GetBytes(url))
                    .TrimEnd('=')
                    .Replace('+', '-')
                    .Replace('/', '_');
                report = await client
                    .GetAsync("urls", id, cancellationToken)
                    .ConfigureAwait(false) switch
                {
                    LookupResult.Found found => MapAndDispose(
                        found,
                        "url",
                        url,
                        summaryOnly: false
                    ),
                    _ => ReportMapper.NotFound(),
                };
                break;
            case "baseline" or "service":
                return null;
            default:
                throw new ProcessingException($"Unsupported task category: {TaskInfo.Category}");
        }

        if (settings.Dropped)
        {
            report["dropped"] = await DroppedReportsAsync(client, settings, cancellationToken)
                .ConfigureAwait(false);
        }
        return report;
    }

    private static async Task<JsonObject> FileReportAsync(
        VirusTotalClient client,
        string sha256,
        bool summaryOnly,
        CancellationToken cancellationToken
    ) =>
        await client.GetAsync("files", sha256, cancellationToken).ConfigureAwait(false) switch
        {
            LookupResult.Found found => MapAndDispose(found, "file", sha256, summaryOnly),
            _ => ReportMapper.NotFound(),
        };

    private static JsonObject MapAndDispose(
        LookupResult.Found found,
        string kind,
        string resource,
        bool summaryOnly
    )
    {
        using (found.Report)
        {
            return ReportMapper.Map(found.Report.RootElement, kind, resource, summaryOnly);
        }
    }

    /// <summary>
    /// Dropped PE files (Cuckoo: <c>type</c> containing PE32 or MS-DOS), from the <c>dropped</c>
    /// section when an earlier module stored one, else from files/ by their MZ header. A failed
    /// lookup is recorded on its file; the others go on.
    /// </summary>
    private async Task<JsonArray> DroppedReportsAsync(
        VirusTotalClient client,
        VirusTotalSettings settings,
        CancellationToken cancellationToken
    )
    {
        var candidates = await DroppedPeFilesAsync(cancellationToken).ConfigureAwait(false);
        var output = new JsonArray();
        foreach (var (name, path, knownSha256) in candidates)
        {
            if (output.Count >= settings.DroppedLimit)
            {
                Logger.LogWarning(
                    "VirusTotal: {Skipped} dropped PE files not looked up ([virustotal] dropped_limit = {Limit}).",
                    candidates.Count - output.Count,
                    settings.DroppedLimit
                );
                break;
            }
            var sha256 = knownSha256;
            if (sha256 is null && path is not null && File.Exists(path))
            {
                sha256 = await Sha256Async(path, cancellationToken).ConfigureAwait(false);
            }
            if (sha256 is null)
            {
                continue;
            }
            JsonObject entryReport;
            try
            {
                entryReport = await FileReportAsync(
                        client,
                        sha256,
                        summaryOnly: true,
                        cancellationToken
                    )
                    .ConfigureAwait(false);
            }
            catch (VirusTotalException ex)
            {
                var message = Scrub(ex.Message, settings.Key);
                Logger.LogWarning(
                    "VirusTotal lookup of dropped file {Name} failed: {Error}",
                    name,
                    message
                );
                entryReport = new JsonObject
                {
                    ["summary"] = new JsonObject { ["error"] = message },
                };
            }
            output.Add(
                new JsonObject
                {
                    ["name"] = name,
                    ["sha256"] = sha256,
                    ["virustotal"] = entryReport,
                }
            );
        }
        return output;
    }

    private async Task<List<(string Name, string? Path, string? Sha256)>> DroppedPeFilesAsync(
        CancellationToken cancellationToken
    )
    {
        var files = new List<(string, string?, string?)>();
        if (
            Results.TryGetSection("dropped", out var dropped)
            && dropped.ValueKind == JsonValueKind.Array
        )
        {
            foreach (var entry in dropped.EnumerateArray())
            {
                var type =
                    entry.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String
                        ? t.GetString() ?? ""
                        : "";
                if (
                    !type.Contains("PE32", StringComparison.Ordinal)
                    && !type.Contains("MS-DOS", StringComparison.Ordinal)
                )
                {
                    continue;
                }
                var path =
                    entry.TryGetProperty("path", out var p) && p.ValueKind == JsonValueKind.String
                        ? p.GetString()
                        : null;
                var sha256 =
                    entry.TryGetProperty("sha256", out var s) && s.ValueKind == JsonValueKind.String
                        ? s.GetString()
                        : null;
                var name =
                    entry.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String
                        ? n.GetString()!
                        : Path.GetFileName(path) ?? sha256 ?? "";
                files.Add((name, path, sha256));
            }
            return files;
        }
        if (!Directory.Exists(DroppedPath))
        {
            return files;
        }
        foreach (
            var path in Directory
                .EnumerateFiles(DroppedPath, "*", SearchOption.AllDirectories)
                .Order(StringComparer.Ordinal)
        )
        {
            if (await StartsWithMzAsync(path, cancellationToken).ConfigureAwait(false))
            {
                files.Add((Path.GetFileName(path), path, null));
            }
        }
        return files;
    }

    private static async Task<bool> StartsWithMzAsync(
        string path,
        CancellationToken cancellationToken
    )
    {
        var header = new byte[2];
        await using var stream = File.OpenRead(path);
        return await stream
                .ReadAtLeastAsync(header, 2, throwOnEndOfStream: false, cancellationToken)
                .ConfigureAwait(false) == 2
            && header[0] == (byte)'M'
            && header[1] == (byte)'Z';
    }

    private static async Task<string> Sha256Async(string path, CancellationToken cancellationToken)
    {
        await using var stream = new FileStream(
            path,
            FileMode.Open,
            FileAccess.Read,
            FileShare.Read,
            1 << 16,
            useAsync: true
        );
        var hash = await SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false);
        return Convert.ToHexStringLower(hash);
    }

    /// <summary>Belt and braces: whatever a server or library put in a message, the key comes out.</summary>
    private static string Scrub(string message, string key) =>
        key.Length == 0 ? message : message.Replace(key, "***", StringComparison.Ordinal);
}
