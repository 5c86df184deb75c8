using System.Diagnostics;
using System.Globalization;
using Microkernel.Host.Configuration;
using Microkernel.Host.Running;
using Microsoft.Extensions.Logging.Abstractions;

// Host overhead per module: load a plugin into a fresh collectible context, run a trivial
// module, serialise its result, write the report, unload and verify the unload.
// Usage: dotnet run -c Release --project bench/Host.Bench [iterations] [modules-per-run]
var iterations = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 200;
var modulesPerRun = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 10;
var repo = FindRepo();
var trivial = Path.Combine(repo, "tests", "FixturePlugins", "Trivial", "bin", "Release", "net10.0");
if (!Directory.Exists(trivial))
{
    Console.Error.WriteLine(
        $"Build the fixture first: {trivial} is missing (dotnet build -c Release bench/Host.Bench)."
    );
    return 2;
}

var root = Path.Combine(Path.GetTempPath(), "microkernel-bench", Guid.NewGuid().ToString("N"));

// Break the run down by the host's own spans.
var phases = new Dictionary<string, List<double>>();
using var listener = new ActivityListener
{
    ShouldListenTo = s => s.Name == "Microkernel.Host",
    Sample = (ref ActivityCreationOptions<ActivityContext> _) =>
        ActivitySamplingResult.AllDataAndRecorded,
    ActivityStopped = a =>
    {
        lock (phases)
        {
            if (!phases.TryGetValue(a.OperationName, out var list))
            {
                phases[a.OperationName] = list = [];
            }
            list.Add(a.Duration.TotalMilliseconds);
        }
    },
};
ActivitySource.AddActivityListener(listener);
try
{
    Console.WriteLine("isolation = in-process");
    var inProcess1 = Measure(1, "in-process", iterations);
    Console.WriteLine($"runs of 1 module:   {inProcess1.Summary}");
    var inProcessN = Measure(modulesPerRun, "in-process", iterations);
    Console.WriteLine($"runs of {modulesPerRun} modules: {inProcessN.Summary}");
    // A worker process per run: fewer iterations keep the bench short.
    var processIterations = Math.Max(10, iterations / 5);
    Console.WriteLine("isolation = process (one worker per run, reused by its modules)");
    var process1 = Measure(1, "process", processIterations);
    Console.WriteLine($"runs of 1 module:   {process1.Summary}");
    var processN = Measure(modulesPerRun, "process", processIterations);
    Console.WriteLine($"runs of {modulesPerRun} modules: {processN.Summary}");
    Console.WriteLine(
        string.Create(
            CultureInfo.InvariantCulture,
            $"process mode adds {(processN.Median - inProcessN.Median) / modulesPerRun:0.00} ms per module with {modulesPerRun} modules per worker, {process1.Median - inProcess1.Median:0.00} ms for a run of one module (worker start included)"
        )
    );
    Console.WriteLine(
        $"peak working set: {Process.GetCurrentProcess().PeakWorkingSet64 / (1024.0 * 1024):0.0} MiB"
    );
    Console.WriteLine();
    Console.WriteLine(WholeProcess(repo, 10));
}
finally
{
    Directory.Delete(root, recursive: true);
}
return 0;

