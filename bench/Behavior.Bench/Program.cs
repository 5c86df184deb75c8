using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microkernel.Contracts;
using Microkernel.Plugins.Behavior;
using Microkernel.Plugins.Behavior.Bench;
using Microkernel.Plugins.Behavior.Tests;
using Microsoft.Extensions.Logging.Abstractions;

// Usage:
//   Behavior.Bench [calls=1000000] [processes=10]   generate a log set, then measure calls=yes and calls=no
//   Behavior.Bench measure <analysis> <yes|no>        one measurement (run in a child process for a clean peak)
//   Behavior.Bench sample <analysis folder>           write the sample monitor logs (samples/analyses/1/logs)
if (args.Length > 0 && args[0] == "sample")
{
    SampleGenerator.Write(args[1]);
    Console.WriteLine($"sample logs written to {Path.Combine(args[1], "logs")}");
    return 0;
}
if (args.Length > 0 && args[0] == "measure")
{
    return await Measure(args[1], args[2] == "yes");
}

var totalCalls = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1_000_000;
var processCount = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 10;
var analysis = Path.Combine(Path.GetTempPath(), "behavior-bench-" + Environment.ProcessId);
Directory.CreateDirectory(Path.Combine(analysis, "logs"));
try
{
    var generate = Stopwatch.StartNew();
    var bytes = LoadGenerator.Write(Path.Combine(analysis, "logs"), totalCalls, processCount);
    Console.WriteLine(
        $"generated {totalCalls:N0} calls over {processCount} processes: {bytes / 1048576.0:F1} MiB of BSON in {generate.Elapsed.TotalSeconds:F1} s"
    );
    ParseOnly.Run(Path.Combine(analysis, "logs"));
    foreach (var calls in new[] { "no", "yes" })
    {
        var child = Process.Start(
            new ProcessStartInfo(Environment.ProcessPath!)
            {
                ArgumentList =
                {
                    typeof(LoadGenerator).Assembly.Location,
                    "measure",
                    analysis,
                    calls,
                },
                UseShellExecute = false,
            }
        )!;
        await child.WaitForExitAsync();
    }
}
finally
{
    Directory.Delete(analysis, recursive: true);
}
return 0;

static async Task<int> Measure(string analysis, bool includeCalls)
{
    var scratch = Path.Combine(analysis, "scratch-" + (includeCalls ? "calls" : "nocalls"));
    Directory.CreateDirectory(scratch);
    var context = new ProcessingContext(
        analysis,
        new TaskInfo { Id = 1, Category = "file" },
        new ModuleOptions(
            "behavior",
            new Dictionary<string, string> { ["calls"] = includeCalls ? "yes" : "no" }
        ),
        NullLogger.Instance,
        new NoResults(),
        scratch,
        analysis,
        ModuleOptions.Empty("processing")
    );
    var module = new BehaviorAnalysis();
    module.Initialize(context);
    var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
    var watch = Stopwatch.StartNew();
    var result = (JsonSection)(await module.RunAsync(CancellationToken.None))!;
    watch.Stop();
    var peak = Process.GetCurrentProcess().PeakWorkingSet64;
    var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds;
    var size = new FileInfo(result.FilePath!).Length;
    using (var stream = File.OpenRead(result.FilePath!))
    using (var doc = await JsonDocument.ParseAsync(stream))
    {
        var calls = doc
            .RootElement.GetProperty("apistats")
            .EnumerateObject()
            .Sum(p => p.Value.EnumerateObject().Sum(a => a.Value.GetInt64()));
        var seconds = watch.Elapsed.TotalSeconds;
        Console.WriteLine(
            $"calls={(includeCalls ? "yes" : "no "), -3}  {calls:N0} calls in {seconds:F2} s = {calls / seconds:N0} calls/s wall, {calls / cpu:N0} calls per CPU-second; "
                + $"section {size / 1048576.0:F1} MiB; peak working set {peak / 1048576.0:F0} MiB"
        );
    }
    File.Delete(result.FilePath!);
    return 0;
}

internal sealed class NoResults : IProcessingResults
{
    public IReadOnlyList<string> Keys => [];

    public bool Contains(string key) => false;

    public bool TryGetSection(string key, out JsonElement section)
    {
        section = default;
        return false;
    }

    public Stream? OpenSection(string key) => null;
}
