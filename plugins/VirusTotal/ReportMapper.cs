using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Microkernel.Plugins.VirusTotal;

/// <summary>
/// Maps an API v3 object (<c>data.attributes</c>) to the v2-era report Cuckoo 2.0 stored, so
/// signatures written against <c>virustotal.scans</c>, <c>positives</c> and <c>normalized</c>
/// keep working. See docs/virustotal.md for the field-by-field mapping.
/// </summary>
internal static class ReportMapper
{
    public const string NotScanned = "resource has not been scanned yet";
    private const string Gui = "https://www.virustotal.com/gui/";

    public static JsonObject NotFound() =>
        new() { ["summary"] = new JsonObject { ["error"] = NotScanned } };

    /// <param name="report">The v3 reply.</param>
    /// <param name="kind"><c>file</c> or <c>url</c>.</param>
    /// <param name="resource">The sha256 or URL looked up.</param>
    /// <param name="summaryOnly">Cuckoo's <c>summary=True</c> (dropped files): no scans, no normalized.</param>
    /// <exception cref="VirusTotalException">The reply is JSON but not a v3 object.</exception>
    public static JsonObject Map(JsonElement report, string kind, string resource, bool summaryOnly)
    {
        if (
            report.ValueKind != JsonValueKind.Object
            || !report.TryGetProperty("data", out var data)
            || data.ValueKind != JsonValueKind.Object
            || !data.TryGetProperty("attributes", out var attributes)
            || attributes.ValueKind != JsonValueKind.Object
        )
        {
            throw new VirusTotalException(
                $"VirusTotal's reply for {kind} {resource} has no data.attributes object."
            );
        }
        var id = data.TryGetProperty("id", out var idElement)
            ? idElement.GetString() ?? resource
            : resource;
        var results =
            attributes.TryGetProperty("last_analysis_results", out var r)
            && r.ValueKind == JsonValueKind.Object
                ? r
                : default;
        var positives = 0;
        var total = 0;
        var scans = new JsonObject();
        if (results.ValueKind == JsonValueKind.Object)
        {
            foreach (var engine in results.EnumerateObject())
            {
                total++;
                var category = Text(engine.Value, "category");
                var detected = category == "malicious";
                if (detected)
                {
                    positives++;
                }
                var result = Text(engine.Value, "result");
                var scan = new JsonObject
                {
                    ["detected"] = detected,
                    ["version"] = Text(engine.Value, "engine_version"),
                    ["result"] = result,
                    ["update"] = Text(engine.Value, "engine_update"),
                    ["category"] = category,
                    ["method"] = Text(engine.Value, "method"),
                };
                if (!summaryOnly)
                {
                    scan["normalized"] = new JsonArray([
                        .. VariantNormalizer.Normalize(result).Select(w => (JsonNode?)w),
                    ]);
                }
                scans[engine.Name.Replace('.', '_')] = scan;
            }
        }
        // The stats are authoritative when present (they also count engines VirusTotal leaves out of the results).
        if (
            attributes.TryGetProperty("last_analysis_stats", out var stats)
            && stats.ValueKind == JsonValueKind.Object
            && stats.TryGetProperty("malicious", out var malicious)
            && malicious.TryGetInt32(out var m)
        )
        {
            positives = m;
        }

        var permalink = kind == "file" ? $"{Gui}file/{id}" : $"{Gui}url/{id}";
        long? epoch =
            attributes.TryGetProperty("last_analysis_date", out var date)
            && date.TryGetInt64(out var seconds)
                ? seconds
                : null;
        // v2's scan_date text, in UTC.
        var scanDate = epoch is { } e
            ? DateTimeOffset
                .FromUnixTimeSeconds(e)
                .UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)
            : null;

        var output = new JsonObject
        {
            ["summary"] = new JsonObject
            {
                ["positives"] = positives,
                ["permalink"] = permalink,
                ["scan_date"] = scanDate,
            },
            // The v2 fields Cuckoo copied verbatim ("for backwards compatibility").
            ["response_code"] = 1,
            ["verbose_msg"] = "Scan finished, information embedded",
            ["resource"] = resource,
            ["scan_id"] = scanDate is null ? id : $"{id}-{epoch}",
            ["permalink"] = permalink,
            ["scan_date"] = scanDate,
            ["positives"] = positives,
            ["total"] = total,
        };
        if (kind == "file")
        {
            output["md5"] = Text(attributes, "md5");
            output["sha1"] = Text(attributes, "sha1");
            output["sha256"] = Text(attributes, "sha256") ?? id;
        }
        else
        {
            output["url"] = Text(attributes, "url") ?? resource;
        }
        if (!summaryOnly)
        {
            output["scans"] = scans;
            // Case-insensitive union in engine order, as Cuckoo builds it.
            var normalized = new JsonArray();
            var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (var (_, scan) in scans)
            {
                foreach (var word in scan!["normalized"]!.AsArray())
                {
                    var text = word!.GetValue<string>();
                    if (seen.Add(text))
                    {
                        normalized.Add(text);
                    }
                }
            }
            output["normalized"] = normalized;
        }
        return output;
    }

    private static string? Text(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object
        && element.TryGetProperty(name, out var value)
        && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;
}
