using System.Text.Json;
using System.Text.Json.Nodes;

namespace Microkernel.Plugins.Network.Tests;

/// <summary>Compares a section with an expected file the way the fixtures' README asks.</summary>
internal static class JsonComparison
{
    /// <summary>Lists that Cuckoo builds from Python 2 dicts/sets: compared as multisets.</summary>
    public static readonly HashSet<string> UnorderedLists =
    [
        "dns",
        "http",
        "smtp",
        "dns_servers",
        "dead_hosts",
    ];

    public static JsonNode Normalise(JsonNode node, string? key = null)
    {
        switch (node)
        {
            case JsonObject obj:
            {
                var sorted = new JsonObject();
                foreach (var (name, value) in obj.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    sorted[name] = value is null ? null : Normalise(value.DeepClone(), name);
                }
                return sorted;
            }
            case JsonArray array:
            {
                var items = array.Select(i => i is null ? null : Normalise(i.DeepClone())).ToList();
                // Answers of a merged DNS entry come in Python set order.
                if (key is not null && (UnorderedLists.Contains(key) || key == "answers"))
                {
                    items = items
                        .OrderBy(i => i?.ToJsonString() ?? "null", StringComparer.Ordinal)
                        .ToList();
                }
                return new JsonArray(items.ToArray());
            }
            case JsonValue value when value.GetValueKind() == JsonValueKind.Number:
                return JsonValue.Create(value.GetValue<double>());
            default:
                return node.DeepClone();
        }
    }

    public static List<string> Differences(JsonNode expected, JsonNode actual, string path = "$")
    {
        var differences = new List<string>();
        Compare(expected, actual, path, differences);
        return differences;
    }

    private static void Compare(
        JsonNode? expected,
        JsonNode? actual,
        string path,
        List<string> differences
    )
    {
        if (differences.Count > 20)
        {
            return;
        }
        switch (expected)
        {
            case JsonObject e when actual is JsonObject a:
                foreach (var (name, value) in e)
                {
                    if (!a.ContainsKey(name))
                    {
                        differences.Add($"{path}.{name}: missing");
                        continue;
                    }
                    Compare(value, a[name], $"{path}.{name}", differences);
                }
                foreach (var (name, _) in a)
                {
                    if (!e.ContainsKey(name))
                    {
                        differences.Add($"{path}.{name}: unexpected");
                    }
                }
                break;
            case JsonArray e when actual is JsonArray a:
                if (e.Count != a.Count)
                {
                    differences.Add($"{path}: {e.Count} items expected, {a.Count} found");
                }
                for (var i = 0; i < Math.Min(e.Count, a.Count); i++)
                {
                    Compare(e[i], a[i], $"{path}[{i}]", differences);
                }
                break;
            default:
                var left = expected?.ToJsonString() ?? "null";
                var right = actual?.ToJsonString() ?? "null";
                if (left != right)
                {
                    differences.Add($"{path}: expected {Trim(left)}, found {Trim(right)}");
                }
                break;
        }
    }

    private static string Trim(string text) => text.Length > 300 ? text[..300] + "…" : text;
}
