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
//   Behavior.Bench measure <analysis> <yes|no> [out]  one measurement (run in a child process for a clean peak);
//                                                    out keeps the section (to diff the output of two builds)
//   Behavior.Bench sample <analysis folder>           write the sample monitor logs (samples/analyses/1/logs)
//   Behavior.Bench parse <analysis>                   time the bare parser over an analysis's logs
//   Behavior.Bench generate <analysis> [calls] [processes]  only write the load logs (for profiling with measure)
if (args.Length > 0 && args[0] == "sample")
{
    SampleGenerator.Write(args[1]);
    Console.WriteLine($"sample logs written to {Path.Combine(args[1], "logs")}");
    return 0;
}
if (args.Length > 0 && args[0] == "generate")
{
    Directory.CreateDirectory(Path.Combine(args[1], "logs"));
    var written = LoadGenerator.Write(
        Path.Combine(args[1], "logs"),
        args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 1_000_000,
        args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 10
    );
    Console.WriteLine(
        $"{written / 1048576.0:F1} MiB of BSON written to {Path.Combine(args[1], "logs")}"
    );
    return 0;
}
if (args.Length > 0 && args[0] == "parse")
{
    ParseOnly.Run(Path.Combine(args[1], "logs"));
    return 0;
}
if (args.Length > 0 && args[0] == "measure")
{
    // BENCH_REPEAT=n measures n runs in one process: the later ones show the steady state
    // without JIT and tiering (the first run is what a real analysis pays).
    var repeat = int.TryParse(Environment.GetEnvironmentVariable("BENCH_REPEAT"), out var n)
        ? n
        : 1;
    for (var run = 1; run < repeat; run++)
    {
        await Measure(args[1], args[2] == "yes", keepAs: null);
    }
    return await Measure(args[1], args[2] == "yes", keepAs: args.Length > 3 ? args[3] : null);
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

static async Task<int> Measure(string analysis, bool includeCalls, string? keepAs)
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
    var threadBefore = ThreadCpuSeconds();
    var jitBefore = (
        System.Runtime.JitInfo.GetCompiledMethodCount(),
        System.Runtime.JitInfo.GetCompilationTime(),
        System.Runtime.JitInfo.GetCompilationTime(currentThread: true)
    );
    var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
    var gcBefore = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
    var watch = Stopwatch.StartNew();
    var result = (JsonSection)(await module.RunAsync(CancellationToken.None))!;
    watch.Stop();
    var peak = Process.GetCurrentProcess().PeakWorkingSet64;
    var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds;
    var threadCpu = ThreadCpuSeconds() - threadBefore;
    var jit =
        $"JIT {System.Runtime.JitInfo.GetCompiledMethodCount() - jitBefore.Item1} methods in {(System.Runtime.JitInfo.GetCompilationTime() - jitBefore.Item2).TotalSeconds:F2} s"
        + $" ({(System.Runtime.JitInfo.GetCompilationTime(currentThread: true) - jitBefore.Item3).TotalSeconds:F2} s on the module thread)";
    var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
    var collections =
        $"gen0/1/2 {GC.CollectionCount(0) - gcBefore.Item1}/{GC.CollectionCount(1) - gcBefore.Item2}/{GC.CollectionCount(2) - gcBefore.Item3}";
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
            $"calls={(includeCalls ? "yes" : "no "), -3}  {calls:N0} calls in {seconds:F2} s = {calls / seconds:N0} calls/s wall, {calls / cpu:N0} calls per CPU-second "
                + $"({cpu:F2} CPU-s; module thread {threadCpu:F2} s = {calls / threadCpu:N0} calls/s); section {size / 1048576.0:F1} MiB; peak working set {peak / 1048576.0:F0} MiB; "
                + $"allocated {allocated / 1048576.0:F0} MiB, {collections}; {jit}"
        );
    }
    if (keepAs is null)
    {
        File.Delete(result.FilePath!);
    }
    else
    {
        File.Move(result.FilePath!, keepAs, overwrite: true);
    }
    return 0;
}

// CPU time of the calling thread, which runs the module (RunAsync completes synchronously); the
// rest of the process CPU is the JIT's tiering thread and the GC. On an idle 2-core machine the
// module thread's CPU time is what the wall clock shows.
static double ThreadCpuSeconds()
{
    try
    {
        var fields = File.ReadAllText("/proc/thread-self/schedstat").Split(' ');
        return long.Parse(fields[0], CultureInfo.InvariantCulture) / 1e9;
    }
    catch (IOException)
    {
        return double.NaN;
    }
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
