using static Microkernel.Plugins.Memory.Volatility.Field;

namespace Microkernel.Plugins.Memory.Volatility;

/// <summary>A plugin as <c>memory.conf</c> names it, the Volatility 3 plugin that replaces it and how its rows map.</summary>
internal sealed record VolatilityPlugin(
    string Name,
    string Volatility3,
    bool EnabledByDefault,
    bool FilterByDefault,
    Func<RowMapper> CreateMapper,
    bool InCuckoo
);

/// <summary>
/// The plugin list in Cuckoo 2.0's run order (<c>VolatilityManager.PLUGINS</c>) followed by the
/// Volatility 3 plugins Cuckoo did not have. Defaults follow Cuckoo's <c>memory.conf</c>; plugins
/// without a Volatility 3 counterpart are off. Field names follow Cuckoo's <c>memory.py</c>; see
/// docs/memory.md for the column-by-column mapping.
/// </summary>
internal static class VolatilityPlugins
{
    private static readonly string[] Pid = ["PID", "Pid"];

    private static readonly Field[] ProcessFields =
    [
        Text("process_name", "ImageFileName"),
        Int("process_id", "PID"),
        Int("parent_id", "PPID"),
        IntText("num_threads", "Threads"),
        IntText("num_handles", "Handles"),
        IntText("session_id", "SessionId"),
        TimeOrEmpty("create_time", "CreateTime"),
        TimeOrEmpty("exit_time", "ExitTime"),
    ];

    private static readonly Field[] KernelModuleFields =
    [
        Hex("kernel_module_offset", "Offset", "Offset(V)", "Offset(P)"),
        TextOr("kernel_module_name", "", "Name"),
        TextOr("kernel_module_file", "", "Path"),
        Hex("kernel_module_base", "Base"),
        Int("kernel_module_size", "Size"),
    ];

