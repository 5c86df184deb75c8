using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Microkernel.Host.Results;

/// <summary>
/// Writes the global container as <c>report.json</c>: sections are spliced byte for byte from
/// memory or their files, the whole report goes to a temporary file first and replaces the old report
/// only by an atomic rename once complete.
/// </summary>
internal static class ReportWriter
{
    private static readonly byte[] Indent = "\n    "u8.ToArray();

    /// <summary>Adds the run's errors to <c>debug.errors</c>, creating the section if needed.</summary>
    public static void MergeDebugErrors(SectionStore store, IReadOnlyList<string> errors)
    {
        if (errors.Count == 0)
        {
            return;
        }
        JsonObject debug;
        using (var existing = store.OpenSection("debug"))
        {
            debug = existing is null
                ? new JsonObject()
                : JsonNode.Parse(existing) as JsonObject ?? new JsonObject();
        }
        var list = debug["errors"] as JsonArray ?? new JsonArray();
        var seen = list.Select(e => e?.ToString()).ToHashSet();
        foreach (var error in errors)
        {
            if (seen.Add(error))
            {
                list.Add(error);
            }
        }
        debug["errors"] = list;
        var output = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(output))
        {
            debug.WriteTo(writer);
        }
        store.Replace("debug", SectionContent.OfMemory(output.WrittenMemory), "host");
    }

    /// <summary>Writes the report atomically to <paramref name="reportPath"/>.</summary>
    public static void WriteAtomically(SectionStore store, byte[] statistics, string reportPath)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(reportPath))!;
        Directory.CreateDirectory(directory);
        var temporary = Path.Combine(
            directory,
            $".{Path.GetFileName(reportPath)}.{Guid.NewGuid():N}.tmp"
        );
        try
        {
            using (
                var output = new FileStream(
                    temporary,
                    FileMode.CreateNew,
                    FileAccess.Write,
                    FileShare.None,
                    // Only the small writes between sections are buffered: a section goes
                    // straight through, so a report costs no 64 KiB buffer.
                    4096
                )
            )
            {
                Write(store, statistics, output);
                output.Flush(flushToDisk: true);
            }
            File.Move(temporary, reportPath, overwrite: true);
        }
        catch
        {
            SectionStore.TryDelete(temporary);
            throw;
        }
    }

    /// <summary>Writes the report to a stream (stdout, or the temporary file).</summary>
    public static void Write(SectionStore store, byte[] statistics, Stream output)
    {
        output.WriteByte((byte)'{');
        var first = true;
        foreach (var key in store.Keys)
        {
            WriteKey(output, key, ref first);
            store.CopySection(key, output);
        }
        WriteKey(output, "statistics", ref first);
        output.Write(statistics);
        output.Write("\n}\n"u8);
    }

    private static void WriteKey(Stream output, string key, ref bool first)
    {
        if (!first)
        {
            output.WriteByte((byte)',');
        }
        first = false;
        output.Write(Indent);
        output.Write(Encoding.UTF8.GetBytes($"\"{JsonEncodedText.Encode(key)}\""));
        output.Write(": "u8);
    }
}
