using Microkernel.Contracts;

namespace Microkernel.Contracts.Tests;

public sealed class ConfFileTests
{
    [Fact]
    public void Cuckoo_ini_dialect_parses_comments_separators_and_continuations()
    {
        var conf = ConfFile.Parse(
            "processing.conf",
            [
                "# comment",
                "; also comment",
                "[network]",
                "enabled = yes",
                "allowed_dns: 8.8.8.8",
                "  8.8.4.4",
                "",
                "[Static]",
                "pdf_timeout = 60",
            ]
        );

        Assert.Equal(["network", "Static"], conf.SectionNames);
        Assert.Equal("8.8.8.8\n8.8.4.4", conf.GetSection("network")!.GetString("allowed_dns"));
        Assert.Equal(60, conf.GetSection("static")!.GetInt32("pdf_timeout", 0));
    }

    [Theory]
    [InlineData(new[] { "[a]", "garbage line" }, 2, "expected 'key = value'")]
    [InlineData(new[] { "key = value" }, 1, "before any [section]")]
    [InlineData(new[] { "[a", "x = 1" }, 1, "malformed section header")]
    [InlineData(new[] { "[a]", "[A]" }, 2, "appears twice")]
    public void Malformed_text_names_file_and_line(string[] lines, int line, string problem)
    {
        var error = Assert.Throws<ConfFileException>(() =>
            ConfFile.Parse("conf/processing.conf", lines)
        );
        Assert.Equal(line, error.Line);
        Assert.StartsWith(
            $"conf/processing.conf:{line}: ",
            error.Message,
            StringComparison.Ordinal
        );
        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
    }
}

public sealed class ModuleOptionsTests
{
    private static ModuleOptions Options(params (string Key, string Value)[] values) =>
        new("strings", values.ToDictionary(v => v.Key, v => v.Value), "conf/processing.conf");

    [Theory]
    [InlineData("on", true)]
    [InlineData("YES", true)]
    [InlineData("true", true)]
    [InlineData("1", true)]
    [InlineData("off", false)]
    [InlineData("no", false)]
    [InlineData("False", false)]
    [InlineData("0", false)]
    public void Booleans_accept_cuckoo_spellings(string raw, bool expected) =>
        Assert.Equal(expected, Options(("enabled", raw)).GetBoolean("enabled", !expected));

    [Fact]
    public void Missing_keys_fall_back_to_defaults()
    {
        var options = Options();
        Assert.Equal(2048, options.GetInt32("max_count", 2048));
        Assert.Equal(
            TimeSpan.FromSeconds(5),
            options.GetSeconds("timeout", TimeSpan.FromSeconds(5))
        );
        Assert.Null(options.GetString("key"));
    }

    [Fact]
    public void A_bad_value_is_a_processing_error_naming_file_section_and_key()
    {
        var error = Assert.Throws<ProcessingException>(() =>
            Options(("max_count", "lots")).GetInt32("max_count", 1)
        );
        Assert.Equal(
            "conf/processing.conf [strings] max_count = 'lots' is not an integer.",
            error.Message
        );
        Assert.Throws<ProcessingException>(() =>
            Options(("enabled", "maybe")).GetBoolean("enabled", true)
        );
        Assert.Throws<ProcessingException>(() =>
            Options(("timeout", "-3")).GetSeconds("timeout", TimeSpan.Zero)
        );
    }
}
