using System.Buffers.Binary;
using System.Diagnostics;
using Microkernel.Contracts;
using Microkernel.Plugins.Network;
using Microsoft.Extensions.Logging.Abstractions;

// Network.Bench: throughput and peak memory of the network module on a large capture.
//   generate <seed.pcap> <out.pcap> <MiB>   replicate a real capture with shifted addresses/times
//   run <capture.pcap> [opt=value...]       run NetworkAnalysis once, print MB/s, CPU time, peak memory
//                                           (section=PATH keeps a copy of the section,
//                                           sorted=PATH one of dump_sorted.pcap;
//                                           allocations samples allocated types, gcs lists
//                                           each collection)
//   phases <capture.pcap>                   time reader, + dissector, + TCP conversations
//   sort <capture.pcap>                     time sort_pcap alone (wall, user, sys, peak RSS)
// Run each measurement in its own process so the peak working set belongs to that run only.
if (args.Length >= 4 && args[0] == "generate")
{
    Generate(
        args[1],
        args[2],
        long.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) * 1024 * 1024
    );
    return 0;
}
if (args.Length >= 2 && args[0] == "run")
{
    // Extra arguments are [network] options: key=value; section=PATH keeps a copy of the
    // section (to compare outputs before and after a change).
    var options = args.Skip(2)
        .Select(a => a.Split('=', 2))
        .ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : "");
    options.Remove("section", out var keepSection);
    options.Remove("sorted", out var keepSorted);
    using var sampler = options.Remove("allocations")
        ? new Microkernel.Bench.Network.AllocationSampler()
        : null;
    using var gcs = options.Remove("gcs") ? new Microkernel.Bench.Network.GcLogger() : null;
    await RunAsync(args[1], options, keepSection, keepSorted);
    sampler?.Print(25);
    gcs?.Print();
    return 0;
}
if (args.Length >= 2 && args[0] == "sort")
{
    Microkernel.Bench.Network.Phases.Sort(args[1]);
    return 0;
}
if (args.Length >= 2 && args[0] == "phases")
{
    Microkernel.Bench.Network.Phases.Run(args[1]);
    return 0;
}
Console.Error.WriteLine(
    "usage: Network.Bench generate <seed.pcap> <out.pcap> <MiB> | run <capture.pcap> [option=value...] [section=PATH] | phases <capture.pcap> | sort <capture.pcap>"
);
return 2;

static void Generate(string seedPath, string outPath, long targetBytes)
{
    var seed = File.ReadAllBytes(seedPath);
    if (BinaryPrimitives.ReadUInt32LittleEndian(seed) != 0xA1B2C3D4)
    {
        throw new InvalidOperationException("the seed must be a little-endian microsecond pcap");
    }
    var records = new List<(uint Sec, uint Usec, byte[] Frame)>();
    for (var off = 24; off + 16 <= seed.Length; )
    {
        var caplen = (int)BinaryPrimitives.ReadUInt32LittleEndian(seed.AsSpan(off + 8));
        records.Add(
            (
                BinaryPrimitives.ReadUInt32LittleEndian(seed.AsSpan(off)),
                BinaryPrimitives.ReadUInt32LittleEndian(seed.AsSpan(off + 4)),
                seed.AsSpan(off + 16, caplen).ToArray()
            )
        );
        off += 16 + caplen;
    }
    var span = records[^1].Sec - records[0].Sec + 1;
    using var output = new BufferedStream(File.Create(outPath), 1 << 20);
    output.Write(seed.AsSpan(0, 24));
    var header = new byte[16];
    long written = 24;
    for (var copy = 0; written < targetBytes; copy++)
    {
        foreach (var (sec, usec, original) in records)
        {
            var frame = (byte[])original.Clone();
            ShiftAddresses(frame, copy);
            BinaryPrimitives.WriteUInt32LittleEndian(header, (uint)(sec + copy * span));
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(4), usec);
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), (uint)frame.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(12), (uint)frame.Length);
            output.Write(header);
            output.Write(frame);
            written += 16 + frame.Length;
        }
    }
    Console.WriteLine($"wrote {outPath}: {written / (1024.0 * 1024):F1} MiB");
}