(double Median, string Summary) Measure(int modules, string isolation, int runs)
{
    var lab = Path.Combine(root, $"lab{modules}-{isolation}");
    var plugins = Path.Combine(lab, "plugins");
    var conf = Path.Combine(lab, "conf");
    var analysis = Path.Combine(lab, "analysis");
    Directory.CreateDirectory(conf);
    Directory.CreateDirectory(analysis);
    var sections = new System.Text.StringBuilder();
    for (var i = 0; i < modules; i++)
    {
        // Same assembly, separate folders: separate load contexts, as separate plugins would be.
        var target = Directory.CreateDirectory(Path.Combine(plugins, $"Trivial{i}")).FullName;
        foreach (var file in Directory.EnumerateFiles(trivial))
        {
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        }
        sections.Append(
            CultureInfo.InvariantCulture,
            $"[trivial{i}]\nenabled = yes\nisolation = {isolation}\n"
        );
    }
    File.WriteAllText(Path.Combine(conf, "processing.conf"), sections.ToString());
    File.WriteAllText(Path.Combine(analysis, "analysis.conf"), "[analysis]\nid = 1\n");
    var runner = new AnalysisRunner(
        new MicrokernelOptions { PluginsPath = plugins, ConfPath = conf },
        NullLoggerFactory.Instance
    );
    var samples = new List<double>();
    for (var i = 0; i < runs + 10; i++)
    {
        var started = Stopwatch.GetTimestamp();
        var result = runner.RunAsync(new AnalysisRequest(analysis)).GetAwaiter().GetResult();
        var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        // All copies share one key: the 2nd..nth are recorded as duplicate_key after being run and serialised.
        if (
            result.Unload.Unloaded != modules
            || result.Modules.Any(m => m.Outcome is not ("ok" or "duplicate_key"))
        )
        {
            throw new InvalidOperationException(
                $"run {i}: {result.Unload.Unloaded}/{modules} unloaded, errors: {string.Join("; ", result.Errors)}"
            );
        }
        if (i >= 10)
        {
            samples.Add(elapsed); // first 10 runs warm up the JIT
        }
    }
    samples.Sort();
    var median = samples[samples.Count / 2];
    lock (phases)
    {
        foreach (var (name, values) in phases.OrderBy(p => p.Key))
        {
            values.Sort();
            Console.WriteLine(
                string.Create(
                    CultureInfo.InvariantCulture,
                    $"  span {name, -16} median {values[values.Count / 2]:0.00} ms (n={values.Count})"
                )
            );
        }
        phases.Clear();
    }
    var p95 = samples[(int)(samples.Count * 0.95)];
    return (
        median,
        string.Create(
            CultureInfo.InvariantCulture,
            $"median {median:0.00} ms/run = {median / modules:0.00} ms/module, p95 {p95:0.00} ms/run ({samples.Count} runs, every context unloaded and verified)"
        )
    );
}

static string WholeProcess(string repo, int runs)
{
    var exe = Path.Combine(repo, "host", "bin", "Release", "net10.0", "microkernel.dll");
    var sample = Path.Combine(repo, "samples", "analyses", "1");
    var copy = Path.Combine(
        Path.GetTempPath(),
        "microkernel-bench-sample-" + Guid.NewGuid().ToString("N")
    );
    CopyDirectory(sample, copy);
    var times = new List<double>();
    try
    {
        for (var i = 0; i < runs + 1; i++)
        {
            var start = new ProcessStartInfo("dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = repo,
            };
            start.ArgumentList.Add(exe);
            start.ArgumentList.Add("process");
            start.ArgumentList.Add(copy);
            var watch = Stopwatch.StartNew();
            using var process = Process.Start(start)!;
            process.StandardOutput.ReadToEnd();
            process.StandardError.ReadToEnd();
            process.WaitForExit();
            if (i > 0)
            {
                times.Add(watch.Elapsed.TotalSeconds);
            }
        }
    }
    finally
    {
        Directory.Delete(copy, recursive: true);
    }
    times.Sort();
    return string.Create(
        CultureInfo.InvariantCulture,
        $"whole `microkernel process samples/analyses/1` (process start included): median {times[times.Count / 2]:0.000} s, max {times[^1]:0.000} s over {runs} runs"
    );
}

static void CopyDirectory(string source, string target)
{
    foreach (var dir in Directory.EnumerateDirectories(source, "*", SearchOption.AllDirectories))
    {
        Directory.CreateDirectory(Path.Combine(target, Path.GetRelativePath(source, dir)));
    }
    Directory.CreateDirectory(target);
    foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
    {
        File.Copy(file, Path.Combine(target, Path.GetRelativePath(source, file)));
    }
}

static string FindRepo()
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
