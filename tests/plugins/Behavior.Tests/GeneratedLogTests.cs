using System.Buffers.Binary;
using System.Text.Json;
using Microkernel.TestSupport;

namespace Microkernel.Plugins.Behavior.Tests;

/// <summary>Behaviour of the module on logs written by <see cref="MonitorLogWriter"/>.</summary>
public sealed class GeneratedLogTests
{
    private static readonly DateTime Start = new(2024, 5, 1, 12, 0, 0, 250, DateTimeKind.Utc);

    private static async Task<JsonDocument?> RunAsync(
        TempDirectory analysis,
        Dictionary<string, string>? options = null,
        Dictionary<string, string>? processing = null
    ) =>
        await ModuleHarness.RunAsync(
            new BehaviorAnalysis(),
            analysis.Path,
            options: options,
            processingOptions: processing
        );

    private static TempDirectory AnalysisWith(
        params (string Name, Action<MonitorLogWriter> Write)[] logs
    )
    {
        var analysis = TempDirectory.Create();
        Directory.CreateDirectory(analysis.Combine("logs"));
        foreach (var (name, write) in logs)
        {
            using var log = MonitorLogWriter.Create(analysis.Combine("logs", name));
            write(log);
        }
        return analysis;
    }

    private static void Process(
        MonitorLogWriter log,
        int pid,
        int ppid,
        string path,
        int secondsAfterStart,
        bool is64 = false
    )
    {
        log.WriteProcess(
            pid,
            ppid,
            path,
            $"\"{path}\"",
            Start.AddSeconds(secondsAfterStart),
            is64Bit: is64,
            tid: pid + 1
        );
        MonitorScenario.DeclareApis(log);
    }

    [Fact]
    public async Task Builds_a_process_tree_across_logs_sorted_by_first_seen()
    {
        using var analysis = AnalysisWith(
            (
                "2200.bson",
                log =>
                {
                    Process(log, 2200, 2100, @"C:\Windows\System32\ping.exe", 2);
                    log.Call("NtClose", 2201, 5, 1, 0, 4);
                }
            ),
            (
                "2044.bson",
                log =>
                {
                    Process(log, 2044, 1500, @"C:\Users\x\hello.exe", 0);
                    log.Call("NtClose", 2045, 5, 1, 0, 4);
                }
            ),
            (
                "2100.bson",
                log =>
                {
                    Process(log, 2100, 2044, @"C:\Windows\System32\cmd.exe", 1);
                }
            ),
            ("3000.bson", log => Process(log, 3000, 4, @"C:\Windows\explorer.exe", 3))
        );
        using var result = await RunAsync(analysis);
        var root = result!.RootElement;
        var processes = root.GetProperty("processes")
            .EnumerateArray()
            .Select(p => p.GetProperty("pid").GetInt32())
            .ToList();
        Assert.Equal([2044, 2100, 2200, 3000], processes);

        var tree = root.GetProperty("processtree");
        Assert.Equal(2, tree.GetArrayLength());
        var hello = tree[0];
        Assert.Equal("hello.exe", hello.GetProperty("process_name").GetString());
        var cmd = hello.GetProperty("children")[0];
        Assert.Equal(2100, cmd.GetProperty("pid").GetInt32());
        Assert.Equal(2200, cmd.GetProperty("children")[0].GetProperty("pid").GetInt32());
        Assert.Equal(3000, tree[1].GetProperty("pid").GetInt32());

        // A process without calls still appears, with an empty list, and has no apistats entry.
        Assert.Equal(0, root.GetProperty("processes")[1].GetProperty("calls").GetArrayLength());
        Assert.False(root.GetProperty("apistats").TryGetProperty("2100", out _));
        Assert.Equal(
            1,
            root.GetProperty("apistats").GetProperty("2044").GetProperty("NtClose").GetInt32()
        );
        Assert.Equal(4, root.GetProperty("generic").GetArrayLength());
    }