// Public IPv4 addresses get copy-dependent second/third octets, so every copy is new traffic
// (new hosts, flows and streams), the worst case for the module's state.
static void ShiftAddresses(byte[] frame, int copy)
{
    if (frame.Length < 34 || frame[12] != 0x08 || frame[13] != 0x00 || frame[14] >> 4 != 4)
    {
        return;
    }
    foreach (var at in new[] { 26, 30 })
    {
        var first = frame[at];
        var second = frame[at + 1];
        var isPrivate =
            first is 10 or 127 or >= 224
            || (first == 192 && second == 168)
            || (first == 172 && second is >= 16 and < 32);
        if (!isPrivate)
        {
            frame[at + 1] ^= (byte)copy;
            frame[at + 2] ^= (byte)(copy >> 8);
        }
    }
}

// Times the module alone (as the host runs it: the section file is spliced, not parsed), with
// wall and CPU time, so figures taken on a loaded machine can be judged.
static async Task RunAsync(
    string capture,
    IReadOnlyDictionary<string, string> options,
    string? keepSection,
    string? keepSorted
)
{
    using var analysis = BenchFolder.Create();
    using var scratch = BenchFolder.Create();
    var dump = Path.Combine(analysis.Path, "dump.pcap");
    File.CreateSymbolicLink(dump, Path.GetFullPath(capture));
    var size = new FileInfo(capture).Length;
    var errors = new List<string>();
    var context = new ProcessingContext(
        analysis.Path,
        new TaskInfo { Id = 1, Category = "file" },
        new ModuleOptions("network", options, "bench"),
        NullLogger.Instance,
        new NoResults(),
        scratch.Path,
        BenchFolder.RepoConf(),
        new ModuleOptions("processing", new Dictionary<string, string>(), "bench"),
        errors.Add
    );
    var module = new NetworkAnalysis();
    module.Initialize(context);
    using var self = Process.GetCurrentProcess();
    var userBefore = self.UserProcessorTime;
    var systemBefore = self.PrivilegedProcessorTime;
    var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
    var jitBefore = System.Runtime.JitInfo.GetCompilationTime();
    var jitMethodsBefore = System.Runtime.JitInfo.GetCompiledMethodCount();
    var gcBefore = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
    var clock = Stopwatch.StartNew();
    using var memory = new MemorySampler();
    var section = await module.RunAsync(CancellationToken.None);
    clock.Stop();
    memory.Dispose();
    self.Refresh();
    var user = (self.UserProcessorTime - userBefore).TotalSeconds;
    var system = (self.PrivilegedProcessorTime - systemBefore).TotalSeconds;
    var cpu = user + system;
    var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
    var jit = System.Runtime.JitInfo.GetCompilationTime() - jitBefore;
    var jitMethods = System.Runtime.JitInfo.GetCompiledMethodCount() - jitMethodsBefore;
    var sectionBytes = section is JsonSection { FilePath: { } path }
        ? new FileInfo(path).Length
        : 0;
    Console.WriteLine(
        $"{Path.GetFileName(capture)}: {size / 1e6:F0} MB in {clock.Elapsed.TotalSeconds:F2} s wall = {size / 1e6 / clock.Elapsed.TotalSeconds:F0} MB/s; "
            + $"CPU {cpu:F2} s = {size / 1e6 / cpu:F0} MB/s per CPU-second; "
            + $"peak working set {self.PeakWorkingSet64 / (1024.0 * 1024):F0} MiB; "
            + $"section {sectionBytes / 1e6:F1} MB; {errors.Count} reported errors"
    );
    Console.WriteLine(
        $"  CPU user {user:F2} s + sys {system:F2} s; peak RSS (VmHWM) {PeakRssMiB()} MiB; "
            + $"allocated {allocated / (1024.0 * 1024):F0} MiB; GCs gen0 {GC.CollectionCount(0) - gcBefore.Item1}, "
            + $"gen1 {GC.CollectionCount(1) - gcBefore.Item2}, gen2 {GC.CollectionCount(2) - gcBefore.Item3}; "
            + $"JIT {jit.TotalSeconds:F2} s for {jitMethods} methods"
    );
    Console.WriteLine("  " + memory.Describe());
    if (keepSection is not null && section is JsonSection { FilePath: { } sectionPath })
    {
        File.Copy(sectionPath, keepSection, overwrite: true);
    }
    var sorted = Path.Combine(analysis.Path, "dump_sorted.pcap");
    if (keepSorted is not null && File.Exists(sorted))
    {
        File.Copy(sorted, keepSorted, overwrite: true);
    }
    foreach (var error in errors.Take(5))
    {
        Console.WriteLine("  error: " + error);
    }
    var load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "?";
    Console.WriteLine($"  load average: {load}");
}

