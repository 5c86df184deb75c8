using Microkernel.Plugins.Memory.Volatility;
using Microkernel.TestSupport;

namespace Microkernel.Plugins.Memory.Tests;

public sealed class ConfigurationTests
{
    [Fact]
    public void The_shipped_memory_conf_names_every_plugin_and_keeps_Cuckoos_defaults()
    {
        var path = RepoPaths.InRepo("conf", "memory.conf");
        var conf = MemoryConfiguration.Load(RepoPaths.InRepo("conf"));
        var file = Microkernel.Contracts.ConfFile.Load(path);
        foreach (var plugin in VolatilityPlugins.All)
        {
            var section = file.GetSection(plugin.Name);
            Assert.NotNull(section);
            Assert.Equal(
                plugin.EnabledByDefault,
                section!.GetBoolean("enabled", !plugin.EnabledByDefault)
            );
            Assert.Equal(
                plugin.FilterByDefault,
                section.GetBoolean("filter", !plugin.FilterByDefault)
            );
        }
        Assert.Equal("vol", conf.Volatility);
        Assert.False(conf.DeleteMemdump);
        Assert.False(conf.MaskEnabled);
        Assert.Empty(conf.MaskPids);
        Assert.Equal(TimeSpan.FromSeconds(600), conf.PluginTimeout);
        Assert.Equal(TimeSpan.FromSeconds(1800), conf.TotalTimeout);
        Assert.Contains(conf.Plugins, p => p.Plugin.Name == "pslist" && !p.Filter);
        Assert.DoesNotContain(conf.Plugins, p => p.Plugin.Name == "apihooks");
    }

    [Fact]
    public void Per_plugin_settings_override_basic_ones()
    {
        var file = Microkernel.Contracts.ConfFile.Parse(
            "memory.conf",
            [
                "[basic]",
                "timeout = 30",
                "[pslist]",
                "timeout = 5",
                "plugin = windows.pslist",
                "arguments = --pid 4 --dump",
                "[mask]",
                "pid_generic = 4, x, 8",
            ]
        );
        var conf = MemoryConfiguration.FromConf("memory.conf", file);
        var pslist = conf.Plugins.Single(p => p.Plugin.Name == "pslist");
        Assert.Equal(TimeSpan.FromSeconds(5), pslist.Timeout);
        Assert.Equal("windows.pslist", pslist.Volatility3Name);
        Assert.Equal(["--pid", "4", "--dump"], pslist.Arguments);
        Assert.Equal(
            TimeSpan.FromSeconds(30),
            conf.Plugins.Single(p => p.Plugin.Name == "netscan").Timeout
        );
        Assert.Equal([4L, 8L], conf.MaskPids.Order());
    }
}