    [Fact]
    public async Task Computes_first_seen_and_call_times_like_cuckoo()
    {
        using var analysis = AnalysisWith(
            (
                "1.bson",
                log =>
                {
                    Process(log, 1, 0, @"C:\a.exe", 0);
                    log.Call("NtClose", 2, 1500, 1, 0, 4);
                }
            )
        );
        using var result = await RunAsync(analysis);
        var process = result!.RootElement.GetProperty("processes")[0];
        var expected = new DateTimeOffset(Start).ToUnixTimeMilliseconds() / 1000.0;
        Assert.Equal(expected, process.GetProperty("first_seen").GetDouble());
        Assert.Equal(
            expected + 1.5,
            process.GetProperty("calls")[0].GetProperty("time").GetDouble(),
            6
        );
    }

    [Fact]
    public async Task Converts_values_for_32_and_64_bit_processes()
    {
        using var analysis = AnalysisWith(
            (
                "32.bson",
                log =>
                {
                    Process(log, 10, 1, @"C:\a.exe", 0);
                    log.Call(
                        "NtAllocateVirtualMemory",
                        11,
                        0,
                        1,
                        -1073741819,
                        -1,
                        0x7efde000,
                        4096,
                        0x3000,
                        0x40
                    );
                }
            ),
            (
                "64.bson",
                log =>
                {
                    // An API declared before __process__ keeps 32-bit converters (C2 quirk Q3).
                    log.DeclareApi("Early", "misc", [MonitorLogWriter.Pointer("address"), "value"]);
                    log.WriteProcess(20, 1, @"C:\b.exe", "b", Start.AddSeconds(1), is64Bit: true);
                    MonitorScenario.DeclareApis(log);
                    log.Call(
                        "NtAllocateVirtualMemory",
                        21,
                        0,
                        1,
                        -1073741819,
                        -1L,
                        0x7ff712340000L,
                        4096,
                        0x3000,
                        0x40
                    );
                    log.Call(
                        "RegOpenKeyExW",
                        21,
                        0,
                        1,
                        0,
                        -2147483646,
                        @"HKEY_LOCAL_MACHINE\Software",
                        0,
                        -1,
                        0x1234L
                    );
                    log.Call("Early", 21, 0, 1, 0, -1L, -5);
                }
            )
        );
        using var result = await RunAsync(analysis);
        var processes = result!.RootElement.GetProperty("processes");
        var call32 = processes[0].GetProperty("calls")[0];
        Assert.Equal(3221225477, call32.GetProperty("return_value").GetInt64());
        Assert.Equal(
            "0xffffffff",
            call32.GetProperty("arguments").GetProperty("process_handle").GetString()
        );
        Assert.Equal(
            "0x7efde000",
            call32.GetProperty("arguments").GetProperty("base_address").GetString()
        );

        var calls64 = processes[1].GetProperty("calls");
        Assert.Equal(-1073741819, calls64[0].GetProperty("return_value").GetInt64());
        Assert.Equal(
            "0xffffffffffffffff",
            calls64[0].GetProperty("arguments").GetProperty("process_handle").GetString()
        );
        Assert.Equal(
            "0x00007ff712340000",
            calls64[0].GetProperty("arguments").GetProperty("base_address").GetString()
        );
        Assert.Equal(
            "0xffffffff",
            calls64[1].GetProperty("arguments").GetProperty("access").GetString()
        ); // "x" stays 32-bit
        Assert.Equal(
            "0xffffffff",
            calls64[2].GetProperty("arguments").GetProperty("address").GetString()
        );
        Assert.Equal(
            4294967291,
            calls64[2].GetProperty("arguments").GetProperty("value").GetInt64()
        );
    }

