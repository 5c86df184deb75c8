using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microkernel.Contracts;
using Microkernel.Plugins.Memory.Volatility;
using Microkernel.TestSupport;

namespace Microkernel.Plugins.Memory.Tests;

public sealed class MemoryTests
{
    private static string Only(params string[] plugins) =>
        string.Join(
            "\n",
            VolatilityPlugins.All.Select(p =>
                $"[{p.Name}]\nenabled = {(plugins.Contains(p.Name) ? "yes" : "no")}"
            )
        );

    [Fact]
    public async Task Default_plugins_map_recorded_Volatility_3_replies_into_Cuckoo_field_names()
    {
        using var vol = new FakeVolatility();
        using var document = await vol.RunAsync();
        var memory = document!.RootElement;

        var pslist = memory.GetProperty("pslist");
        Assert.False(pslist.GetProperty("config").GetProperty("filter").GetBoolean());
        var rows = pslist.GetProperty("data");
        Assert.Equal(3, rows.GetArrayLength());
        var rthdcpl = rows[2];
        Assert.Equal("RTHDCPL.exe", rthdcpl.GetProperty("process_name").GetString());
        Assert.Equal(752, rthdcpl.GetProperty("process_id").GetInt32());
        Assert.Equal(2072, rthdcpl.GetProperty("parent_id").GetInt32());
        Assert.Equal("3", rthdcpl.GetProperty("num_threads").GetString());
        Assert.Equal(JsonValueKind.Null, rthdcpl.GetProperty("num_handles").ValueKind);
        Assert.Equal("1", rthdcpl.GetProperty("session_id").GetString());
        Assert.Equal(
            "2016-08-25 22:44:59 UTC+0000",
            rthdcpl.GetProperty("create_time").GetString()
        );
        Assert.Equal("2016-08-25 22:45:30 UTC+0000", rthdcpl.GetProperty("exit_time").GetString());
        Assert.Equal("", rows[0].GetProperty("exit_time").GetString());
        Assert.Equal(JsonValueKind.Null, rows[0].GetProperty("session_id").ValueKind);

        var dlllist = memory.GetProperty("dlllist");
        Assert.True(dlllist.GetProperty("config").GetProperty("filter").GetBoolean());
        var explorer = dlllist.GetProperty("data")[0];
        Assert.Equal(2072, explorer.GetProperty("process_id").GetInt32());
        Assert.Equal(2, explorer.GetProperty("loaded_modules").GetArrayLength());
        var ntdll = explorer.GetProperty("loaded_modules")[1];
        Assert.Equal("2007302144", ntdll.GetProperty("dll_base").GetString());
        Assert.Equal(
            @"C:\Windows\SYSTEM32\ntdll.dll",
            ntdll.GetProperty("dll_full_name").GetString()
        );
        Assert.Equal(2, dlllist.GetProperty("data").GetArrayLength());

        var handle = memory.GetProperty("handles").GetProperty("data")[1];
        Assert.Equal("8", handle.GetProperty("handle_value").GetString());
        Assert.Equal("2031617", handle.GetProperty("handle_granted_access").GetString());
        Assert.Equal("Mutant", handle.GetProperty("handle_type").GetString());

        var malfind = memory.GetProperty("malfind").GetProperty("data")[0];
        Assert.Equal("0x400000", malfind.GetProperty("vad_start").GetString());
        Assert.Equal("VadS", malfind.GetProperty("vad_tag").GetString());

        var tcp = memory.GetProperty("netscan").GetProperty("data")[0];
        Assert.Equal("0x3fd2b010", tcp.GetProperty("offset").GetString());
        Assert.Equal("752", tcp.GetProperty("process_id").GetString());
        Assert.Equal("49162", tcp.GetProperty("local_port").GetString());
        Assert.Equal("110.142.12.95", tcp.GetProperty("remote_address").GetString());
        Assert.Equal("TCPv4", tcp.GetProperty("protocol").GetString());
        var udp = memory.GetProperty("netscan").GetProperty("data")[1];
        Assert.Equal(JsonValueKind.Null, udp.GetProperty("process_id").ValueKind);

        var service = memory.GetProperty("svcscan").GetProperty("data")[1];
        Assert.Equal("0x1e5f10", service.GetProperty("service_offset").GetString());
        Assert.Equal(868, service.GetProperty("process_id").GetInt32());
        Assert.Equal("DHCP Client", service.GetProperty("service_display_name").GetString());

        var callback = memory.GetProperty("callbacks").GetProperty("data");
        Assert.Equal("0xfffff80002b3a010", callback[0].GetProperty("callback").GetString());
        Assert.Equal("-", callback[0].GetProperty("details").GetString());
        Assert.Equal("UNKNOWN", callback[1].GetProperty("module").GetString());

        var ldr = memory.GetProperty("ldrmodules").GetProperty("data")[0];
        Assert.True(ldr.GetProperty("dll_in_load").GetBoolean());
        Assert.False(ldr.GetProperty("dll_in_init").GetBoolean());

        var module = memory.GetProperty("modules").GetProperty("data")[0];
        Assert.Equal("ntoskrnl.exe", module.GetProperty("kernel_module_name").GetString());
        Assert.Equal(6189056, module.GetProperty("kernel_module_size").GetInt32());

        var tree = memory.GetProperty("pstree").GetProperty("data");
        Assert.Equal(2, tree.GetArrayLength());
        var child = tree[1].GetProperty("children")[0];
        Assert.Equal(752, child.GetProperty("process_id").GetInt32());

        var cmdline = memory.GetProperty("cmdline").GetProperty("data")[1];
        Assert.Equal(
            "\"C:\\Program Files\\RTHDCPL.exe\" /run",
            cmdline.GetProperty("commandline").GetString()
        );

        var device = memory.GetProperty("devicetree").GetProperty("data")[0];
        Assert.Equal(@"\Driver\Beep", device.GetProperty("name").GetString());
        Assert.Equal(
            "FILE_DEVICE_BEEP",
            device.GetProperty("children")[0].GetProperty("device_type").GetString()
        );

        // No plugin failed.
        foreach (var plugin in memory.EnumerateObject())
        {
            Assert.False(plugin.Value.TryGetProperty("error", out _), plugin.Name);
        }
    }

