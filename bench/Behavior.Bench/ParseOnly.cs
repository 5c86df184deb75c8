using System.Diagnostics;
using Microkernel.Plugins.Behavior.Monitor;

namespace Microkernel.Plugins.Behavior.Bench;

/// <summary>Times the bare parser over a log set (no summary, no output): the floor for the module.</summary>
internal static class ParseOnly
{
    public static void Run(string logs)
    {
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        long calls = 0;
        foreach (var path in Directory.GetFiles(logs))
        {
            using var parser = new MonitorLogParser(path, path, null, null);
            while (parser.Next(CancellationToken.None) is var kind && kind != MonitorEventKind.End)
            {
                calls += kind == MonitorEventKind.Call ? 1 : 0;
            }
        }
        var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds;
        Console.WriteLine(
            $"parse only: {calls:N0} calls in {watch.Elapsed.TotalSeconds:F2} s = {calls / watch.Elapsed.TotalSeconds:N0} calls/s wall, {calls / cpu:N0} calls per CPU-second"
        );
    }
}
