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
        using var pending = WritePending(store, statistics, reportPath);
        pending.Commit();
    }

    /// <summary>
    /// Writes the whole report to a temporary file next to <paramref name="reportPath"/>; nothing
    /// is visible at <paramref name="reportPath"/> until <see cref="PendingReport.Commit"/>.
    /// </summary>
    public static PendingReport WritePending(
        SectionStore store,
        byte[] statistics,
        string reportPath
    )
    {
        var fullPath = Path.GetFullPath(reportPath);
        var directory = Path.GetDirectoryName(fullPath)!;
        Directory.CreateDirectory(directory);
        var temporary = Path.Combine(
            directory,
            $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp"
        );
        var output = new FileStream(
            temporary,
            FileMode.CreateNew,
            FileAccess.Write,
            FileShare.None,
            // Only the small writes between sections are buffered: a section goes straight
            // through, so a report costs no 64 KiB buffer.
            4096
        );
        try
        {
            Write(store, statistics, output);
            output.Flush(flushToDisk: false);
            return new PendingReport(output, temporary, fullPath);
        }
        catch
        {
            output.Dispose();
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

/// <summary>
/// A report written in full to its temporary file, not yet durable nor at its path. The daemon
/// commits it off the worker's path: the flush to disk is a wait on the device, during which the
/// worker can already run its next task. Disposing an uncommitted report deletes it and leaves
/// any previous report in place.
/// </summary>
internal sealed class PendingReport : IDisposable
{
    private readonly FileStream _file;
    private readonly string _temporary;
    private bool _done;

    internal PendingReport(FileStream file, string temporary, string path)
    {
        _file = file;
        _temporary = temporary;
        Path = path;
    }

    /// <summary>Where the report appears once committed.</summary>
    public string Path { get; }

    /// <summary>Flushes the report to disk, then renames it into place: a reader sees the whole report or none.</summary>
    /// <exception cref="IOException">The flush or the rename failed (the message names the report); the temporary file is deleted and a previous report stays.</exception>
    public void Commit()
    {
        ObjectDisposedException.ThrowIf(_done, this);
        try
        {
            _file.Flush(flushToDisk: true);
            _file.Dispose();
            File.Move(_temporary, Path, overwrite: true);
            _done = true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Dispose();
            throw new IOException($"{Path}: the report could not be committed: {ex.Message}", ex);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        if (_done)
        {
            return;
        }
        _done = true;
        _file.Dispose();
        SectionStore.TryDelete(_temporary);
    }
}
