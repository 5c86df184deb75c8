using System.Globalization;
using System.Text.Json;
using Microkernel.Contracts;

namespace Microkernel.Host.Tasks;

/// <summary>
/// Reads the task of an analysis folder: <c>analysis.conf</c> first (what the guest got), then
/// Cuckoo's <c>task.json</c> (the task row), else a task with only an id.
/// </summary>
internal static class TaskInfoReader
{
    /// <exception cref="InvalidDataException">A task file exists but is malformed; the message names it.</exception>
    public static TaskInfo Read(string analysisPath)
    {
        var conf = Path.Combine(analysisPath, "analysis.conf");
        if (File.Exists(conf))
        {
            return FromAnalysisConf(conf);
        }
        var json = Path.Combine(analysisPath, "task.json");
        if (File.Exists(json))
        {
            return FromTaskJson(json);
        }
        return new TaskInfo { Id = IdFromFolderName(analysisPath), Source = "none" };
    }

    private static TaskInfo FromAnalysisConf(string path)
    {
        ConfFile file;
        try
        {
            file = ConfFile.Load(path);
        }
        catch (ConfFileException ex)
        {
            throw new InvalidDataException(ex.Message, ex);
        }
        var section =
            file.GetSection("analysis")
            ?? throw new InvalidDataException($"{path}: no [analysis] section.");
        var raw = section.Values.ToDictionary(
            v => v.Key,
            v => v.Value,
            StringComparer.OrdinalIgnoreCase
        );
        string? Get(string key) => raw.TryGetValue(key, out var v) && v.Length > 0 ? v : null;
        int? GetInt(string key)
        {
            var v = Get(key);
            if (v is null)
            {
                return null;
            }
            return int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i)
                ? i
                : throw new InvalidDataException(
                    $"{path}: [analysis] {key} = '{v}' is not an integer."
                );
        }
        return new TaskInfo
        {
            Id = GetInt("id") ?? IdFromFolderName(Path.GetDirectoryName(path)!),
            Category = Get("category") ?? "file",
            Target = Get("target"),
            Package = Get("package"),
            Options = ParseOptions(Get("options")),
            Custom = Get("custom"),
            Owner = Get("owner"),
            Machine = Get("machine"),
            Platform = Get("platform"),
            Route = Get("route"),
            Timeout = GetInt("timeout"),
            Duration = GetInt("duration"),
            Clock = ParseConfDate(path, "clock", Get("clock")),
            AddedOn = ParseConfDate(path, "added_on", Get("added_on")),
            StartedOn = ParseConfDate(path, "started_on", Get("started_on")),
            CompletedOn = ParseConfDate(path, "completed_on", Get("completed_on")),
            Raw = raw,
            Source = "analysis.conf",
        };
    }

    private static TaskInfo FromTaskJson(string path)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException(
                $"{path}: not valid JSON (line {ex.LineNumber + 1}, byte {ex.BytePositionInLine}).",
                ex
            );
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"{path}: expected a JSON object.");
            }
            string? Get(string key) =>
                root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String
                    ? v.GetString()
                    : null;
            int? GetInt(string key) =>
                root.TryGetProperty(key, out var v)
                && v.ValueKind == JsonValueKind.Number
                && v.TryGetInt32(out var i)
                    ? i
                    : null;
            var raw = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var property in root.EnumerateObject())
            {
                raw[property.Name] =
                    property.Value.ValueKind == JsonValueKind.String
                        ? property.Value.GetString()!
                        : property.Value.GetRawText();
            }
            var guest = new Dictionary<string, string?>();
            if (root.TryGetProperty("guest", out var g) && g.ValueKind == JsonValueKind.Object)
            {
                foreach (var property in g.EnumerateObject())
                {
                    guest[property.Name] = property.Value.ValueKind switch
                    {
                        JsonValueKind.Null => null,
                        JsonValueKind.String => property.Value.GetString(),
                        _ => property.Value.GetRawText(),
                    };
                }
            }
            return new TaskInfo
            {
                Id = GetInt("id") ?? IdFromFolderName(Path.GetDirectoryName(path)!),
                Category = Get("category") ?? "file",
                Target = Get("target"),
                Package = Get("package"),
                Options = root.TryGetProperty("options", out var o)
                    ? JsonOptions(o)
                    : new Dictionary<string, string>(),
                Custom = Get("custom"),
                Owner = Get("owner"),
                Machine = Get("machine"),
                Platform = Get("platform"),
                Route = Get("route"),
                Timeout = GetInt("timeout"),
                Duration = GetInt("duration"),
                Clock = JsonDate(root, "clock"),
                AddedOn = JsonDate(root, "added_on"),
                StartedOn = JsonDate(root, "started_on"),
                CompletedOn = JsonDate(root, "completed_on"),
                Guest = guest,
                Raw = raw,
                Source = "task.json",
            };
        }
    }

    /// <summary>Cuckoo's <c>key=value,key=value</c> task options.</summary>
    public static Dictionary<string, string> ParseOptions(string? options)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (string.IsNullOrWhiteSpace(options))
        {
            return result;
        }
        foreach (
            var pair in options.Split(
                ',',
                StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries
            )
        )
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                result[pair[..eq].Trim()] = pair[(eq + 1)..].Trim();
            }
        }
        return result;
    }

    private static Dictionary<string, string> JsonOptions(JsonElement options) =>
        options.ValueKind switch
        {
            JsonValueKind.Object => options
                .EnumerateObject()
                .ToDictionary(
                    p => p.Name,
                    p =>
                        p.Value.ValueKind == JsonValueKind.String
                            ? p.Value.GetString()!
                            : p.Value.GetRawText()
                ),
            JsonValueKind.String => ParseOptions(options.GetString()),
            _ => new Dictionary<string, string>(),
        };

    /// <summary>Cuckoo's task.json datetimes: <c>{"$dt": "ISO"}</c>, naive, meaning UTC.</summary>
    private static DateTimeOffset? JsonDate(JsonElement root, string key)
    {
        if (!root.TryGetProperty(key, out var value))
        {
            return null;
        }
        var text = value.ValueKind switch
        {
            JsonValueKind.Object when value.TryGetProperty("$dt", out var dt) => dt.GetString(),
            JsonValueKind.String => value.GetString(),
            _ => null,
        };
        return
            text is not null
            && DateTime.TryParse(
                text,
                CultureInfo.InvariantCulture,
                DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal,
                out var parsed
            )
            ? new DateTimeOffset(parsed, TimeSpan.Zero)
            : null;
    }

    /// <summary>analysis.conf datetimes: <c>%Y%m%dT%H:%M:%S</c>.</summary>
    private static DateTimeOffset? ParseConfDate(string path, string key, string? text)
    {
        if (text is null)
        {
            return null;
        }
        string[] formats =
        [
            "yyyyMMdd'T'HH:mm:ss",
            "yyyy-MM-dd HH:mm:ss",
            "yyyy-MM-dd'T'HH:mm:ss.FFFFFF",
        ];
        return DateTime.TryParseExact(
            text,
            formats,
            CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal,
            out var parsed
        )
            ? new DateTimeOffset(parsed, TimeSpan.Zero)
            : throw new InvalidDataException(
                $"{path}: [analysis] {key} = '{text}' is not a date (expected YYYYMMDDTHH:MM:SS)."
            );
    }

    private static int IdFromFolderName(string analysisPath) =>
        int.TryParse(Path.GetFileName(Path.TrimEndingDirectorySeparator(analysisPath)), out var id)
            ? id
            : 0;
}