    [Fact]
    public async Task Resolves_value_and_bitmask_flags_from_positional_arrays()
    {
        using var analysis = AnalysisWith(
            (
                "1.bson",
                log =>
                {
                    Process(log, 1, 0, @"C:\a.exe", 0);
                    log.Call("NtAllocateVirtualMemory", 2, 0, 1, 0, -1, 0, 4096, 0x3000, 0x40);
                    log.Call("NtAllocateVirtualMemory", 2, 0, 1, 0, -1, 0, 4096, 0x8, 0x1);
                    MonitorScenario.WriteFile(log, 2, 0, 0x50, @"C:\x.txt", [1, 2], create: true);
                    log.Call(
                        "RegSetValueExW",
                        2,
                        0,
                        1,
                        0,
                        0x60,
                        4,
                        @"HKEY_CURRENT_USER\Software\x\v",
                        new byte[] { 1, 0, 0, 0 }
                    );
                    log.Call(
                        "RegSetValueExW",
                        2,
                        0,
                        1,
                        0,
                        0x60,
                        99,
                        @"HKEY_CURRENT_USER\Software\x\w",
                        "text"
                    );
                }
            )
        );
        using var result = await RunAsync(analysis);
        var calls = result!.RootElement.GetProperty("processes")[0].GetProperty("calls");
        Assert.Equal(
            "MEM_COMMIT|MEM_RESERVE",
            calls[0].GetProperty("flags").GetProperty("allocation_type").GetString()
        );
        Assert.Equal(
            "PAGE_EXECUTE_READWRITE",
            calls[0].GetProperty("flags").GetProperty("protection").GetString()
        );
        Assert.Equal("", calls[1].GetProperty("flags").GetProperty("allocation_type").GetString());
        var create = calls[2].GetProperty("flags");
        Assert.Equal("FILE_CREATED", create.GetProperty("status_info").GetString());
        // 0xC0100080 as int32: C2 compares the unsigned value with the signed mask, so GENERIC_READ never matches.
        Assert.Equal("GENERIC_WRITE|SYNCHRONIZE", create.GetProperty("desired_access").GetString());
        Assert.Equal(
            "REG_DWORD",
            calls[5].GetProperty("flags").GetProperty("reg_type").GetString()
        );
        Assert.Equal(
            "\u0001\u0000\u0000\u0000",
            calls[5].GetProperty("arguments").GetProperty("value").GetString()
        );
        Assert.False(calls[6].GetProperty("flags").TryGetProperty("reg_type", out _));
    }

    [Fact]
    public async Task The_section_is_the_same_with_and_without_a_writer_thread()
    {
        // Several MB of calls, so the writer thread exchanges many of its 1 MiB buffers.
        static (string, Action<MonitorLogWriter>) BusyProcess(int pid, int ppid, string path) =>
            (
                $"{pid}.bson",
                log =>
                {
                    Process(log, pid, ppid, path, pid - 1);
                    for (var i = 0; i < 30_000; i++)
                    {
                        log.Call("NtClose", 2, i / 100, 1, 0, i);
                    }
                }
            );
        using var analysis = AnalysisWith(
            BusyProcess(1, 0, @"C:\a.exe"),
            BusyProcess(2, 1, @"C:\b.exe")
        );
        using var threaded = await RunAsync(
            analysis,
            options: new() { ["writer_thread_min_bytes"] = "0" }
        );
        using var inline = await RunAsync(
            analysis,
            options: new() { ["writer_thread_min_bytes"] = "1099511627776" }
        );
        var text = threaded!.RootElement.GetRawText();
        Assert.True(text.Length > 3_000_000, $"only {text.Length} bytes of output");
        Assert.Equal(
            60_000,
            threaded
                .RootElement.GetProperty("processes")
                .EnumerateArray()
                .Sum(p => p.GetProperty("calls").GetArrayLength())
        );
        Assert.Equal(text, inline!.RootElement.GetRawText());
    }

