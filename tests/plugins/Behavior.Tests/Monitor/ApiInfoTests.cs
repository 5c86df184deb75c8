using System.Text.Json;
using Microkernel.Plugins.Behavior.Monitor;

namespace Microkernel.Plugins.Behavior.Tests.Monitor;

/// <summary>Argument positions by name, remembered per API by the name's reference.</summary>
public sealed class ApiInfoTests
{
    private static ApiInfo Info(params string[] names) =>
        new(
            "NtCreateFile",
            "file",
            names
                .Select(n => new ArgSpec(n, JsonEncodedText.Encode(n), ArgConverter.Default32))
                .ToArray()
        );

    [Fact]
    public void Equal_names_in_other_strings_find_the_same_position()
    {
        var info = Info("FileHandle", "DesiredAccess", "FileName", "CreateDisposition");
        Assert.Equal(2, info.IndexOf("FileName"));
        // A name built at run time is another string with the same text.
        var built = new string("FileName".AsSpan());
        Assert.False(ReferenceEquals(built, "FileName"));
        Assert.Equal(2, info.IndexOf(built));
        Assert.Equal(2, info.IndexOf("FileName"));
        Assert.Equal(-1, info.IndexOf("filename"));
        Assert.Equal(-1, info.IndexOf(new string("filename".AsSpan())));
    }

    [Fact]
    public void Many_names_asked_in_turn_keep_their_positions()
    {
        // More names than the per-API memory holds: the older ones are looked up again.
        var names = Enumerable.Range(0, 20).Select(i => "arg" + i).ToArray();
        var info = Info(names);
        for (var round = 0; round < 3; round++)
        {
            for (var i = 0; i < names.Length; i++)
            {
                Assert.Equal(i, info.IndexOf(names[i]));
                Assert.Equal(-1, info.IndexOf("missing" + (i % 3)));
            }
            for (var i = names.Length - 1; i >= 0; i -= 3)
            {
                Assert.Equal(i, info.IndexOf(names[i]));
            }
        }
    }

    [Fact]
    public void A_repeated_name_answers_with_its_last_position()
    {
        var info = Info("handle", "name", "handle");
        Assert.Equal(2, info.IndexOf("handle"));
        Assert.Equal(2, info.IndexOf("handle"));
        Assert.Equal(1, info.IndexOf("name"));
    }

    [Fact]
    public void Call_lists_show_the_arguments_but_status_return_value_and_shadowed_ones()
    {
        var info = Info("is_success", "retval", "handle", "name", "handle", "size");
        Assert.Equal(
            [(3, "{\"name\":"), (4, ",\"handle\":"), (5, ",\"size\":")],
            info.CallArguments.Select(a => (a.Index, System.Text.Encoding.UTF8.GetString(a.Prefix)))
        );
        Assert.Empty(Info("is_success", "retval").CallArguments);
        Assert.Equal(
            [(0, "{\"only\":")],
            Info("only")
                .CallArguments.Select(a => (a.Index, System.Text.Encoding.UTF8.GetString(a.Prefix)))
        );
    }
}
