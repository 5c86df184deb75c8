using Microkernel.Contracts;
using Microkernel.Host.Isolation;
using Microkernel.Host.Plugins;

namespace Microkernel.Host.Tests.Isolation;

public sealed class IsolationPolicyTests
{
    private static PluginFolder Folder(string name, string assembly) =>
        new(name, $"/plugins/{name}", $"/plugins/{name}/{assembly}", null);

    private static ModuleOptions Section(string name, params (string Key, string Value)[] values) =>
        new(name, values.ToDictionary(v => v.Key, v => v.Value), "/conf/processing.conf");

    [Fact]
    public void Shipped_plugins_run_in_process_and_everything_else_in_a_worker_by_default()
    {
        Assert.Equal(
            (IsolationMode.InProcess, IsolationPolicy.DefaultMemoryLimitMiB, (string?)null),
            IsolationPolicy.Resolve(Folder("Network", "Microkernel.Plugins.Network.dll"), null)
        );
        Assert.Equal(
            IsolationMode.Process,
            IsolationPolicy.Resolve(Folder("Yara", "Acme.Yara.dll"), null).Mode
        );
        // A third party cannot borrow a shipped folder name with its own assembly.
        Assert.Equal(
            IsolationMode.Process,
            IsolationPolicy.Resolve(Folder("Network", "Acme.Network.dll"), null).Mode
        );
    }

    [Theory]
    [InlineData("process", true)]
    [InlineData("in-process", false)]
    [InlineData(" In-Process ", false)]
    public void The_section_overrides_the_default(string value, bool isolated)
    {
        var expected = isolated ? IsolationMode.Process : IsolationMode.InProcess;
        var (mode, _, problem) = IsolationPolicy.Resolve(
            Folder("Strings", "Microkernel.Plugins.Strings.dll"),
            Section("strings", ("isolation", value))
        );
        Assert.Null(problem);
        Assert.Equal(expected, mode);
    }

    [Theory]
    [InlineData("0", "memory_limit = 0: give at least 64 (MiB)")]
    [InlineData("lots", "memory_limit")]
    public void A_bad_memory_limit_is_refused_with_the_file_and_section(
        string value,
        string message
    )
    {
        var (_, _, problem) = IsolationPolicy.Resolve(
            Folder("Yara", "Acme.Yara.dll"),
            Section("yara", ("memory_limit", value))
        );
        Assert.NotNull(problem);
        Assert.Contains(message, problem);
        Assert.Contains("yara", problem);
    }

    [Fact]
    public void The_memory_limit_is_read_in_MiB()
    {
        Assert.Equal(
            512,
            IsolationPolicy
                .Resolve(Folder("Yara", "Acme.Yara.dll"), Section("yara", ("memory_limit", "512")))
                .MemoryLimitMiB
        );
    }
}