    [Fact]
    public async Task Writes_buffers_and_tags_the_next_call()
    {
        var payload = Enumerable.Range(0, 5000).Select(i => (byte)i).ToArray();
        using var analysis = AnalysisWith(
            (
                "1.bson",
                log =>
                {
                    Process(log, 1, 0, @"C:\a.exe", 0);
                    log.Call("NtClose", 2, 0, 1, 0, 4);
                    log.WriteBuffer(payload, checksum: "not-the-sha1");
                    log.Call("NtWriteFile", 2, 0, 1, 0, 8, Array.Empty<byte>(), 0L);
                    log.Call("NtClose", 2, 0, 1, 0, 8);
                }
            )
        );
        using var result = await RunAsync(analysis);
        var calls = result!.RootElement.GetProperty("processes")[0].GetProperty("calls");
        var sha1 = Convert.ToHexStringLower(System.Security.Cryptography.SHA1.HashData(payload));
        Assert.False(calls[0].TryGetProperty("buffer", out _));
        Assert.Equal(sha1, calls[1].GetProperty("buffer").GetString());
        Assert.False(calls[2].TryGetProperty("buffer", out _));
        Assert.Equal(payload, await File.ReadAllBytesAsync(analysis.Combine("buffer", sha1)));
    }

    [Fact]
    public async Task Summarises_file_registry_mutex_network_and_process_activity()
    {
        using var analysis = AnalysisWith(
            (
                "1.bson",
                log =>
                {
                    Process(log, 1, 0, @"C:\a.exe", 0);
                    MonitorScenario.WriteFile(log, 2, 1, 0x50, @"C:\new.txt", [1], create: true);
                    MonitorScenario.WriteFile(log, 2, 1, 0x54, @"C:\old.txt", [1], create: false);
                    log.Call("NtReadFile", 2, 1, 1, 0, 0x54, new byte[] { 1 }, 0L); // closed handle: no file_read
                    log.Call(
                        "NtCreateFile",
                        2,
                        1,
                        0,
                        unchecked((int)0xC0000034),
                        0x58,
                        0,
                        0,
                        1,
                        0,
                        0,
                        @"C:\missing.txt",
                        @"\??\C:\missing.txt",
                        5
                    );
                    log.Call("DeleteFileW", 2, 1, 1, 1, @"C:\old.txt", @"\??\C:\old.txt");
                    log.Call("LdrLoadDll", 2, 1, 1, 0, 0, 0x10000000, "ws2_32.dll", "ws2_32");
                    log.Call(
                        "RegOpenKeyExW",
                        2,
                        1,
                        1,
                        0,
                        unchecked((int)0x80000001),
                        @"HKEY_CURRENT_USER\Software\Hello",
                        0,
                        0xF003F,
                        0x70
                    );
                    log.Call(
                        "RegSetValueExW",
                        2,
                        1,
                        1,
                        0,
                        0x70,
                        1,
                        @"HKEY_CURRENT_USER\Software\Microsoft\Windows\CurrentVersion\Run\hello",
                        "\"C:\\hello.exe\" /autorun"
                    );
                    log.Call(
                        "RegQueryValueExW",
                        2,
                        1,
                        1,
                        0,
                        0x70,
                        @"HKEY_CURRENT_USER\Software\Hello\Name",
                        1,
                        "x"
                    );
                    log.Call("NtCreateMutant", 2, 1, 1, 0, 0x80, 0x1F0001, 0, "HelloMutex");
                    log.Call("NtCreateMutant", 2, 1, 1, 0, 0x84, 0x1F0001, 0, "");
                    log.Call("getaddrinfo", 2, 1, 1, 0, "example.org", "80");
                    log.Call("connect", 2, 1, 1, 0, 0x200, "93.184.216.34", 80);
                    log.Call("InternetConnectW", 2, 1, 1, 0, 0xCC0004, "example.org", 80);
                    log.Call(
                        "InternetOpenUrlW",
                        2,
                        1,
                        1,
                        0,
                        0xCC0004,
                        "http://example.org/payload.bin",
                        "",
                        0
                    );
                    log.Call(
                        "CreateProcessInternalW",
                        2,
                        1,
                        1,
                        1,
                        "",
                        @"C:\Windows\System32\cmd.exe",
                        0,
                        2100,
                        2101,
                        0x90,
                        0x94,
                        1
                    );
                }
            )
        );
        using var result = await RunAsync(analysis);
        var root = result!.RootElement;
        var summary = root.GetProperty("summary");
        string[] Values(string key) =>
            summary.GetProperty(key).EnumerateArray().Select(v => v.GetString()!).ToArray();
        Assert.Equal([@"C:\new.txt"], Values("file_created"));
        Assert.Equal([@"C:\old.txt"], Values("file_opened"));
        Assert.Equal([@"C:\new.txt", @"C:\old.txt"], Values("file_written"));
        Assert.False(summary.TryGetProperty("file_read", out _));
        Assert.Equal([@"C:\missing.txt"], Values("file_failed"));
        Assert.Equal([@"C:\old.txt"], Values("file_deleted"));
        Assert.Equal(["ws2_32.dll"], Values("dll_loaded"));
        Assert.Equal([@"HKEY_CURRENT_USER\Software\Hello"], Values("regkey_opened"));
        Assert.Single(Values("regkey_written"));
        Assert.Single(Values("regkey_read"));
        Assert.Equal(["HelloMutex"], Values("mutex"));
        Assert.Equal(["example.org"], Values("resolves_host"));
        Assert.Equal(["93.184.216.34"], Values("connects_ip"));
        Assert.Equal(["example.org"], Values("connects_host"));
        Assert.Equal(["http://example.org/payload.bin"], Values("fetches_url"));
        Assert.Equal([@"C:\Windows\System32\cmd.exe"], Values("command_line"));
        JsonAssert.Equal(summary, root.GetProperty("generic")[0].GetProperty("summary"));

        var reboot = await File.ReadAllLinesAsync(analysis.Combine("reboot.json"));
        Assert.Equal(2, reboot.Length);
        using var created = JsonDocument.Parse(reboot[1]);
        Assert.Equal("create_process", created.RootElement.GetProperty("category").GetString());
        Assert.Equal(@"C:\hello.exe", created.RootElement.GetProperty("args")[0].GetString());
        Assert.Equal("/autorun", created.RootElement.GetProperty("args")[1][0].GetString());
        Assert.Equal(1, created.RootElement.GetProperty("time").GetInt32()); // the day of the month (Q9)
    }