// The kernel's high-water mark of resident memory: the figure the 200 MiB target is about.
static string PeakRssMiB()
{
    const string path = "/proc/self/status";
    if (!File.Exists(path))
    {
        return "?";
    }
    foreach (var line in File.ReadLines(path))
    {
        if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
        {
            var kb = long.Parse(
                line["VmHWM:".Length..].Trim().Split(' ')[0],
                System.Globalization.CultureInfo.InvariantCulture
            );
            return (kb / 1024.0).ToString("F0", System.Globalization.CultureInfo.InvariantCulture);
        }
    }
    return "?";
}

/// <summary>
/// Samples resident memory and the GC heap every 100 ms, to tell at the peak what the memory
/// was: the managed heap (and how much of it was live at the last GC) or the rest.
/// </summary>
internal sealed class MemorySampler : IDisposable
{
    private readonly Timer _timer;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly object _gate = new();
    private (double At, long Rss, long Heap, long LiveAfterGc, long Committed) _peak;

    // NETWORK_BENCH_TIMELINE=1: one sample a second (RSS/heap in use/GC committed, MiB).
    private readonly List<string>? _timeline =
        Environment.GetEnvironmentVariable("NETWORK_BENCH_TIMELINE") == "1" ? [] : null;

    public MemorySampler() => _timer = new Timer(_ => Sample(), null, 0, 100);

    private void Sample()
    {
        long rss;
        try
        {
            var fields = File.ReadAllText("/proc/self/statm").Split(' ');
            rss =
                long.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture)
                * Environment.SystemPageSize;
        }
        catch (IOException)
        {
            return;
        }
        var heap = GC.GetTotalMemory(false);
        var info = GC.GetGCMemoryInfo();
        lock (_gate)
        {
            if (_timeline is not null && _clock.Elapsed.TotalSeconds >= _timeline.Count)
            {
                _timeline.Add(
                    $"{_clock.Elapsed.TotalSeconds:F0}s {rss >> 20}/{heap >> 20}/{info.TotalCommittedBytes >> 20}"
                );
            }
            if (rss > _peak.Rss)
            {
                _peak = (
                    _clock.Elapsed.TotalSeconds,
                    rss,
                    heap,
                    info.HeapSizeBytes - info.FragmentedBytes,
                    info.TotalCommittedBytes
                );
            }
        }
    }

    public string Describe()
    {
        lock (_gate)
        {
            const double MiB = 1024.0 * 1024;
            var timeline = _timeline is null ? "" : "\n  timeline: " + string.Join(", ", _timeline);
            return $"sampled peak RSS {_peak.Rss / MiB:F0} MiB at {_peak.At:F1} s: GC heap in use {_peak.Heap / MiB:F0} MiB, after the last GC {_peak.LiveAfterGc / MiB:F0} MiB, committed by the GC {_peak.Committed / MiB:F0} MiB{timeline}";
        }
    }

    public void Dispose() => _timer.Dispose();
}

/// <summary>A temporary folder deleted on dispose.</summary>
internal sealed class BenchFolder : IDisposable
{
    private BenchFolder(string path) => Path = path;

    public string Path { get; }

    public static BenchFolder Create()
    {
        var path = System.IO.Path.Combine(
            System.IO.Path.GetTempPath(),
            "network-bench",
            Guid.NewGuid().ToString("N")
        );
        Directory.CreateDirectory(path);
        return new BenchFolder(path);
    }

    /// <summary>conf/ of the repository the bench was built in.</summary>
    public static string RepoConf()
    {
        for (
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            dir is not null;
            dir = dir.Parent
        )
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Microkernel.sln")))
            {
                return System.IO.Path.Combine(dir.FullName, "conf");
            }
        }
        throw new DirectoryNotFoundException("Microkernel.sln not found above the bench");
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException) { }
    }
}

internal sealed class NoResults : IProcessingResults
{
    public IReadOnlyList<string> Keys => [];

    public bool Contains(string key) => false;

    public bool TryGetSection(string key, out System.Text.Json.JsonElement section)
    {
        section = default;
        return false;
    }

    public Stream? OpenSection(string key) => null;
}
