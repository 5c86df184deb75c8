using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microkernel.Plugins.Memory.Volatility;

// Memory module benchmarks (run: dotnet run -c Release --project bench/Memory.Bench [megabytes]).
//  1. Host overhead per Volatility plugin: one plugin run through VolatilityRunner (CliWrap, pipes,
//     JSON reader, mapper) minus the same FakeVol invocation started bare with Process.
//  2. Throughput: FakeVol prints N MB of pslist rows; the runner streams and maps them into a
//     section file. Also the reader alone over the same bytes from a file.
// Peak memory: the GC's managed heap peak and the process's peak working set.

Console.WriteLine(
    $"Load average: {(File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "n/a")}; {Environment.ProcessorCount} cores"
);

// The JIT settings decide the first round's figure (host/HostRuntime.props); an environment
// variable overrides the runtimeconfig, so both are shown.
var jitVariables = Environment
    .GetEnvironmentVariables()
    .Keys.Cast<string>()
    .Where(name => name.StartsWith("DOTNET_T", StringComparison.Ordinal))
    .Order()
    .Select(name => $"{name}={Environment.GetEnvironmentVariable(name)}")
    .DefaultIfEmpty("none");
Console.WriteLine(
    $"Runtime: TieredPGO {AppContext.GetData("System.Runtime.TieredPGO") ?? "default"}, "
        + $"CallCountingDelayMs {AppContext.GetData("System.Runtime.TieredCompilation.CallCountingDelayMs") ?? "default"}; "
        + $"environment: {string.Join(' ', jitVariables)}"
);
var megabytes = args.Length > 0 ? double.Parse(args[0], CultureInfo.InvariantCulture) : 100;

// "stream" as a second argument runs only the end-to-end rounds (for profiling); a third argument
// is where to keep the section written (to diff it between versions).
var streamOnly = args.Length > 1 && args[1] == "stream";
var keepSection = args.Length > 2 ? args[2] : null;
var root = FindRoot();
var configuration = AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal)
    ? "Release"
    : "Debug";
