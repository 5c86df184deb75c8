using static Microkernel.Plugins.Behavior.Tests.MonitorLogWriter;

namespace Microkernel.Plugins.Behavior.Tests;

/// <summary>
/// A typical monitor API set (names, argument lists and flag tables as Cuckoo's monitor declares
/// them) and helpers that write realistic activity with it. Shared by tests, bench and sample generator.
/// </summary>
public static class MonitorScenario
{
    public const long StatusFileCreated = 2;
    public const long StatusFileOpened = 1;

    private static readonly (long, string)[] FileStatus =
    [
        (0, "FILE_SUPERSEDED"),
        (1, "FILE_OPENED"),
        (2, "FILE_CREATED"),
        (3, "FILE_OVERWRITTEN"),
        (4, "FILE_EXISTS"),
        (5, "FILE_DOES_NOT_EXIST"),
    ];

    private static readonly (long, string)[] AccessMasks =
    [
        (0x80000000, "GENERIC_READ"),
        (0x40000000, "GENERIC_WRITE"),
        (0x00010000, "DELETE"),
        (0x00100000, "SYNCHRONIZE"),
        (0x00000001, "FILE_READ_DATA"),
        (0x00000002, "FILE_WRITE_DATA"),
    ];

    private static readonly (long, string)[] RegTypes =
    [
        (1, "REG_SZ"),
        (3, "REG_BINARY"),
        (4, "REG_DWORD"),
    ];

    private static readonly (long, string)[] Protection =
    [
        (0x04, "PAGE_READWRITE"),
        (0x20, "PAGE_EXECUTE_READ"),
        (0x40, "PAGE_EXECUTE_READWRITE"),
    ];

    private static readonly (long, string)[] Allocation =
    [
        (0x1000, "MEM_COMMIT"),
        (0x2000, "MEM_RESERVE"),
    ];

    /// <summary>Declares the API set (after <c>__process__</c>, so 64-bit processes get 64-bit converters).</summary>
    public static void DeclareApis(MonitorLogWriter log)
    {
        log.DeclareApi(
            "NtCreateFile",
            "file",
            [
                Pointer("file_handle"),
                Hex("desired_access"),
                "file_attributes",
                "create_disposition",
                "create_options",
                "share_access",
                "filepath",
                "filepath_r",
                "status_info",
            ],
            flagsValue: [("status_info", FileStatus), ("desired_access", [])],
            flagsBitmask: [("desired_access", AccessMasks)]
        );
        log.DeclareApi("NtWriteFile", "file", [Pointer("file_handle"), "buffer", "offset"]);
        log.DeclareApi("NtReadFile", "file", [Pointer("file_handle"), "buffer", "offset"]);
        log.DeclareApi("NtClose", "system", [Pointer("handle")]);
        log.DeclareApi("DeleteFileW", "file", ["filepath", "filepath_r"]);
        log.DeclareApi(
            "LdrLoadDll",
            "system",
            ["flags", Pointer("module_address"), "module_name", "basename"]
        );
        log.DeclareApi(
            "RegOpenKeyExW",
            "registry",
            [Pointer("base_handle"), "regkey", "options", Hex("access"), Pointer("key_handle")]
        );
        log.DeclareApi(
            "RegSetValueExW",
            "registry",
            [Pointer("key_handle"), "reg_type", "regkey", "value"],
            flagsValue: [("reg_type", RegTypes)]
        );
        log.DeclareApi(
            "RegQueryValueExW",
            "registry",
            [Pointer("key_handle"), "regkey", "reg_type", "data"]
        );
        log.DeclareApi(
            "NtCreateMutant",
            "synchronisation",
            [Pointer("mutant_handle"), Hex("desired_access"), "initial_owner", "mutant_name"]
        );
        log.DeclareApi("getaddrinfo", "network", ["hostname", "service_name"]);
        log.DeclareApi("connect", "network", ["socket", "ip_address", "port"]);
        log.DeclareApi(
            "InternetConnectW",
            "network",
            [Pointer("internet_handle"), "hostname", "port"]
        );
        log.DeclareApi(
            "InternetOpenUrlW",
            "network",
            [Pointer("internet_handle"), "url", "headers", "flags"]
        );
        log.DeclareApi(
            "CreateProcessInternalW",
            "process",
            [
                "command_line",
                "filepath",
                "creation_flags",
                "process_identifier",
                "thread_identifier",
                Pointer("process_handle"),
                Pointer("thread_handle"),
                "track",
            ]
        );
        log.DeclareApi(
            "NtAllocateVirtualMemory",
            "process",
            [
                Pointer("process_handle"),
                Pointer("base_address"),
                "region_size",
                "allocation_type",
                "protection",
            ],
            flagsValue: [("protection", []), ("allocation_type", [])],
            flagsBitmask: [("protection", Protection), ("allocation_type", Allocation)]
        );
    }

    /// <summary>Creates or opens a file, writes to it and closes it (handle chosen by the caller).</summary>
    public static void WriteFile(
        MonitorLogWriter log,
        int tid,
        int t,
        int handle,
        string path,
        byte[] data,
        bool create
    )
    {
        log.Call(
            "NtCreateFile",
            tid,
            t,
            1,
            0,
            handle,
            unchecked((int)0xC0100080),
            128,
            create ? 2 : 1,
            0x20,
            1,
            path,
            @"\??\" + path,
            (int)(create ? StatusFileCreated : StatusFileOpened)
        );
        log.Call("NtWriteFile", tid, t, 1, 0, handle, data, 0L);
        log.Call("NtClose", tid, t, 1, 0, handle);
    }
}
