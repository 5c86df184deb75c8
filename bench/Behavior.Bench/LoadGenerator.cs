using Microkernel.Plugins.Behavior.Tests;

namespace Microkernel.Plugins.Behavior.Bench;

/// <summary>Writes a synthetic but realistic call mix: file, registry, memory, DLL and handle calls.</summary>
internal static class LoadGenerator
{
    public static long Write(string logsPath, int totalCalls, int processCount)
    {
        var start = new DateTime(2024, 5, 1, 12, 0, 0, DateTimeKind.Utc);
        var perProcess = totalCalls / processCount;
        long bytes = 0;
        var payload = new byte[64];
        new Random(1).NextBytes(payload);
        for (var p = 0; p < processCount; p++)
        {
            var pid = 1000 + p * 4;
            var path = Path.Combine(logsPath, $"{pid}.bson");
            using (var log = new MonitorLogWriter(new BufferedStream(File.Create(path), 1 << 20)))
            {
                log.WriteProcess(
                    pid,
                    p == 0 ? 500 : 1000,
                    $@"C:\Users\bench\proc{p}.exe",
                    $"proc{p}.exe --run",
                    start.AddSeconds(p),
                    is64Bit: p % 2 == 1,
                    tid: pid + 1
                );
                MonitorScenario.DeclareApis(log);
                var written = 0;
                var t = 0;
                while (written < perProcess)
                {
                    var handle = 0x100 + (written % 64) * 4;
                    switch (written % 10)
                    {
                        case 0:
                            log.Call(
                                "NtCreateFile",
                                pid + 1,
                                t,
                                1,
                                0,
                                handle,
                                unchecked((int)0xC0100080),
                                128,
                                2,
                                0x20,
                                1,
                                $@"C:\Users\bench\file{written % 500}.txt",
                                $@"\??\C:\Users\bench\file{written % 500}.txt",
                                2
                            );
                            break;
                        case 1:
                        case 2:
                            log.Call(
                                "NtWriteFile",
                                pid + 1,
                                t,
                                1,
                                0,
                                handle - 4 * (written % 10),
                                payload,
                                (long)written
                            );
                            break;
                        case 3:
                            log.Call(
                                "RegOpenKeyExW",
                                pid + 1,
                                t,
                                1,
                                0,
                                unchecked((int)0x80000001),
                                $@"HKEY_CURRENT_USER\Software\Bench\Key{written % 200}",
                                0,
                                0x20019,
                                0x300
                            );
                            break;
                        case 4:
                            log.Call(
                                "RegQueryValueExW",
                                pid + 1,
                                t,
                                1,
                                0,
                                0x300,
                                $@"HKEY_CURRENT_USER\Software\Bench\Key{written % 200}\Value",
                                1,
                                "data"
                            );
                            break;
                        case 5:
                            log.Call(
                                "NtAllocateVirtualMemory",
                                pid + 1,
                                t,
                                1,
                                0,
                                -1,
                                0x400000 + written,
                                4096,
                                0x3000,
                                0x40
                            );
                            break;
                        case 6:
                            log.Call(
                                "LdrLoadDll",
                                pid + 1,
                                t,
                                1,
                                0,
                                0,
                                0x10000000,
                                "kernel32.dll",
                                "kernel32"
                            );
                            break;
                        default:
                            log.Call("NtClose", pid + 1, t, 1, 0, handle);
                            break;
                    }
                    written++;
                    t += written % 3 == 0 ? 1 : 0;
                }
            }
            bytes += new FileInfo(path).Length;
        }
        return bytes;
    }
}
