using System.Text;
using Microkernel.Plugins.Behavior.Tests;

namespace Microkernel.Plugins.Behavior.Bench;

/// <summary>
/// Writes the monitor logs of samples/analyses/1: hello.exe (pid 2044, started 2026-11-29 10:00:02.781
/// UTC as analysis.log says) drops a file, sets a Run key, takes a mutex, talks to example.org and
/// starts a child cmd.exe (pid 2100) that pings localhost. Run:
/// <c>dotnet run --project bench/Behavior.Bench -- sample samples/analyses/1</c>.
/// </summary>
internal static class SampleGenerator
{
    public static void Write(string analysisPath)
    {
        var logs = Path.Combine(analysisPath, "logs");
        Directory.CreateDirectory(logs);
        var start = new DateTime(2026, 11, 29, 10, 0, 2, 781, DateTimeKind.Utc);
        const string hello = @"C:\Users\analyst\AppData\Local\Temp\hello.exe";
        const string cmd = @"C:\Windows\SysWOW64\cmd.exe";
        const string dropped = @"C:\Users\analyst\AppData\Roaming\hello\config.ini";

        using (var log = MonitorLogWriter.Create(Path.Combine(logs, "2044.bson")))
        {
            log.WriteProcess(
                2044,
                1876,
                hello,
                $"\"{hello}\"",
                start,
                tid: 2048,
                modules:
                [
                    (hello, 0x400000, 0x9000),
                    (@"C:\Windows\SysWOW64\kernel32.dll", 0x75bf0000, 0x110000),
                ]
            );
            MonitorScenario.DeclareApis(log);
            log.Call("LdrLoadDll", 2048, 15, 1, 0, 0, 0x74d00000, "ws2_32.dll", "ws2_32");
            log.Call(
                "NtCreateMutant",
                2048,
                16,
                1,
                0,
                0x40,
                0x1F0001,
                0,
                "Global\\HelloSampleMutex"
            );
            MonitorScenario.WriteFile(
                log,
                2048,
                20,
                0x50,
                dropped,
                Encoding.ASCII.GetBytes("[hello]\r\nserver=example.org\r\n"),
                create: true
            );
            log.Call(
                "RegOpenKeyExW",
                2048,
                31,
                1,
                0,
                unchecked((int)0x80000001),
                @"HKEY_CURRENT_USER\Software\Microsoft\Windows\CurrentVersion\Run",
                0,
                0x20006,
                0x60
            );
            log.Call(
                "RegSetValueExW",
                2048,
                31,
                1,
                0,
                0x60,
                1,
                @"HKEY_CURRENT_USER\Software\Microsoft\Windows\CurrentVersion\Run\hello",
                $"\"{hello}\" /autorun"
            );
            log.Call(
                "RegQueryValueExW",
                2048,
                32,
                1,
                0,
                0x64,
                @"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProductName",
                1,
                "Windows 7 Professional"
            );
            log.Call("NtClose", 2048, 32, 1, 0, 0x60);
            log.Call("getaddrinfo", 2048, 40, 1, 0, "example.org", "80");
            log.Call("connect", 2048, 95, 1, 0, 0x1c4, "93.184.216.34", 80);
            log.Call("InternetConnectW", 2048, 96, 1, 0, 0xcc0004, "example.org", 80);
            log.Call(
                "InternetOpenUrlW",
                2048,
                97,
                1,
                0,
                0xcc0008,
                "http://example.org/hello/update.txt",
                "",
                0
            );
            log.Call("NtAllocateVirtualMemory", 2048, 110, 1, 0, -1, 0x3e0000, 4096, 0x3000, 0x04);
            log.Call(
                "CreateProcessInternalW",
                2048,
                120,
                1,
                1,
                "cmd.exe /c ping -n 1 127.0.0.1",
                "",
                0x4,
                2100,
                2104,
                0x1c8,
                0x1cc,
                1
            );
        }

        using (var log = MonitorLogWriter.Create(Path.Combine(logs, "2100.bson")))
        {
            log.WriteProcess(
                2100,
                2044,
                cmd,
                "cmd.exe /c ping -n 1 127.0.0.1",
                start.AddMilliseconds(135),
                tid: 2104,
                modules: [(cmd, 0x4a560000, 0x5b000)]
            );
            MonitorScenario.DeclareApis(log);
            log.Call(
                "NtCreateFile",
                2104,
                4,
                1,
                0,
                0x30,
                unchecked((int)0x80100080),
                0,
                1,
                0x60,
                1,
                @"C:\Windows\SysWOW64\ping.exe",
                @"\??\C:\Windows\SysWOW64\ping.exe",
                1
            );
            log.Call("NtReadFile", 2104, 5, 1, 0, 0x30, Encoding.ASCII.GetBytes("MZ"), 0L);
            log.Call("NtClose", 2104, 5, 1, 0, 0x30);
            log.Call(
                "CreateProcessInternalW",
                2104,
                9,
                1,
                1,
                "ping  -n 1 127.0.0.1",
                @"C:\Windows\SysWOW64\PING.EXE",
                0,
                2112,
                2116,
                0x40,
                0x44,
                0
            );
        }
    }
}
