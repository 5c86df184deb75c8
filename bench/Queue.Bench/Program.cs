using System.Diagnostics;
using System.Globalization;
using Microkernel.Host.Configuration;
using Microkernel.Host.Queue;
using Microkernel.Queue.Bench;

// Queue overhead per task (claim + final status, two transactions, what a worker adds around the runner) on SQLite
// and, given a connection string, PostgreSQL; then serve's throughput with 1 and 2 workers on
// copies of the shipped sample, timed from the first claim to the last final status in the queue.
// Usage: dotnet run -c Release --project bench/Queue.Bench [--tasks N] [--sample-tasks N] [--warm-tasks N] [--rounds N] [--pg "Host=...;Username=...;Database=..."] [--machine-only]
if (args.Contains("--machine-only"))
{
    MachineScaling.Print();
    return 0;
}
var tasks = Option("--tasks", 2000);
var sampleTasks = Option("--sample-tasks", 600);

// Tasks a daemon finishes before its steady state is timed: its workers' first tasks load and
// compile the plugins, and the runtime keeps recompiling hot code (tier-1, PGO) for a few hundred.
var warmTasks = Option("--warm-tasks", 200);
var rounds = Option("--rounds", 1);
var pg = OptionText("--pg");
var repo = FindRepo();
var root = Path.Combine(
    Path.GetTempPath(),
    "microkernel-queue-bench",
    Guid.NewGuid().ToString("N")
);
Directory.CreateDirectory(root);
try
{
    await QueueOverhead(
        "sqlite",
        new MicrokernelOptions { StoragePath = Path.Combine(root, "sqlite") }
    );
    if (pg is not null)
    {
        await QueueOverhead("postgresql", new MicrokernelOptions { QueueConnectionString = pg });
    }
    else
    {
        Console.WriteLine("postgresql: skipped (pass --pg <connection string>)");
    }
    Console.WriteLine();
    Console.WriteLine(
        $"daemon runtime settings (conf/microkernel.service): {string.Join(' ', UnitRuntimeEnvironment(repo).Select(e => $"{e.Name}={e.Value}"))}"
    );
    // This VM's second vCPU gives anywhere from 1.3x to 2x from one minute to the next, so one
    // and two workers alternate, and each round's ratio compares runs a minute apart.
    var ratios = new List<double>();
    for (var round = 1; round <= rounds; round++)
    {
        MachineScaling.Print();
        // Alternating which goes first keeps a slow start (the previous invocation's deleted
        // copies, see Throughput) from always landing on the same side of the ratio.
        (double All, double Steady, double SteadyCores) one,
            two;
        if (round % 2 == 1)
        {
            one = await Throughput(1, round);
            two = await Throughput(2, round);
        }
        else
        {
            two = await Throughput(2, round);
            one = await Throughput(1, round);
        }
        ratios.Add(two.Steady / one.Steady);
        Console.WriteLine(
            string.Create(
                CultureInfo.InvariantCulture,
                $"round {round}: 2 workers / 1 worker: {two.All / one.All:0.00}x over all tasks, {two.Steady / one.Steady:0.00}x in steady state; at one worker's {one.SteadyCores:0.00} busy cores, {Environment.ProcessorCount} cores allow {Environment.ProcessorCount / one.SteadyCores:0.00}x at equal CPU per task"
            )
        );
    }
    if (rounds > 1)
    {
        ratios.Sort();
        Console.WriteLine(
            string.Create(
                CultureInfo.InvariantCulture,
                $"steady-state ratio over {rounds} rounds: median {ratios[ratios.Count / 2]:0.00}x (range {ratios[0]:0.00}-{ratios[^1]:0.00}x)"
            )
        );
    }
}
finally
{
    Directory.Delete(root, recursive: true);
}
return 0;

