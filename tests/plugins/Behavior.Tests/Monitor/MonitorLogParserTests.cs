using Microkernel.Plugins.Behavior.Monitor;
using Microkernel.TestSupport;

namespace Microkernel.Plugins.Behavior.Tests.Monitor;

/// <summary>API indexes: small ones are kept by position, large ones by lookup; both must agree.</summary>
public sealed class MonitorLogParserTests
{
    [Fact]
    public void Calls_find_their_api_by_small_large_and_redeclared_indexes()
    {
        using var folder = TempDirectory.Create();
        var path = folder.Combine("1.bson");
        (string Api, int Index)[] apis =
        [
            ("NtClose", 3),
            ("NtOpenFile", 63),
            ("NtReadFile", 64), // past the first table size: the table grows
            ("NtWriteFile", 1000),
            ("NtDelayExecution", 4095), // the last index kept by position
            ("NtQueryKey", 4096), // the first one looked up
            ("NtCreateKey", 1 << 30),
        ];
        using (var log = MonitorLogWriter.Create(path))
        {
            log.WriteProcess(7, 1, @"C:\t\a.exe", "a.exe", new DateTime(2024, 5, 1));
            foreach (var (api, index) in apis)
            {
                log.DeclareApi(api, "misc", ["handle"], index: index);
            }
            foreach (var (_, index) in apis)
            {
                log.WriteCall(index, 8, 1, [1, 0, index]);
            }
            // An index declared again names another API from then on, like C2's dict.
            log.DeclareApi("NtTerminateProcess", "process", ["handle"], index: 63);
            log.DeclareApi("NtSuspendThread", "thread", ["handle"], index: 1 << 30);
            log.WriteCall(63, 8, 2, [1, 0, 63]);
            log.WriteCall(1 << 30, 8, 2, [1, 0, 1 << 30]);
            log.WriteCall(5, 8, 3, [1, 0, 5]); // never declared
        }

        using var parser = new MonitorLogParser(path, "logs/1.bson", null, null);
        var seen = new List<string>();
        MonitorEventKind kind;
        while ((kind = parser.Next(CancellationToken.None)) != MonitorEventKind.End)
        {
            if (kind == MonitorEventKind.Call)
            {
                seen.Add(parser.Info.Name);
            }
        }
        Assert.Equal([.. apis.Select(a => a.Api), "NtTerminateProcess", "NtSuspendThread"], seen);
        Assert.Contains("unknown API index 5", parser.Problems.Summary);
    }
}