var fakeVol = Path.Combine(
    root,
    "tests",
    "FakeVol",
    "bin",
    configuration,
    "net10.0",
    OperatingSystem.IsWindows() ? "FakeVol.exe" : "FakeVol"
);
var work = Directory.CreateTempSubdirectory("memory-bench-").FullName;
try
{
    // "mappers" as the second argument: every plugin's mapper over its recorded reply, its rows
    // repeated to N MB, read from a file (no tool), twice: first use in this process, then again.
    if (args.Length > 1 && args[1] == "mappers")
    {
        await BenchMappersAsync(root, work, megabytes);
        PrintPeakMemory();
        return;
    }

    var emptyScenario = Path.Combine(work, "empty.dmp");
    File.WriteAllText(emptyScenario, "{}");
    var hugeScenario = Path.Combine(work, "huge.dmp");
    File.WriteAllText(
        hugeScenario,
        $"{{\"default\": {{\"mode\": \"huge\", \"megabytes\": {megabytes.ToString(CultureInfo.InvariantCulture)}}}}}"
    );
    string[] Args(string dump) => ["-q", "-r", "json", "-f", dump, "windows.pslist.PsList"];

    // Warm up both paths (JIT, disk cache).
    for (var i = 0; i < 3; i++)
    {
        RunBare(fakeVol, Args(emptyScenario));
        await RunPluginAsync(fakeVol, Args(emptyScenario), work, Stream.Null);
    }

    var Runs = streamOnly ? 1 : 20;
    var bare = new List<double>();
    var hosted = new List<double>();
    for (var i = 0; i < Runs; i++)
    {
        bare.Add(RunBare(fakeVol, Args(emptyScenario)));
        var stopwatch = Stopwatch.StartNew();
        await RunPluginAsync(fakeVol, Args(emptyScenario), work, Stream.Null);
        hosted.Add(stopwatch.Elapsed.TotalMilliseconds);
    }
    bare.Sort();
    hosted.Sort();
    Console.WriteLine(
        $"Per-plugin cost over {Runs} runs (median): bare Process {bare[Runs / 2]:0.0} ms, through VolatilityRunner {hosted[Runs / 2]:0.0} ms"
    );
    Console.WriteLine(
        $"  host overhead per plugin: {hosted[Runs / 2] - bare[Runs / 2]:0.0} ms (median), {hosted.Average() - bare.Average():0.0} ms (mean)"
    );

    // Tool alone: FakeVol writing N MB into a pipe that is read and thrown away.
    var toolOnly = Stopwatch.StartNew();
    RunBare(fakeVol, Args(hugeScenario));
    toolOnly.Stop();

    // Three rounds: the first runs partly unoptimised (tier-0) code; a long-running host is in
    // the steady state of the later ones.
    var sectionPath = Path.Combine(work, "section.json");
    PluginRun run = default!;
    TimeSpan firstRow = default;
    double mb = 0;
    // MEMORY_BENCH_ROUNDS=1: the cold round only (to profile it).
    var rounds = int.TryParse(
        Environment.GetEnvironmentVariable("MEMORY_BENCH_ROUNDS"),
        CultureInfo.InvariantCulture,
        out var wanted
    )
        ? wanted
        : 3;
    for (var round = 0; round < rounds; round++)
    {
        GC.Collect();
        using var current = Process.GetCurrentProcess();
        var cpuStart = current.TotalProcessorTime;
        var childCpuStart = ChildrenCpuSeconds();
        var jitStart = System.Runtime.JitInfo.GetCompilationTime();
        var jitMethodsStart = System.Runtime.JitInfo.GetCompiledMethodCount();
        var throughput = Stopwatch.StartNew();
        await using (var section = File.Create(sectionPath))
        {
            (run, firstRow) = await RunPluginAsync(fakeVol, Args(hugeScenario), work, section);
        }
        throughput.Stop();
        current.Refresh();
        var hostCpu = (current.TotalProcessorTime - cpuStart).TotalSeconds;
        var toolCpu = ChildrenCpuSeconds() - childCpuStart;
        var jit = (System.Runtime.JitInfo.GetCompilationTime() - jitStart).TotalSeconds;
        var jitMethods = System.Runtime.JitInfo.GetCompiledMethodCount() - jitMethodsStart;
        mb = run.OutputBytes / (1024.0 * 1024.0);
        // Reading: from the first row to the end, i.e. without the tool's own start-up (FakeVol
        // is a .NET program: 60-150 ms before it prints anything).
        var reading = throughput.Elapsed - firstRow;
        Console.WriteLine(
            $"Streaming {mb:0.0} MB ({run.Rows} rows, outcome {run.Outcome}) through CliWrap + reader + pslist mapper: wall {throughput.Elapsed.TotalSeconds:0.000} s = {mb / throughput.Elapsed.TotalSeconds:0} MB/s; reading (first row to end) {reading.TotalSeconds:0.000} s = {mb / reading.TotalSeconds:0} MB/s; host CPU {hostCpu:0.000} s = {mb / hostCpu:0} MB/s per core; FakeVol CPU {toolCpu:0.000} s; JIT {jit:0.000} s for {jitMethods} methods"
        );
    }
    Console.WriteLine(
        $"  FakeVol alone producing the same output into a drained pipe: {toolOnly.Elapsed.TotalSeconds:0.000} s = {mb / toolOnly.Elapsed.TotalSeconds:0} MB/s"
    );
    if (keepSection is not null)
    {
        File.Copy(sectionPath, keepSection, overwrite: true);
    }
    Console.WriteLine(
        $"  section written: {new FileInfo(sectionPath).Length / (1024.0 * 1024.0):0.0} MB"
    );

    if (streamOnly)
    {
        PrintPeakMemory();
        return;
    }

    // Reader alone, from a file holding the tool's output.
    var recorded = Path.Combine(work, "recorded.json");
    await using (var output = File.Create(recorded))
    {
        using var process = Process.Start(
            new ProcessStartInfo(fakeVol)
            {
                RedirectStandardOutput = true,
                ArgumentList = { "-f", hugeScenario },
            }
        )!;
        await process.StandardOutput.BaseStream.CopyToAsync(output);
        await process.WaitForExitAsync();
    }
    var fileMb = new FileInfo(recorded).Length / (1024.0 * 1024.0);
    // Three rounds each, so the numbers are for optimised (tier-1) code, as in a long-running host.
    for (var pass = 0; pass < 6; pass++)
    {
        var map = pass >= 3;
        var (wall, cpu, rows) = await MapFileAsync(
            recorded,
            map ? VolatilityPlugins.All.Single(p => p.Name == "pslist").CreateMapper() : null
        );
        Console.WriteLine(
            $"{(map ? "Reader + pslist mapper" : "Reader alone (index rows)")} over a {fileMb:0.0} MB file: wall {wall:0.000} s = {fileMb / wall:0} MB/s; CPU {cpu:0.000} s = {fileMb / cpu:0} MB/s per core ({rows} rows)"
        );
    }

    PrintPeakMemory();
}
finally
{
    Directory.Delete(work, recursive: true);
}