    [Fact]
    public async Task Calls_no_leaves_calls_empty_but_keeps_apistats()
    {
        using var analysis = AnalysisWith(
            (
                "1.bson",
                log =>
                {
                    Process(log, 1, 0, @"C:\a.exe", 0);
                    log.Call("NtClose", 2, 1, 1, 0, 4);
                }
            )
        );
        using var result = await RunAsync(analysis, options: new() { ["calls"] = "no" });
        var root = result!.RootElement;
        Assert.Equal(0, root.GetProperty("processes")[0].GetProperty("calls").GetArrayLength());
        Assert.Equal(
            1,
            root.GetProperty("apistats").GetProperty("1").GetProperty("NtClose").GetInt32()
        );
    }

    [Fact]
    public async Task An_empty_logs_folder_stores_nothing()
    {
        using var analysis = AnalysisWith();
        Assert.Null(await RunAsync(analysis));
        Assert.Equal(0, new FileInfo(analysis.Combine("reboot.json")).Length);
    }

    [Fact]
    public async Task A_log_over_the_size_limit_is_skipped_and_reported()
    {
        using var analysis = AnalysisWith(
            (
                "1.bson",
                log =>
                {
                    Process(log, 1, 0, @"C:\a.exe", 0);
                    log.Call("NtClose", 2, 1, 1, 0, 4);
                }
            ),
            ("2.bson", _ => { })
        );
        using var result = await RunAsync(
            analysis,
            processing: new() { ["analysis_size_limit"] = "100" }
        );
        var errors = result!
            .RootElement.GetProperty("errors")
            .EnumerateArray()
            .Select(e => e.GetString()!)
            .ToList();
        var error = Assert.Single(errors);
        Assert.Contains("logs/1.bson", error, StringComparison.Ordinal);
        Assert.Contains("analysis_size_limit", error, StringComparison.Ordinal);
        Assert.False(result.RootElement.TryGetProperty("processes", out _));
    }