    [Fact]
    public async Task Volatility_is_called_once_per_plugin_with_json_output_on_the_dump()
    {
        using var vol = new FakeVolatility
        {
            Conf = "arguments = --offline\n" + Only("pslist", "netscan"),
        };
        using var _ = await vol.RunAsync();
        var calls = (await File.ReadAllLinesAsync(vol.ArgsLog))
            .Select(l => l.Split('\u001f'))
            .ToList();
        Assert.Equal(2, calls.Count);
        Assert.Equal(
            ["--offline", "-q", "-r", "json", "-f", vol.MemoryPath, "windows.pslist.PsList"],
            calls[0]
        );
        Assert.Equal("windows.netscan.NetScan", calls[1][^1]);
    }

    [Fact]
    public async Task Missing_vol_is_one_clear_error_naming_the_setting()
    {
        using var vol = new FakeVolatility();
        await File.WriteAllTextAsync(vol.MemoryPath, "x");
        await File.WriteAllTextAsync(
            Path.Combine(vol.ConfDirectory, "memory.conf"),
            "[basic]\nvolatility = /nonexistent/vol\n"
        );
        var error = await Assert.ThrowsAsync<MissingDependencyException>(() =>
            ModuleHarness.RunAsync(new Memory(), vol.AnalysisPath, confDirectory: vol.ConfDirectory)
        );
        Assert.Contains("[basic] volatility", error.Message, StringComparison.Ordinal);
        Assert.Contains("memory.conf", error.Message, StringComparison.Ordinal);
        Assert.Contains("/nonexistent/vol", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_or_empty_dump_stores_nothing_as_in_Cuckoo()
    {
        using var vol = new FakeVolatility();
        await File.WriteAllTextAsync(
            Path.Combine(vol.ConfDirectory, "memory.conf"),
            "[basic]\nvolatility = /nonexistent/vol\n"
        );
        Assert.Null(
            await ModuleHarness.RunAsync(
                new Memory(),
                vol.AnalysisPath,
                confDirectory: vol.ConfDirectory
            )
        );
        await File.WriteAllBytesAsync(vol.MemoryPath, []);
        Assert.Null(
            await ModuleHarness.RunAsync(
                new Memory(),
                vol.AnalysisPath,
                confDirectory: vol.ConfDirectory
            )
        );
    }

    [Fact]
    public async Task Non_zero_exit_and_malformed_json_are_recorded_per_plugin_while_others_run()
    {
        using var vol = new FakeVolatility
        {
            Conf = Only("pslist", "handles", "netscan", "svcscan"),
        };
        vol.Scenario["windows.handles.Handles"] = new JsonObject
        {
            ["mode"] = "exit",
            ["code"] = 2,
            ["stdout"] = "",
            ["stderr"] = "Unsatisfied requirement plugins.Handles.kernel.layer_name",
        };
        vol.Scenario["windows.pslist.PsList"] = new JsonObject { ["mode"] = "malformed" };
        using var document = await vol.RunAsync();
        var memory = document!.RootElement;

        var handles = memory.GetProperty("handles");
        Assert.Equal(0, handles.GetProperty("data").GetArrayLength());
        var handlesError = handles.GetProperty("error").GetString()!;
        Assert.Contains("exited with code 2", handlesError, StringComparison.Ordinal);
        Assert.Contains("Unsatisfied requirement", handlesError, StringComparison.Ordinal);

        var pslist = memory.GetProperty("pslist");
        // The row before the damage is kept.
        Assert.Equal(1, pslist.GetProperty("data").GetArrayLength());
        Assert.Equal(
            "System",
            pslist.GetProperty("data")[0].GetProperty("process_name").GetString()
        );
        Assert.Matches(
            "unreadable output at byte [0-9]+: malformed JSON",
            pslist.GetProperty("error").GetString()!
        );

        Assert.Equal(2, memory.GetProperty("netscan").GetProperty("data").GetArrayLength());
        Assert.Equal(2, memory.GetProperty("svcscan").GetProperty("data").GetArrayLength());
    }

    // Without the interrupt the run takes timeout + grace (65 s): well past the bound, inside the Fact's.
    [Fact(Timeout = 90_000)]
    public async Task A_hung_plugin_is_interrupted_at_its_timeout_and_the_next_plugin_runs()
    {
        // A timeout well past FakeVol's start-up, so the interrupt comes after it printed its row
        // and restored SIGINT's default action (inherited as "ignore", it would outlive the interrupt).
        using var vol = new FakeVolatility
        {
            Conf =
                "grace = 60\n"
                + Only("pslist", "netscan")
                    .Replace(
                        "[pslist]\nenabled = yes",
                        "[pslist]\nenabled = yes\ntimeout = 5",
                        StringComparison.Ordinal
                    ),
        };
        vol.Scenario["windows.pslist.PsList"] = new JsonObject
        {
            ["mode"] = "hang",
            ["stdout"] = "[{\"PID\": 4, \"ImageFileName\": \"System\"}",
        };
        var stopwatch = Stopwatch.StartNew();
        using var document = await vol.RunAsync();
        stopwatch.Stop();
        var pslist = document!.RootElement.GetProperty("pslist");
        Assert.Contains(
            "timed out after 5 s",
            pslist.GetProperty("error").GetString(),
            StringComparison.Ordinal
        );
        Assert.Equal(1, pslist.GetProperty("data").GetArrayLength());
        Assert.Equal(
            2,
            document.RootElement.GetProperty("netscan").GetProperty("data").GetArrayLength()
        );
        // SIGINT ended it: without the interrupt the run would have waited out the 60 s grace.
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(30), $"took {stopwatch.Elapsed}");
    }

    [Fact(Timeout = 30_000)]
    public async Task A_plugin_that_ignores_the_interrupt_is_killed_with_its_children_after_the_grace_period()
    {
        // A timeout well past FakeVol's start-up, so the interrupt finds its SIGINT handler installed.
        using var vol = new FakeVolatility { Conf = "grace = 2\ntimeout = 6\n" + Only("pslist") };
        var pidFile = vol.Combine("pids.txt");
        vol.Scenario["windows.pslist.PsList"] = new JsonObject
        {
            ["mode"] = "ignore-sigint",
            ["child"] = true,
            ["pidfile"] = pidFile,
        };
        var stopwatch = Stopwatch.StartNew();
        using var document = await vol.RunAsync();
        stopwatch.Stop();
        Assert.Contains(
            "timed out",
            document!.RootElement.GetProperty("pslist").GetProperty("error").GetString(),
            StringComparison.Ordinal
        );
        // Killed only once timeout + grace (8 s) ran out, not at the interrupt (6 s), and not never.
        Assert.True(stopwatch.Elapsed >= TimeSpan.FromSeconds(7.9), $"took {stopwatch.Elapsed}");
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(20), $"took {stopwatch.Elapsed}");
        foreach (var pid in (await File.ReadAllLinesAsync(pidFile)).Select(int.Parse))
        {
            Assert.True(IsGone(pid), $"process {pid} survived");
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task The_total_timeout_skips_plugins_that_no_longer_fit()
    {
        using var vol = new FakeVolatility
        {
            Conf = "grace = 1\ntotal_timeout = 1\n" + Only("pslist", "netscan"),
        };
        vol.Scenario["windows.pslist.PsList"] = new JsonObject { ["mode"] = "hang" };
        using var document = await vol.RunAsync();
        Assert.Contains(
            "timed out",
            document!.RootElement.GetProperty("pslist").GetProperty("error").GetString(),
            StringComparison.Ordinal
        );
        Assert.Contains(
            "total_timeout",
            document.RootElement.GetProperty("netscan").GetProperty("error").GetString(),
            StringComparison.Ordinal
        );
    }

    [Fact(Timeout = 30_000)]
    public async Task The_callers_cancellation_stops_volatility_and_propagates()
    {
        using var vol = new FakeVolatility { Conf = "grace = 1\n" + Only("pslist") };
        var pidFile = vol.Combine("pids.txt");
        vol.Scenario["windows.pslist.PsList"] = new JsonObject
        {
            ["mode"] = "ignore-sigint",
            ["pidfile"] = pidFile,
        };
        using var cancellation = new CancellationTokenSource();
        var run = vol.RunAsync(cancellation.Token);
        // Cancel once FakeVol runs with SIGINT ignored: only the kill after the grace can end it.
        var pid = await ReadPidAsync(pidFile, run, TimeSpan.FromSeconds(20));
        await cancellation.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        Assert.True(IsGone(pid), $"process {pid} survived");
    }

    [Fact(Timeout = 60_000)]
    public async Task Large_output_is_streamed_row_by_row()
    {
        using var vol = new FakeVolatility { Conf = Only("pslist") };
        vol.Scenario["windows.pslist.PsList"] = new JsonObject
        {
            ["mode"] = "huge",
            ["megabytes"] = 20,
        };
        using var document = await vol.RunAsync();
        var pslist = document!.RootElement.GetProperty("pslist");
        Assert.False(pslist.TryGetProperty("error", out _));
        Assert.True(pslist.GetProperty("data").GetArrayLength() > 50_000);
    }

    [Fact(Timeout = 60_000)]
    public async Task Output_beyond_max_output_size_stops_the_plugin()
    {
        using var vol = new FakeVolatility
        {
            Conf = "max_output_size = 1000000\ngrace = 1\n" + Only("pslist"),
        };
        vol.Scenario["windows.pslist.PsList"] = new JsonObject
        {
            ["mode"] = "huge",
            ["megabytes"] = 50,
        };
        using var document = await vol.RunAsync();
        var pslist = document!.RootElement.GetProperty("pslist");
        Assert.Contains(
            "max_output_size",
            pslist.GetProperty("error").GetString(),
            StringComparison.Ordinal
        );
        Assert.True(pslist.GetProperty("data").GetArrayLength() > 1000);
    }

    [Fact]
    public async Task Masked_pids_are_filtered_from_filtered_plugins_unless_malfind_tainted_them()
    {
        using var vol = new FakeVolatility
        {
            Conf =
                Only("pslist", "handles", "malfind")
                + "\n[mask]\nenabled = yes\npid_generic = 752, 2072",
        };
        using var document = await vol.RunAsync();
        var memory = document!.RootElement;
        // pslist has filter = no: untouched.
        Assert.Equal(3, memory.GetProperty("pslist").GetProperty("data").GetArrayLength());
        // handles: 2072 is masked, 752 is tainted by malfind and stays.
        var pids = memory
            .GetProperty("handles")
            .GetProperty("data")
            .EnumerateArray()
            .Select(r => r.GetProperty("process_id").GetInt32())
            .ToList();
        Assert.Equal([752, 752], pids);
    }

    [Fact]
    public async Task Mask_is_ignored_when_mask_is_disabled()
    {
        using var vol = new FakeVolatility
        {
            Conf = Only("handles") + "\n[mask]\nenabled = no\npid_generic = 752",
        };
        using var document = await vol.RunAsync();
        Assert.Equal(
            3,
            document!.RootElement.GetProperty("handles").GetProperty("data").GetArrayLength()
        );
    }

    [Fact]
    public async Task Delete_memdump_removes_the_dump_after_processing()
    {
        using var vol = new FakeVolatility { Conf = "delete_memdump = yes\n" + Only("pslist") };
        using var document = await vol.RunAsync();
        Assert.NotNull(document);
        Assert.False(File.Exists(vol.MemoryPath));
    }

    [Fact]
    public async Task A_tool_that_cannot_start_is_recorded_per_plugin()
    {
        using var vol = new FakeVolatility { Conf = Only("pslist") };
        var notExecutable = vol.Combine("vol-not-executable");
        await File.WriteAllTextAsync(notExecutable, "not a program");
        await File.WriteAllTextAsync(vol.MemoryPath, "{}");
        await File.WriteAllTextAsync(
            Path.Combine(vol.ConfDirectory, "memory.conf"),
            $"[basic]\nvolatility = {notExecutable}\n{Only("pslist")}\n"
        );
        using var document = await ModuleHarness.RunAsync(
            new Memory(),
            vol.AnalysisPath,
            confDirectory: vol.ConfDirectory
        );
        Assert.False(
            string.IsNullOrEmpty(
                document!.RootElement.GetProperty("pslist").GetProperty("error").GetString()
            )
        );
    }

    /// <summary>The pid FakeVol writes once its SIGINT handler is installed; the file may be seen half written.</summary>
    private static async Task<int> ReadPidAsync(string pidFile, Task run, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (run.IsCompleted)
            {
                // Surfaces the run's own exception, if it has one.
                await run;
                Assert.Fail("the run ended before FakeVol wrote its pid");
            }
            if (
                File.Exists(pidFile)
                && int.TryParse(await File.ReadAllTextAsync(pidFile), out var pid)
            )
            {
                return pid;
            }
            Assert.True(DateTime.UtcNow < deadline, $"no pid in {pidFile} within {timeout}");
            await Task.Delay(50);
        }
    }

    private static bool IsGone(int pid)
    {
        for (var i = 0; i < 50; i++)
        {
            try
            {
                using var process = Process.GetProcessById(pid);
                if (process.HasExited)
                {
                    return true;
                }
            }
            catch (ArgumentException)
            {
                return true;
            }
            Thread.Sleep(100);
        }
        return false;
    }
}