async Task QueueOverhead(string name, MicrokernelOptions options)
{
    await using var queue = TaskQueueFactory.Create(options);
    await queue.MigrateAsync();
    var submit = Stopwatch.StartNew();
    for (var i = 0; i < tasks; i++)
    {
        await queue.SubmitAsync($"/analyses/{i}", i % 3);
    }
    submit.Stop();
    var latencies = new List<double>(tasks);
    var total = Stopwatch.StartNew();
    while (true)
    {
        var one = Stopwatch.GetTimestamp();
        var task = await queue.ClaimAsync("bench", TimeSpan.FromMinutes(1));
        if (task is null)
        {
            break;
        }
        // No renewal: a task shorter than a third of its lease never renews.
        await queue.FinishAsync(task, QueueStatus.Reported, null);
        latencies.Add(Stopwatch.GetElapsedTime(one).TotalMilliseconds);
    }
    total.Stop();
    latencies.Sort();
    Console.WriteLine(
        string.Create(
            CultureInfo.InvariantCulture,
            $"{name, -11} {tasks} tasks: submit {submit.Elapsed.TotalMilliseconds / tasks:0.000} ms/task; claim+finish mean {total.Elapsed.TotalMilliseconds / tasks:0.000} ms, p50 {latencies[latencies.Count / 2]:0.000} ms, p99 {latencies[(int)(latencies.Count * 0.99)]:0.000} ms"
        )
    );
}

async Task<(double All, double Steady, double SteadyCores)> Throughput(int workers, int round)
{
    // Every run gets its own copies, and none is deleted before the end: on ext4 without a journal
    // (this VM's disk) each new inode is checked against the inodes deleted in the last one to five
    // minutes, and after deleting a run's 36,000 files that check took a quarter of the daemon's
    // CPU (perf: find_inode_bit, recently_deleted), as it does for the files a task creates.
    // The shipped sample is 108 KB, so a run of 3000 copies keeps about 330 MB until the end.
    var lab = Path.Combine(root, $"serve{workers}-round{round}");
    var sample = Path.Combine(repo, "samples", "analyses", "1");
    var storage = Path.Combine(lab, "storage");
    await using var queue = TaskQueueFactory.Create(
        new MicrokernelOptions { StoragePath = storage }
    );
    await queue.MigrateAsync();
    for (var i = 0; i < sampleTasks; i++)
    {
        var analysis = Path.Combine(lab, "analyses", i.ToString(CultureInfo.InvariantCulture));
        CopyTree(sample, analysis);
        await queue.SubmitAsync(analysis, 1);
    }
    // Write the copies out now: their writeback would otherwise compete with the daemon.
    FlushFileSystems();
    var host = Path.Combine(repo, "host", "bin", "Release", "net10.0");
    var start = new ProcessStartInfo("dotnet")
    {
        UseShellExecute = false,
        RedirectStandardError = true,
        RedirectStandardOutput = true,
    };
    foreach (
        var arg in (string[])
            [
                Path.Combine(host, "microkernel.dll"),
                "--plugins",
                Path.Combine(host, "plugins"),
                "--conf",
                Path.Combine(repo, "conf"),
                "--set",
                $"StoragePath={storage}",
                "--set",
                "PollIntervalSeconds=0.1",
                "--set",
                "HealthPort=0",
                "--set",
                "MetricsPort=0",
                "serve",
                "--workers",
                workers.ToString(CultureInfo.InvariantCulture),
            ]
    )
    {
        start.ArgumentList.Add(arg);
    }
    // The daemon runs as the shipped unit runs it: with the unit's runtime settings.
    foreach (var (name, value) in UnitRuntimeEnvironment(repo))
    {
        start.Environment[name] = value;
    }
    using var daemon = Process.Start(start)!;
    daemon.OutputDataReceived += (_, _) => { };
    daemon.ErrorDataReceived += (_, _) => { };
    daemon.BeginOutputReadLine();
    daemon.BeginErrorReadLine();
    var peak = 0L;
    // The daemon's CPU over the steady state: how many cores it keeps busy decides how far a
    // second worker can scale on this machine.
    (long Tasks, TimeSpan Cpu, long At)? steadyMark = null;
    long reported;
    while ((reported = (await queue.CountAsync())[QueueStatus.Reported]) < sampleTasks)
    {
        daemon.Refresh();
        peak = Math.Max(peak, daemon.WorkingSet64);
        if (steadyMark is null && reported >= Math.Clamp(warmTasks, 2 * workers, sampleTasks - 2))
        {
            steadyMark = (reported, daemon.TotalProcessorTime, Stopwatch.GetTimestamp());
        }
        if (daemon.HasExited)
        {
            throw new InvalidOperationException("serve exited early");
        }
        await Task.Delay(100);
    }
    daemon.Refresh();
    var cpu = daemon.TotalProcessorTime.TotalSeconds;
    var steadyCpu = steadyMark is { } mark
        ? (daemon.TotalProcessorTime - mark.Cpu).TotalSeconds
        : double.NaN;
    var steadyCores = steadyCpu / Stopwatch.GetElapsedTime(steadyMark?.At ?? 0).TotalSeconds;
    var steadyCpuPerTask = steadyCpu / (sampleTasks - (steadyMark?.Tasks ?? 0));
    using (
        var kill = Process.Start(
            "kill",
            ["-TERM", daemon.Id.ToString(CultureInfo.InvariantCulture)]
        )
    )
    {
        await kill.WaitForExitAsync();
    }
    await daemon.WaitForExitAsync();
    var done = await queue.ListAsync(QueueStatus.Reported, sampleTasks);
    var first = done.Min(t => t.StartedAt!.Value);
    var finished = done.Select(t => t.FinishedAt!.Value).Order().ToList();
    var last = finished[^1];
    var seconds = (last - first).TotalSeconds;
    var perSecond = sampleTasks / seconds;
    // Steady state, as a daemon left running sees it: after its first --warm-tasks tasks.
    var warmed = Math.Clamp(warmTasks, 2 * workers, finished.Count - 2);
    var steady = (finished.Count - warmed) / (last - finished[warmed - 1]).TotalSeconds;
    Console.WriteLine(
        string.Create(
            CultureInfo.InvariantCulture,
            $"serve --workers {workers}: {sampleTasks} sample analyses in {seconds:0.00} s = {perSecond:0.0} tasks/s ({1000 / perSecond:0.0} ms/task); steady state (after {warmed} tasks) {steady:0.0} tasks/s; daemon CPU {cpu:0.0} s ({cpu / sampleTasks * 1000:0} ms/task, start-up included), in steady state {steadyCores:0.00} cores busy and {steadyCpuPerTask * 1000:0.0} ms CPU per task; peak working set {peak / (1024.0 * 1024):0} MiB"
        )
    );
    return (perSecond, steady, steadyCores);
}