    public static TheoryData<string, string> DamageCases =>
        new()
        {
            { "truncated", "truncated" },
            { "oversized", "over the 20971520-byte limit" },
            { "tiny", "below the BSON minimum" },
            { "short-prefix", "length prefix cut short" },
            { "garbage", "undecodable BSON document" },
            { "unknown-index", "unknown API index 4242" },
            { "argument-count", "has 3 argument(s), its info declares 3" },
        };

    [Theory]
    [MemberData(nameof(DamageCases))]
    public async Task Damage_keeps_what_came_before_and_reports_one_error_with_the_offset(
        string damage,
        string message
    )
    {
        long damageOffset = 0;
        using var analysis = AnalysisWith(
            (
                "1.bson",
                log =>
                {
                    Process(log, 1, 0, @"C:\a.exe", 0);
                    log.Call("NtClose", 2, 1, 1, 0, 4);
                    damageOffset = log.Position;
                    switch (damage)
                    {
                        case "truncated":
                            var doc = MonitorLogWriter.Encode([
                                ("I", log.IndexOf("NtClose")),
                                ("args", new List<object?> { 1, 0, 8 }),
                            ]);
                            log.WriteRaw(doc.AsSpan(0, doc.Length - 3));
                            break;
                        case "oversized":
                            log.WriteRaw(BitConverter.GetBytes(30 * 1024 * 1024));
                            log.WriteRaw(new byte[64]);
                            break;
                        case "tiny":
                            log.WriteRaw(BitConverter.GetBytes(3));
                            break;
                        case "short-prefix":
                            log.WriteRaw(new byte[] { 1, 2 });
                            break;
                        case "garbage":
                            var junk = new byte[40];
                            BinaryPrimitives.WriteInt32LittleEndian(junk, junk.Length);
                            junk[4] = 0x99; // unknown element type
                            log.WriteRaw(junk);
                            break;
                        case "unknown-index":
                            log.WriteCall(4242, 2, 1, [1, 0, 8]);
                            break;
                        case "argument-count":
                            log.WriteCall(log.IndexOf("NtClose"), 2, 1, [1, 0, 8, 9]);
                            break;
                    }
                    if (damage is "garbage" or "unknown-index" or "argument-count")
                    {
                        log.Call("NtClose", 2, 1, 1, 0, 12); // skipped damage: parsing goes on
                    }
                }
            )
        );
        using var result = await RunAsync(analysis);
        var root = result!.RootElement;
        var calls = root.GetProperty("processes")[0].GetProperty("calls");
        var continues = damage is "garbage" or "unknown-index" or "argument-count";
        Assert.Equal(continues ? 2 : 1, calls.GetArrayLength());
        Assert.Equal(
            "0x00000004",
            calls[0].GetProperty("arguments").GetProperty("handle").GetString()
        );
        Assert.Equal(
            continues ? 2 : 1,
            root.GetProperty("apistats").GetProperty("1").GetProperty("NtClose").GetInt32()
        );
        var error = Assert.Single(root.GetProperty("errors").EnumerateArray()).GetString()!;
        Assert.StartsWith("logs/1.bson: byte offset ", error, StringComparison.Ordinal);
        Assert.Contains(
            message.Replace("has 3", "has 4", StringComparison.Ordinal),
            error,
            StringComparison.Ordinal
        );
        var offset = long.Parse(
            error["logs/1.bson: byte offset ".Length..].Split(':')[0],
            System.Globalization.CultureInfo.InvariantCulture
        );
        Assert.InRange(offset, damageOffset, damageOffset + 8);
    }
}
