using System.Text.Encodings.Web;
using System.Text.Json;

namespace Microkernel.Plugins.Behavior;

internal static class BehaviorJson
{
    /// <summary>
    /// Non-ASCII text is written as UTF-8 rather than \u escapes (Cuckoo's ensure_ascii): the same
    /// JSON values, a third of the size for binary arguments. Validation is off because every
    /// value is written through the typed API in a known order.
    /// </summary>
    public static readonly JsonWriterOptions WriterOptions = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = true,
    };

    /// <summary>The JSON text of a string value, as a writer with <see cref="WriterOptions"/> writes it.</summary>
    public static byte[] StringJson(string text)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(text.Length + 2);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStringValue(text);
        }
        return buffer.WrittenSpan.ToArray();
    }
}