static async Task BenchMappersAsync(string root, string work, double megabytes)
{
    var recordedReplies = Path.Combine(root, "tests", "plugins", "Memory.Tests", "Recorded");
    foreach (var plugin in VolatilityPlugins.All)
    {
        var reply = Path.Combine(recordedReplies, plugin.Name + ".json");
        if (!File.Exists(reply))
        {
            continue;
        }
        var input = Path.Combine(work, plugin.Name + ".json");
        WriteRepeatedRows(
            await File.ReadAllBytesAsync(reply),
            input,
            (long)(megabytes * 1024 * 1024)
        );
        var mb = new FileInfo(input).Length / (1024.0 * 1024.0);
        for (var pass = 1; pass <= 2; pass++)
        {
            var (wall, cpu, rows) = await MapFileAsync(input, plugin.CreateMapper());
            Console.WriteLine(
                $"{plugin.Name, -12} pass {pass}: {mb:0.0} MB, {rows} rows: wall {wall:0.000} s = {mb / wall:0} MB/s; CPU {cpu:0.000} s = {mb / cpu:0} MB/s per core"
            );
        }
        File.Delete(input);
    }
}

// The reader over a file of tool output, and `mapper` (if any) over its rows into a discarded
// section: wall and CPU seconds, and the rows read.
static async Task<(double Wall, double Cpu, long Rows)> MapFileAsync(string path, RowMapper? mapper)
{
    using var me = Process.GetCurrentProcess();
    var cpuBefore = me.TotalProcessorTime;
    var wall = Stopwatch.StartNew();
    var reader = new JsonRowReader(16 << 20, long.MaxValue);
    await using (var sink = new Utf8JsonWriter(Stream.Null))
    {
        var rowSink = new RowSink(sink, _ => true);
        sink.WriteStartArray();
        await using var input = new FileStream(
            path,
            FileMode.Open,
            FileAccess.Read,
            FileShare.Read,
            1 << 16
        );
        await reader.ReadRowsAsync(
            input,
            row =>
            {
                if (mapper is not null)
                {
                    mapper.Map(row, rowSink);
                    rowSink.FlushIfFull();
                }
            },
            CancellationToken.None
        );
        mapper?.Complete(rowSink);
        sink.WriteEndArray();
    }
    wall.Stop();
    me.Refresh();
    return (
        wall.Elapsed.TotalSeconds,
        (me.TotalProcessorTime - cpuBefore).TotalSeconds,
        reader.Rows
    );
}

