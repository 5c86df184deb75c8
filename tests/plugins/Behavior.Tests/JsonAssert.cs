using System.Text.Json;

namespace Microkernel.Plugins.Behavior.Tests;

/// <summary>Semantic JSON comparison: object key order ignored, numbers compared as doubles.</summary>
internal static class JsonAssert
{
    public static void Equal(JsonElement expected, JsonElement actual, string path = "$")
    {
        if (expected.ValueKind == JsonValueKind.Number && actual.ValueKind == JsonValueKind.Number)
        {
            Assert.True(
                expected.GetDouble() == actual.GetDouble(),
                $"{path}: expected {expected.GetRawText()}, got {actual.GetRawText()}"
            );
            return;
        }
        Assert.True(
            expected.ValueKind == actual.ValueKind,
            $"{path}: expected {expected.ValueKind} {Short(expected)}, got {actual.ValueKind} {Short(actual)}"
        );
        switch (expected.ValueKind)
        {
            case JsonValueKind.Object:
                var expectedKeys = expected.EnumerateObject().Select(p => p.Name).Order().ToList();
                var actualKeys = actual.EnumerateObject().Select(p => p.Name).Order().ToList();
                Assert.True(
                    expectedKeys.SequenceEqual(actualKeys),
                    $"{path}: keys differ: expected [{string.Join(",", expectedKeys)}], got [{string.Join(",", actualKeys)}]"
                );
                foreach (var property in expected.EnumerateObject())
                {
                    Equal(
                        property.Value,
                        actual.GetProperty(property.Name),
                        $"{path}.{property.Name}"
                    );
                }
                break;
            case JsonValueKind.Array:
                Assert.True(
                    expected.GetArrayLength() == actual.GetArrayLength(),
                    $"{path}: expected {expected.GetArrayLength()} items, got {actual.GetArrayLength()}"
                );
                var i = 0;
                foreach (var (e, a) in expected.EnumerateArray().Zip(actual.EnumerateArray()))
                {
                    Equal(e, a, $"{path}[{i++}]");
                }
                break;
            case JsonValueKind.String:
                Assert.True(
                    expected.GetString() == actual.GetString(),
                    $"{path}: expected {Short(expected)}, got {Short(actual)}"
                );
                break;
        }
    }

    private static string Short(JsonElement e)
    {
        var text = e.GetRawText();
        return text.Length > 200 ? text[..200] + "…" : text;
    }
}
