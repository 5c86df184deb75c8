using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;
using Microkernel.Contracts;
using Microkernel.Host.Plugins;
using Microkernel.Host.Running;
using Microkernel.TestSupport;

namespace Microkernel.Host.Tests.Plugins;

/// <summary>
/// The contracts version check, before anything is loaded. A plugin "built against" another
/// contracts version is made by rewriting the version of the Microkernel.Contracts reference in
/// a built fixture (the four 16-bit fields of its AssemblyRef row): byte for byte what the
/// compiler records when the referenced contracts carry that AssemblyVersion.
/// </summary>
public sealed class PluginCatalogTests
{
    private static readonly Version HostContracts = typeof(Processing).Assembly.GetName().Version!;

    [Fact]
    public void The_contracts_the_plugin_was_built_against_are_the_hosts()
    {
        using var folder = TempDirectory.Create();
        TempDirectory.CopyTree(PluginLab.FixtureOutput("Trivial"), folder.Combine("Trivial"));

        var plugin = PluginCatalog.Describe(folder.Combine("Trivial"));

        Assert.Null(plugin.Problem);
        Assert.Equal(new Version(1, 1, 0, 0), HostContracts);
    }

    [Theory]
    [InlineData(1, 2, 0, 0)] // a newer minor: it may use members this host does not have
    [InlineData(1, 1, 1, 0)] // even a newer build
    [InlineData(2, 0, 0, 0)] // another major: another ABI
    [InlineData(0, 9, 0, 0)]
    public void A_plugin_built_against_incompatible_contracts_is_refused_clearly(
        int major,
        int minor,
        int build,
        int revision
    )
    {
        using var folder = TempDirectory.Create();
        var pluginFolder = folder.Combine("Trivial");
        TempDirectory.CopyTree(PluginLab.FixtureOutput("Trivial"), pluginFolder);
        var built = new Version(major, minor, build, revision);
        SetContractsReference(Path.Combine(pluginFolder, "Fixture.Trivial.dll"), built);

        var plugin = PluginCatalog.Describe(pluginFolder);

        Assert.Equal(
            $"built against Microkernel.Contracts {built}, but this host provides {HostContracts}; rebuild the plugin against contracts 1.x (at most {HostContracts})",
            plugin.Problem
        );
    }

    [Fact]
    public void A_plugin_built_against_an_older_minor_is_accepted()
    {
        using var folder = TempDirectory.Create();
        var pluginFolder = folder.Combine("Trivial");
        TempDirectory.CopyTree(PluginLab.FixtureOutput("Trivial"), pluginFolder);
        SetContractsReference(
            Path.Combine(pluginFolder, "Fixture.Trivial.dll"),
            new Version(1, 0, 0, 0)
        );

        Assert.Null(PluginCatalog.Describe(pluginFolder).Problem);
    }

    [Fact]
    public async Task The_runner_reports_the_refused_plugin_and_runs_the_others()
    {
        using var lab = new PluginLab("Trivial", "ProcessingError");
        SetContractsReference(
            Path.Combine(lab.PluginsPath, "Trivial", "Fixture.Trivial.dll"),
            new Version(1, 2, 0, 0)
        );
        lab.Enable("trivial", "processingerror");

        var result = await lab.RunAsync();

        var refused = Assert.Single(result.LoadFailures);
        Assert.Equal("Trivial", refused.Plugin);
        Assert.Contains(
            "built against Microkernel.Contracts 1.2.0.0",
            refused.Reason,
            StringComparison.Ordinal
        );
        Assert.Contains(
            result.Errors,
            e =>
                e.StartsWith(
                    "Plugin Trivial could not be loaded: built against Microkernel.Contracts 1.2.0.0",
                    StringComparison.Ordinal
                )
        );
        Assert.Equal("ProcessingError", Assert.Single(result.Modules).Module.ClassName);
    }

    [Theory]
    [InlineData("in-process")]
    [InlineData("process")]
    public async Task A_private_copy_of_the_contracts_in_the_plugin_folder_is_never_loaded(
        string isolation
    )
    {
        using var lab = new PluginLab("Trivial");
        File.Copy(
            typeof(Processing).Assembly.Location,
            Path.Combine(lab.PluginsPath, "Trivial", "Microkernel.Contracts.dll")
        );
        lab.WriteConf($"[trivial]\nenabled = yes\nisolation = {isolation}\n");

        var result = await lab.RunAsync();

        // The contracts are shared by name: the host's copy wins, so Processing is the host's type.
        Assert.Empty(result.LoadFailures);
        Assert.Equal(ModuleOutcome.Ok, Assert.Single(result.Modules).Outcome);
    }

    /// <summary>Rewrites the version of the assembly's reference to Microkernel.Contracts in place.</summary>
    private static void SetContractsReference(string assemblyPath, Version version)
    {
        long offset;
        using (var stream = File.OpenRead(assemblyPath))
        using (var pe = new PEReader(stream))
        {
            var metadata = pe.GetMetadataReader();
            var reference = metadata.AssemblyReferences.Single(h =>
                metadata.GetString(metadata.GetAssemblyReference(h).Name) == "Microkernel.Contracts"
            );
            offset =
                pe.PEHeaders.MetadataStartOffset
                + metadata.GetTableMetadataOffset(TableIndex.AssemblyRef)
                + (long)(MetadataTokens.GetRowNumber(reference) - 1)
                    * metadata.GetTableRowSize(TableIndex.AssemblyRef);
        }
        using var file = File.OpenWrite(assemblyPath);
        file.Position = offset;
        using var writer = new BinaryWriter(file);
        writer.Write((ushort)version.Major);
        writer.Write((ushort)version.Minor);
        writer.Write((ushort)version.Build);
        writer.Write((ushort)version.Revision);
    }
}
