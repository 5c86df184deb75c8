using Microkernel.Host.Tasks;
using Microkernel.TestSupport;

namespace Microkernel.Host.Tests.Tasks;

public sealed class TaskInfoReaderTests
{
    [Fact]
    public void Analysis_conf_is_read_first_with_options_and_dates()
    {
        var task = TaskInfoReader.Read(RepoPaths.InRepo("samples", "analyses", "1"));

        Assert.Equal("analysis.conf", task.Source);
        Assert.Equal(1, task.Id);
        Assert.Equal("file", task.Category);
        Assert.Equal("exe", task.Package);
        Assert.Equal("yes", task.Options["procmemdump"]);
        Assert.Equal(new DateTimeOffset(2026, 11, 29, 10, 0, 1, TimeSpan.Zero), task.StartedOn);
        Assert.Equal("hello.exe", task.Raw["file_name"]);
    }

    [SkippableFact]
    public void Cuckoo_task_json_is_the_fallback()
    {
        var fixtures = RepoPaths.RequireSharedFixtures();

        var task = TaskInfoReader.Read(Path.Combine(fixtures, "cuckoo-analysis"));

        Assert.Equal("task.json", task.Source);
        Assert.Equal(2204, task.Id);
        Assert.Equal("pdf", task.Package);
        Assert.Equal("0", task.Options["human"]);
        Assert.Equal(
            new DateTimeOffset(2016, 8, 25, 22, 44, 58, TimeSpan.Zero).AddTicks(9179430),
            task.StartedOn
        );
        Assert.Equal("cuckoo1", task.Guest["name"]);
        Assert.Equal(66, task.Duration);
    }

    [Fact]
    public void A_malformed_task_json_names_the_file_and_position()
    {
        using var temp = TempDirectory.Create();
        File.WriteAllText(temp.Combine("task.json"), "{\"id\": 3,\n \"category\": }");

        var error = Assert.Throws<InvalidDataException>(() => TaskInfoReader.Read(temp.Path));

        Assert.Contains(temp.Combine("task.json"), error.Message);
        Assert.Contains("line 2", error.Message);
    }

    [Fact]
    public void A_bad_date_in_analysis_conf_is_named()
    {
        using var temp = TempDirectory.Create();
        File.WriteAllText(temp.Combine("analysis.conf"), "[analysis]\nid = 3\nclock = yesterday\n");

        var error = Assert.Throws<InvalidDataException>(() => TaskInfoReader.Read(temp.Path));

        Assert.Contains("clock = 'yesterday' is not a date", error.Message);
    }

    [Fact]
    public void Without_task_files_the_id_comes_from_the_folder_name()
    {
        using var temp = TempDirectory.Create();
        var folder = Directory.CreateDirectory(temp.Combine("77")).FullName;

        var task = TaskInfoReader.Read(folder);

        Assert.Equal(77, task.Id);
        Assert.Equal("none", task.Source);
    }
}