// A recorded reply's top-level rows, repeated (in order) until the array holds at least `target`
// bytes: the same columns and values as the real tool's output, in any quantity.
static void WriteRepeatedRows(byte[] reply, string path, long target)
{
    using var document = JsonDocument.Parse(reply);
    var rows = document
        .RootElement.EnumerateArray()
        .Select(row => System.Text.Encoding.UTF8.GetBytes(row.GetRawText()))
        .ToList();
    using var output = new FileStream(
        path,
        FileMode.Create,
        FileAccess.Write,
        FileShare.None,
        1 << 20
    );
    output.Write("[\n"u8);
    if (rows.Count == 0)
    {
        output.Write("]\n"u8);
        return;
    }
    var first = true;
    while (output.Length < target)
    {
        foreach (var row in rows)
        {
            if (!first)
            {
                output.Write(",\n"u8);
            }
            first = false;
            output.Write(row);
        }
    }
    output.Write("\n]\n"u8);
}

static void PrintPeakMemory()
{
    var gc = GC.GetGCMemoryInfo(GCKind.Any);
    using var self = Process.GetCurrentProcess();
    Console.WriteLine(
        $"Peak memory: managed heap after last GC {GC.GetTotalMemory(false) / (1024.0 * 1024.0):0.0} MB, GC committed {gc.TotalCommittedBytes / (1024.0 * 1024.0):0.0} MB, process peak working set {self.PeakWorkingSet64 / (1024.0 * 1024.0):0.0} MB"
    );
}

// CPU time of the bench's reaped child processes (utime + stime of waited-for children, in
// /proc/self/stat fields 16 and 17), so the stand-in's own cost shows next to the host's.
static double ChildrenCpuSeconds()
{
    if (!File.Exists("/proc/self/stat"))
    {
        return double.NaN;
    }
    var stat = File.ReadAllText("/proc/self/stat");
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
    const double TicksPerSecond = 100; // USER_HZ on Linux
    return (
            long.Parse(fields[13], CultureInfo.InvariantCulture)
            + long.Parse(fields[14], CultureInfo.InvariantCulture)
        ) / TicksPerSecond;
}

static double RunBare(string fakeVol, string[] arguments)
{
    var stopwatch = Stopwatch.StartNew();
    var start = new ProcessStartInfo(fakeVol)
    {
        RedirectStandardOutput = true,
        RedirectStandardError = true,
    };
    foreach (var argument in arguments)
    {
        start.ArgumentList.Add(argument);
    }
    using var process = Process.Start(start)!;
    var drainError = process.StandardError.BaseStream.CopyToAsync(Stream.Null);
    process.StandardOutput.BaseStream.CopyTo(Stream.Null);
    drainError.Wait();
    process.WaitForExit();
    return stopwatch.Elapsed.TotalMilliseconds;
}

// The run, and when its first row arrived (from the call).
static async Task<(PluginRun Run, TimeSpan FirstRow)> RunPluginAsync(
    string fakeVol,
    string[] arguments,
    string work,
    Stream output
)
{
    await using var writer = new Utf8JsonWriter(output);
    var plugin = VolatilityPlugins.All.Single(p => p.Name == "pslist");
    var mapper = plugin.CreateMapper();
    var sink = new RowSink(writer, _ => true);
    writer.WriteStartArray();
    var clock = Stopwatch.StartNew();
    TimeSpan? firstRow = null;
    var run = await VolatilityRunner.RunAsync(
        fakeVol,
        arguments,
        work,
        TimeSpan.FromMinutes(5),
        TimeSpan.FromSeconds(5),
        16 << 20,
        1L << 32,
        // As the module's own callback (plugins/Memory/Memory.cs).
        [System.Runtime.CompilerServices.MethodImpl(
            System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization
        )]
        (row) =>
        {
            firstRow ??= clock.Elapsed;
            mapper.Map(row, sink);
            sink.FlushIfFull();
        },
        CancellationToken.None
    );
    mapper.Complete(sink);
    writer.WriteEndArray();
    return (run, firstRow ?? clock.Elapsed);
}

static string FindRoot()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "Microkernel.sln")))
        {
            return dir.FullName;
        }
    }
    throw new InvalidOperationException("Microkernel.sln not found");
}