    public static IReadOnlyList<VolatilityPlugin> All { get; } =
    [
        new(
            "pslist",
            "windows.pslist.PsList",
            true,
            false,
            () => new FieldMapper(Pid, ProcessFields),
            true
        ),
        new(
            "psxview",
            "windows.malware.psxview.PsXView",
            true,
            false,
            () =>
                new FieldMapper(
                    Pid,
                    [
                        Text("process_name", "Name", "ImageFileName"),
                        Int("process_id", "PID"),
                        BoolText("pslist", "pslist"),
                        BoolText("psscan", "psscan"),
                        BoolText("thrdproc", "thrdscan", "thrdproc"),
                        BoolText("csrss", "csrss"),
                    ]
                ),
            true
        ),
        new(
            "callbacks",
            "windows.callbacks.Callbacks",
            true,
            false,
            () =>
                new FieldMapper(
                    Pid,
                    [
                        Text("type", "Type"),
                        Hex("callback", "Callback"),
                        TextOr("module", "UNKNOWN", "Module"),
                        TextOr("details", "-", "Detail"),
                    ]
                ),
            true
        ),
        new("idt", "windows.idt.IDT", false, false, () => new GenericMapper(), true),
        new("ssdt", "windows.ssdt.SSDT", true, true, () => new SsdtMapper(), true),
        new("gdt", "windows.gdt.GDT", false, true, () => new GenericMapper(), true),
        new(
            "timers",
            "windows.timers.Timers",
            true,
            false,
            () =>
                new FieldMapper(
                    Pid,
                    [
                        Hex("offset", "Offset"),
                        Text("due_time", "DueTime"),
                        Int("period", "Period(ms)", "Period"),
                        Text("signaled", "Signaled"),
                        Hex("routine", "Routine"),
                        TextOr("module", "UNKNOWN", "Module"),
                    ]
                ),
            true
        ),
        new(
            "messagehooks",
            "windows.messagehooks.MessageHooks",
            false,
            false,
            () => new GenericMapper(),
            true
        ),
        new(
            "getsids",
            "windows.getsids.GetSIDs",
            true,
            false,
            () =>
                new FieldMapper(
                    Pid,
                    [
                        Text("filename", "Process"),
                        Int("process_id", "PID"),
                        Text("sid_string", "SID"),
                        TextOr("sid_name", "", "Name"),
                    ]
                ),
            true
        ),
        new(
            "privs",
            "windows.privileges.Privs",
            true,
            false,
            () =>
                new FieldMapper(
                    Pid,
                    [
                        Int("process_id", "PID"),
                        Text("filename", "Process"),
                        Int("value", "Value"),
                        Text("privilege", "Privilege"),
                        TextOr("attributes", "", "Attributes"),
                        Text("description", "Description"),
                    ]
                ),
            true
        ),
        new(
            "malfind",
            "windows.malfind.Malfind",
            true,
            true,
            () =>
                new FieldMapper(
                    Pid,
                    [
                        Text("process_name", "Process"),
                        Int("process_id", "PID"),
                        Hex("vad_start", "Start VPN"),
                        Text("vad_tag", "Tag"),
                        Hex("vad_end", "End VPN"),
                        Text("protection", "Protection"),
                    ]
                ),
            true
        ),
        new(
            "apihooks",
            "windows.malware.apihooks.ApiHooks",
            false,
            true,
            () => new GenericMapper(),
            true
        ),
        new("dlllist", "windows.dlllist.DllList", true, true, () => new DllListMapper(), true),
        new(
            "handles",
            "windows.handles.Handles",
            true,
            true,
            () =>
                new FieldMapper(
                    Pid,
                    [
                        Int("process_id", "PID"),
                        IntText("handle_value", "HandleValue"),
                        IntText("handle_granted_access", "GrantedAccess"),
                        TextOr("handle_type", "", "Type"),
                        TextOr("handle_name", "", "Name"),
                    ]
                ),
            true
        ),
        new(
            "ldrmodules",
            "windows.ldrmodules.LdrModules",
            true,
            true,
            () =>
                new FieldMapper(
                    Pid,
                    [
                        Int("process_id", "Pid", "PID"),
                        Text("process_name", "Process"),
                        Hex("dll_base", "Base"),
                        Bool("dll_in_load", "InLoad"),
                        Bool("dll_in_init", "InInit"),
                        Bool("dll_in_mem", "InMem"),
                        TextOr("dll_mapped_path", "", "MappedPath"),
                        Constant("load_full_dll_name", ""),
                        Constant("init_full_dll_name", ""),
                        Constant("mem_full_dll_name", ""),
                    ]
                ),
            true
        ),
        new(
            "mutantscan",
            "windows.mutantscan.MutantScan",
            true,
            true,
            () =>
                new FieldMapper(
                    Pid,
                    [Hex("mutant_offset", "Offset"), TextOr("mutant_name", "", "Name")]
                ),
            true
        ),
        new(
            "devicetree",
            "windows.devicetree.DeviceTree",
            true,
            true,
            () => new GenericMapper(),
            true
        ),
        new(
            "svcscan",
            "windows.svcscan.SvcScan",
            true,
            true,
            () =>
                new FieldMapper(
                    Pid,
                    [
                        Hex("service_offset", "Offset"),
                        Int("service_order", "Order"),
                        Int("process_id", "PID"),
                        Text("service_name", "Name"),
                        Text("service_display_name", "Display"),
                        Text("service_type", "Type"),
                        Text("service_binary_path", "Binary"),
                        Text("service_state", "State"),
                    ]
                ),
            true
        ),
        new(
            "modscan",
            "windows.modscan.ModScan",
            true,
            true,
            () => new FieldMapper(Pid, KernelModuleFields),
            true
        ),
        // Needs a rules file: set `arguments = --yara-file /path/rules.yar` in [yarascan].
        new(
            "yarascan",
            "windows.vadyarascan.VadYaraScan",
            false,
            true,
            () => new GenericMapper(),
            true
        ),
        // Windows XP only in Volatility 2; Volatility 3 has no sockscan.
        new("sockscan", "windows.sockscan.SockScan", false, false, () => new GenericMapper(), true),
        new(
            "netscan",
            "windows.netscan.NetScan",
            true,
            false,
            () =>
                new FieldMapper(
                    Pid,
                    [
                        HexDigits("offset", 8, "Offset"),
                        IntText("process_id", "PID"),
                        Text("local_address", "LocalAddr"),
                        IntText("local_port", "LocalPort"),
                        Text("remote_address", "ForeignAddr"),
                        IntText("remote_port", "ForeignPort"),
                        Text("protocol", "Proto"),
                        Text("state", "State"),
                        Text("owner", "Owner"),
                        Text("created", "Created"),
                    ]
                ),
            true
        ),
        // Volatility 3 plugins Cuckoo 2.0 did not have (shapes documented in docs/memory.md).
        new(
            "psscan",
            "windows.psscan.PsScan",
            true,
            false,
            () =>
                new FieldMapper(
                    Pid,
                    [.. ProcessFields, Hex("offset", "Offset(V)", "Offset(P)", "Offset")]
                ),
            false
        ),
        new(
            "pstree",
            "windows.pstree.PsTree",
            true,
            false,
            () => new TreeMapper(Pid, ProcessFields),
            false
        ),
        new(
            "cmdline",
            "windows.cmdline.CmdLine",
            true,
            false,
            () =>
                new FieldMapper(
                    Pid,
                    [
                        Int("process_id", "PID"),
                        Text("process_name", "Process"),
                        TextOr("commandline", "", "Args"),
                    ]
                ),
            false
        ),
        new(
            "modules",
            "windows.modules.Modules",
            true,
            true,
            () => new FieldMapper(Pid, KernelModuleFields),
            false
        ),
    ];
}

/// <summary>
/// ssdt: Volatility 3 numbers entries across tables (<c>Index</c>); Cuckoo split that into the
/// table number (<c>index</c>) and <c>entry</c> = table * 0x1000 + slot, printed <c>{0:#06x}</c>.
/// </summary>
internal sealed class SsdtMapper : RowMapper
{
    public override void Map(System.Text.Json.JsonElement row, RowSink sink)
    {
        if (!sink.Accept(null))
        {
            return;
        }
        var w = sink.Writer;
        var index = Columns.Integer(row, "Index");
        w.WriteStartObject();
        if (index is { } i)
        {
            w.WriteNumber("index", i >> 12);
            w.WriteString(
                "entry",
                "0x" + i.ToString("x4", System.Globalization.CultureInfo.InvariantCulture)
            );
        }
        else
        {
            w.WriteNull("index");
            w.WriteNull("entry");
        }
        w.WriteString("syscall_name", Columns.Text(row, "Symbol") ?? "UNKNOWN");
        w.WriteString("syscall_addr", Columns.Hex(row, 0, "Address"));
        w.WriteString("syscall_modname", Columns.Text(row, "Module") ?? "UNKNOWN");
        w.WriteEndObject();
    }
}
