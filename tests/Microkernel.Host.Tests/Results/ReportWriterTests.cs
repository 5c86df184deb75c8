using System.Text.Json;
using Microkernel.Host.Results;
using Microkernel.TestSupport;

namespace Microkernel.Host.Tests.Results;

public sealed class ReportWriterTests
{
    [Fact]
    public void Sections_are_spliced_in_order_into_valid_json()
    {
        using var temp = TempDirectory.Create();
        using var store = new SectionStore(temp.Combine("sections"));
        AddSection(store, "info", """{"id": 1}""");
        AddSection(store, "strings", """["a", "\u00e9"]""");
        var report = temp.Combine("reports", "report.json");

        ReportWriter.WriteAtomically(store, """{"processing":[]}"""u8.ToArray(), report);

        using var document = JsonDocument.Parse(File.ReadAllBytes(report));
        Assert.Equal(
            ["info", "strings", "statistics"],
            document.RootElement.EnumerateObject().Select(p => p.Name)
        );
        Assert.Equal("é", document.RootElement.GetProperty("strings")[1].GetString());
    }

    [Fact]
    public void A_failed_write_keeps_the_previous_report_and_leaves_no_temporary_file()
    {
        using var temp = TempDirectory.Create();
        using var store = new SectionStore(temp.Combine("sections"));
        var sectionPath = AddSection(store, "info", """{"id": 1}""");
        var report = PreviousReport(temp);
        File.Delete(sectionPath); // the section vanishes mid-run: the write must fail

        Assert.ThrowsAny<IOException>(() =>
            ReportWriter.WriteAtomically(store, "{}"u8.ToArray(), report)
        );

        AssertOnlyThePreviousReport(report);
    }

    [Fact]
    public void A_pending_report_appears_only_when_committed()
    {
        using var temp = TempDirectory.Create();
        using var store = new SectionStore(temp.Combine("sections"));
        AddSection(store, "info", """{"id": 2}""");
        var report = PreviousReport(temp);

        using var pending = ReportWriter.WritePending(store, "{}"u8.ToArray(), report);

        Assert.Equal("""{"old": true}""", File.ReadAllText(report));
        Assert.Equal(2, Directory.GetFiles(Path.GetDirectoryName(report)!).Length);
        pending.Commit();
        using var document = JsonDocument.Parse(File.ReadAllBytes(report));
        Assert.Equal(2, document.RootElement.GetProperty("info").GetProperty("id").GetInt32());
        Assert.Equal([report], Directory.GetFiles(Path.GetDirectoryName(report)!));
    }

    [Fact]
    public void A_pending_report_dropped_uncommitted_leaves_the_previous_report_alone()
    {
        using var temp = TempDirectory.Create();
        using var store = new SectionStore(temp.Combine("sections"));
        AddSection(store, "info", """{"id": 2}""");
        var report = PreviousReport(temp);

        ReportWriter.WritePending(store, "{}"u8.ToArray(), report).Dispose();

        AssertOnlyThePreviousReport(report);
    }

    [Fact]
    public void A_commit_that_cannot_rename_names_the_report_and_removes_its_temporary_file()
    {
        using var temp = TempDirectory.Create();
        using var store = new SectionStore(temp.Combine("sections"));
        AddSection(store, "info", """{"id": 2}""");
        var report = temp.Combine("reports", "report.json");
        // A folder in the report's place, with something in it: the rename cannot replace it.
        Directory.CreateDirectory(Path.Combine(report, "keep"));
        using var pending = ReportWriter.WritePending(store, "{}"u8.ToArray(), report);

        var error = Assert.Throws<IOException>(pending.Commit);

        Assert.StartsWith($"{report}: the report could not be committed", error.Message);
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(report)!));
        Assert.True(Directory.Exists(Path.Combine(report, "keep")));
    }

    [Fact]
    public void Errors_are_merged_into_an_existing_debug_section_without_duplicates()
    {
        using var temp = TempDirectory.Create();
        using var store = new SectionStore(temp.Combine("sections"));
        AddSection(store, "debug", """{"log": ["x\n"], "errors": ["seen"]}""");

        ReportWriter.MergeDebugErrors(store, ["seen", "Throws: exception: boom"]);

        Assert.True(store.TryGetSection("debug", out var debug));
        Assert.Equal(
            ["seen", "Throws: exception: boom"],
            debug.GetProperty("errors").EnumerateArray().Select(e => e.GetString())
        );
        Assert.Equal("x\n", debug.GetProperty("log")[0].GetString());
    }

    [Fact]
    public void Errors_create_a_debug_section_when_no_module_made_one()
    {
        using var temp = TempDirectory.Create();
        using var store = new SectionStore(temp.Combine("sections"));

        ReportWriter.MergeDebugErrors(store, ["Plugin X could not be loaded: reason"]);

        Assert.True(store.TryGetSection("debug", out var debug));
        Assert.Equal(
            "Plugin X could not be loaded: reason",
            debug.GetProperty("errors")[0].GetString()
        );
    }

    /// <summary>A report a previous run left in <c>reports/</c>.</summary>
    private static string PreviousReport(TempDirectory temp)
    {
        var report = temp.Combine("reports", "report.json");
        Directory.CreateDirectory(Path.GetDirectoryName(report)!);
        File.WriteAllText(report, """{"old": true}""");
        return report;
    }

    /// <summary>The previous report is untouched and nothing else, no temporary file, is beside it.</summary>
    private static void AssertOnlyThePreviousReport(string report)
    {
        Assert.Equal("""{"old": true}""", File.ReadAllText(report));
        Assert.Equal([report], Directory.GetFiles(Path.GetDirectoryName(report)!));
    }

    private static string AddSection(SectionStore store, string key, string json)
    {
        var path = store.NewSectionPath(key);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, json);
        Assert.True(store.TryAdd(key, path, key));
        return path;
    }
}