// The DOTNET_* lines of conf/microkernel.service (runtime settings that have no runtimeconfig
// equivalent, such as the GC's gen0 budget).
static IEnumerable<(string Name, string Value)> UnitRuntimeEnvironment(string repo)
{
    foreach (var line in File.ReadLines(Path.Combine(repo, "conf", "microkernel.service")))
    {
        if (line.StartsWith("Environment=DOTNET_", StringComparison.Ordinal))
        {
            var setting = line["Environment=".Length..];
            var equals = setting.IndexOf('=', StringComparison.Ordinal);
            yield return (setting[..equals], setting[(equals + 1)..]);
        }
    }
}

static void FlushFileSystems()
{
    if (!OperatingSystem.IsWindows())
    {
        using var sync = Process.Start("sync");
        sync.WaitForExit();
    }
}

// What processing writes into an analysis folder; a copy of the sample starts without it, as a
// fresh clone's sample does.
static bool IsOutput(string relative) =>
    relative.Split(Path.DirectorySeparatorChar)[0]
        is "reports"
            or "network"
            or "buffer"
            or "reboot.json";

static void CopyTree(string source, string target)
{
    foreach (var dir in Directory.EnumerateDirectories(source, "*", SearchOption.AllDirectories))
    {
        var relative = Path.GetRelativePath(source, dir);
        if (!IsOutput(relative))
        {
            Directory.CreateDirectory(Path.Combine(target, relative));
        }
    }
    Directory.CreateDirectory(target);
    foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
    {
        var relative = Path.GetRelativePath(source, file);
        if (IsOutput(relative))
        {
            continue;
        }
        var to = Path.Combine(target, relative);
        File.Copy(file, to);
        File.SetAttributes(to, FileAttributes.Normal);
    }
}

static string FindRepo()
{
    for (var dir = AppContext.BaseDirectory; dir is not null; dir = Path.GetDirectoryName(dir))
    {
        if (File.Exists(Path.Combine(dir, "Microkernel.sln")))
        {
            return dir;
        }
    }
    throw new InvalidOperationException("Microkernel.sln not found above the benchmark.");
}

int Option(string name, int fallback) =>
    OptionText(name) is { } text ? int.Parse(text, CultureInfo.InvariantCulture) : fallback;

string? OptionText(string name)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}
