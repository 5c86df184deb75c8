using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Microkernel.Contracts;
using Microkernel.Host.Results;

namespace Microkernel.Host.Tests.Results;

public sealed class ResultSerializerTests
{
    private static string Json(object? value)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            ResultSerializer.Write(writer, value);
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private sealed class Annotated
    {
        [JsonPropertyName("pe_imphash")]
        public string Hash { get; init; } = "abc";

        [JsonIgnore]
        public string Secret { get; init; } = "key";

        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public string? Maybe { get; init; }

        public int Plain { get; init; } = 3;
    }

    [Fact]
    public void Datetimes_become_cuckoo_epoch_floats_with_microseconds()
    {
        var value = new DateTime(2016, 8, 25, 22, 44, 59, DateTimeKind.Unspecified).AddTicks(
            6255 * 1000
        );
        Assert.Equal("1472165099.6255", Json(value));
        Assert.Equal("1472165099.6255", Json(new DateTimeOffset(value, TimeSpan.Zero)));
    }

    [Fact]
    public void Byte_arrays_become_latin1_text_as_cuckoo_decodes_python_byte_strings()
    {
        Assert.Equal(
            "\"MZ\\u0090\\u0000\\u00FF\"",
            Json(new byte[] { 0x4d, 0x5a, 0x90, 0x00, 0xff })
        );
    }

    [Fact]
    public void Objects_honour_json_attributes_and_keep_declaration_order()
    {
        Assert.Equal("""{"pe_imphash":"abc","Plain":3}""", Json(new Annotated()));
    }

    [Fact]
    public void Dictionaries_tuples_sequences_and_nodes_nest()
    {
        var value = new Dictionary<string, object?>
        {
            ["tls"] = ("aa", "bb", "cc"),
            ["ports"] = new[] { 80, 443 },
            ["node"] = new JsonObject { ["x"] = 1 },
            ["empty"] = new List<string>(),
            ["nan"] = double.NaN,
            ["kv"] = new SortedList<int, string> { [2] = "b", [1] = "a" },
        };
        Assert.Equal(
            """{"tls":["aa","bb","cc"],"ports":[80,443],"node":{"x":1},"empty":[],"nan":null,"kv":{"1":"a","2":"b"}}""",
            Json(value)
        );
    }

    [Fact]
    public void A_cycle_is_a_processing_error_not_a_stack_overflow()
    {
        var list = new List<object>();
        list.Add(list);
        var error = Assert.Throws<ProcessingException>(() => Json(list));
        Assert.Contains("cycle", error.Message);
    }
}
