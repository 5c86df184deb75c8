using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using Microkernel.Plugins.FileDescription;
using Microkernel.Plugins.FileDescription.Hashing;
using Microkernel.Plugins.FileDescription.Native;
using Microkernel.Plugins.FileDescription.Urls;
using Microkernel.Plugins.Static.Pe;
using Microkernel.Plugins.Strings;

// Console harness for the three file-module performance targets (issue 3):
//   dotnet run -c Release --project bench/Files.Bench -- [target|digests|strings|static|all] [sizeMiB]
// ("digests" = "target" plus each digest alone, in CPU-seconds.)
// Prints throughput and peak memory. "target" needs sha512sum on PATH for the reference time.
var which = args.Length > 0 ? args[0] : "all";
var targetMiB =
    args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 1024;

// Other work on the machine skews wall time; CPU time and the load average put it in context.
Console.WriteLine(
    $"load average {File.ReadAllText("/proc/loadavg").Trim()}, {Environment.ProcessorCount} cores"
);
if (which is "all" or "strings")
{
    BenchStrings();
    BenchStringsOnSample();
}
if (which is "all" or "static")
{
    BenchStatic();
}
if (which is "all" or "target" or "digests")
{
    BenchTarget(targetMiB, eachDigest: which is "all" or "digests");
}
return 0;

static void BenchStrings()
{
    // 16 MiB of binary-looking data: random bytes with printable and UTF-16 islands.
    var data = new byte[16 * 1024 * 1024];
    var random = new Random(42);
    random.NextBytes(data);
    for (var at = 0; at + 64 < data.Length; at += 4096)
    {
        Encoding.ASCII.GetBytes("printable ascii string island").CopyTo(data, at);
        Encoding.Unicode.GetBytes("wide island").CopyTo(data, at + 2048);
        Array.Clear(data, at + 512, 1024);
    }
    BenchStringsOn("random + islands", data);
}

static void BenchStringsOnSample()
{
    // A more typical input: the project's sample PE repeated to fill the 16 MiB window.
    var sample = File.ReadAllBytes(Path.Combine(FindRepo(), "samples", "analyses", "1", "binary"));
    BenchStringsOn($"sample PE x{16 * 1024 * 1024 / sample.Length}", Repeat(sample));

    // Text-heavy: lines of ASCII with a UTF-16 line now and then (scripts, logs, resources).
    var text = new StringBuilder();
    var random = new Random(5);
    while (text.Length < 1024 * 1024)
    {
        text.Append(
            random.Next(4) == 0
                ? "a short line\n"
                : $"line {text.Length} of a script or log file, with some text: {random.Next()}\n"
        );
    }
    var lines = new List<byte>(Encoding.ASCII.GetBytes(text.ToString()));
    lines.AddRange(Encoding.Unicode.GetBytes("a UTF-16 resource string\0 and another one here\0"));
    BenchStringsOn("text lines", Repeat(lines.ToArray()));
}

static byte[] Repeat(byte[] sample)
{
    var data = new byte[16 * 1024 * 1024];
    for (var at = 0; at < data.Length; at += sample.Length)
    {
        sample.AsSpan(0, Math.Min(sample.Length, data.Length - at)).CopyTo(data.AsSpan(at));
    }
    return data;
}

static void BenchStringsOn(string name, byte[] data)
{
    // No count cap, so the whole window is scanned and every hit is output (worst case); then
    // Cuckoo's limit of 2048 strings, the module's real cost. "json" is what the module does
    // (hits written straight to its JSON section), "list" the List<string> API.
    foreach (var (label, cap) in new[] { ("uncapped", int.MaxValue), ("2048 cap", 2048) })
    {
        var count = PrintableStrings.Extract(data, cap, 1024).Count;
        var json = Measure(() =>
        {
            // The module streams to its section file; Stream.Null leaves the disk out of it.
            PrintableStrings.WriteJson(data, cap, 1024, Stream.Null);
        });
        var list = Measure(() => PrintableStrings.Extract(data, cap, 1024));
        Console.WriteLine(
            $"strings [{name}, {label}]: {count} strings; json {json.Wall:F2} GB/s wall, {json.Cpu:F2} GB/s CPU ({json.CpuMs:F2} CPU-ms/run); list {list.Wall:F2} GB/s wall, {list.Cpu:F2} GB/s CPU ({list.CpuMs:F2} CPU-ms/run); target >= 1 GB/s; peak working set {PeakMiB()} MiB"
        );
    }

    (double Wall, double Cpu, double CpuMs) Measure(Action run)
    {
        run(); // warm-up
        run();
        const int rounds = 20;
        var cpu = CpuTime();
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < rounds; i++)
        {
            run();
        }
        watch.Stop();
        var cpuSeconds = (CpuTime() - cpu).TotalSeconds;
        var bytes = (double)data.Length * rounds;
        return (
            bytes / watch.Elapsed.TotalSeconds / 1e9,
            bytes / cpuSeconds / 1e9,
            cpuSeconds / rounds * 1000
        );
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

static void BenchStatic()
{
    var dll = SyntheticDll(exports: 5000, sizeBytes: 4 * 1024 * 1024);
    using var magic = MagicTypes.TryOpen(out _);
    var result = PortableExecutable.Analyse(dll, magic, default)!;
    // Warm-up until tiered JIT has settled (a one-shot run also pays JIT; see the report).
    for (var i = 0; i < 40; i++)
    {
        result = PortableExecutable.Analyse(dll, magic, default)!;
    }
    const int rounds = 50;
    var cpu = CpuTime();
    var watch = Stopwatch.StartNew();
    for (var i = 0; i < rounds; i++)
    {
        result = PortableExecutable.Analyse(dll, magic, default)!;
    }
    watch.Stop();
    var exports = ((System.Collections.ICollection)result["pe_exports"]!).Count;
    Console.WriteLine(
        $"static: {dll.Length / 1024 / 1024} MiB DLL, {exports} exports, {watch.Elapsed.TotalMilliseconds / rounds:F2} ms/run wall, {(CpuTime() - cpu).TotalMilliseconds / rounds:F2} ms/run CPU (target < 20 ms), peak working set {PeakMiB()} MiB"
    );
}

static void BenchTarget(int sizeMiB, bool eachDigest)
{
    var path = Path.Combine(Path.GetTempPath(), $"microkernel-bench-{sizeMiB}m.bin");
    if (!File.Exists(path) || new FileInfo(path).Length != sizeMiB * 1024L * 1024)
    {
        using var output = File.Create(path);
        var block = new byte[1024 * 1024];
        var random = new Random(1);
        for (var i = 0; i < sizeMiB; i++)
        {
            random.NextBytes(block);
            output.Write(block);
        }
    }
    // Warm the page cache so both runs measure hashing, not the disk. The machine is shared, so
    // each side is run three times and the best run counts (the median is printed too).
    RunSha512Sum(path);
    var references = Enumerable.Range(0, 3).Select(_ => RunSha512Sum(path)).ToList();
    var reference = (Wall: references.Min(r => r.Wall), Cpu: references.Min(r => r.Cpu));
    Console.WriteLine(
        $"sha512sum alone: best {reference.Wall.TotalSeconds:F2} s wall, {reference.Cpu.TotalSeconds:F2} CPU-s (median {Median(references.Select(r => r.Wall.TotalSeconds)):F2} s wall)"
    );
    if (eachDigest)
    {
        BenchEachDigest(path, reference.Cpu);
    }
    var before = PeakMiB();
    // The one-read pass on its own (all digests and the URL scan), for its share of the memory.
    FileHashes.Compute(path, urls: new UrlScanner());
    Console.WriteLine(
        $"one pass (digests + urls) alone: peak working set {PeakMiB()} MiB (before {before} MiB)"
    );
    using var describer = new FileDescriber();
    var runs = new List<(TimeSpan Wall, double Cpu)>();
    Dictionary<string, object?> info = [];
    for (var run = 0; run < 3; run++)
    {
        var cpu = CpuTime();
        var watch = Stopwatch.StartNew();
        info = describer.Describe(path);
        watch.Stop();
        runs.Add((watch.Elapsed, (CpuTime() - cpu).TotalSeconds));
    }
    var wall = runs.Min(r => r.Wall);
    var cpuSeconds = runs.Min(r => r.Cpu);
    Console.WriteLine(
        $"target: {sizeMiB} MiB, all hashes + ssdeep + type + urls: best {wall.TotalSeconds:F2} s wall ({sizeMiB / wall.TotalSeconds:F0} MiB/s; median {Median(runs.Select(r => r.Wall.TotalSeconds)):F2} s), {cpuSeconds:F2} CPU-s on {Environment.ProcessorCount} cores; ratio to sha512sum {wall / reference.Wall:F2} wall (target <= 1.5), {cpuSeconds / reference.Cpu.TotalSeconds:F2} CPU; peak working set {PeakMiB()} MiB (before {before} MiB; target < 64 MiB added); ssdeep {info["ssdeep"]}"
    );
    File.Delete(path);
}

// Each digest alone over the same file, one thread, 1 MiB reads: the CPU-seconds they add up to
// show what two cores can do at best.
static void BenchEachDigest(string path, TimeSpan sha512sum)
{
    var buffer = new byte[1024 * 1024];
    var digests = new (string Name, Func<Action<byte[], int>> Start)[]
    {
        ("md5", () => Hash(System.Security.Cryptography.HashAlgorithmName.MD5)),
        ("sha1", () => Hash(System.Security.Cryptography.HashAlgorithmName.SHA1)),
        ("sha256", () => Hash(System.Security.Cryptography.HashAlgorithmName.SHA256)),
        ("sha512", () => Hash(System.Security.Cryptography.HashAlgorithmName.SHA512)),
        (
            "crc32",
            () =>
            {
                var crc = new System.IO.Hashing.Crc32();
                return (data, count) => crc.Append(data.AsSpan(0, count));
            }
        ),
        (
            "ssdeep",
            () =>
            {
                var ssdeep = new Ssdeep();
                ssdeep.SetTotalLength((ulong)new FileInfo(path).Length);
                return (data, count) => ssdeep.Append(data.AsSpan(0, count));
            }
        ),
        (
            "urls",
            () =>
            {
                var scanner = new UrlScanner();
                var gapped = new byte[UrlScanner.Gap + buffer.Length];
                return (data, count) =>
                {
                    data.AsSpan(0, count).CopyTo(gapped.AsSpan(UrlScanner.Gap));
                    scanner.Append(gapped, count);
                };
            }
        ),
        ("read only", () => (_, _) => { }),
    };
    var total = 0.0;
    foreach (var (name, start) in digests)
    {
        var feed = start();
        var cpu = CpuTime();
        using var stream = File.OpenRead(path);
        int read;
        while ((read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false)) > 0)
        {
            feed(buffer, read);
        }
        var seconds = (CpuTime() - cpu).TotalSeconds;
        total += name == "read only" ? 0 : seconds;
        Console.WriteLine(
            $"  {name, -9} alone: {seconds:F2} CPU-s ({seconds / sha512sum.TotalSeconds:F2} x sha512sum)"
        );
    }
    Console.WriteLine(
        $"  sum of the digests: {total:F2} CPU-s = {total / sha512sum.TotalSeconds:F2} x sha512sum; on {Environment.ProcessorCount} cores at best {total / Environment.ProcessorCount / sha512sum.TotalSeconds:F2} x"
    );

    static Action<byte[], int> Hash(System.Security.Cryptography.HashAlgorithmName name)
    {
        var hash = System.Security.Cryptography.IncrementalHash.CreateHash(name);
        return (data, count) => hash.AppendData(data, 0, count);
    }
}

/// <summary>Wall and CPU time (user + system, measured by bash's <c>time</c>) of <c>sha512sum</c>.</summary>
static (TimeSpan Wall, TimeSpan Cpu) RunSha512Sum(string path)
{
    var watch = Stopwatch.StartNew();
    var start = new ProcessStartInfo("bash")
    {
        RedirectStandardOutput = true,
        RedirectStandardError = true,
    };
    start.ArgumentList.Add("-c");
    start.ArgumentList.Add("TIMEFORMAT='%U %S'; time sha512sum \"$0\" >/dev/null");
    start.ArgumentList.Add(path);
    using var process = Process.Start(start)!;
    var times = process.StandardError.ReadToEnd().Trim().Split(' ');
    process.WaitForExit();
    watch.Stop();
    var cpu =
        double.Parse(times[0], System.Globalization.CultureInfo.InvariantCulture)
        + double.Parse(times[1], System.Globalization.CultureInfo.InvariantCulture);
    return (watch.Elapsed, TimeSpan.FromSeconds(cpu));
}

static double Median(IEnumerable<double> values)
{
    var sorted = values.Order().ToList();
    return sorted[sorted.Count / 2];
}

static TimeSpan CpuTime()
{
    // getrusage: microseconds, where Process.TotalProcessorTime counts scheduler ticks.
    return Environment.CpuUsage.TotalTime;
}

static long PeakMiB()
{
    using var self = Process.GetCurrentProcess();
    self.Refresh();
    return self.PeakWorkingSet64 / 1024 / 1024;
}

// A PE32+ DLL: headers, one 4 MiB section holding an export directory with `exports` names.
static byte[] SyntheticDll(int exports, int sizeBytes)
{
    var image = new byte[0x400 + sizeBytes];
    var span = image.AsSpan();
    span[0] = (byte)'M';
    span[1] = (byte)'Z';
    BinaryPrimitives.WriteUInt32LittleEndian(span[0x3c..], 0x80);
    "PE\0\0"u8.CopyTo(span[0x80..]);
    BinaryPrimitives.WriteUInt16LittleEndian(span[0x84..], 0x8664);
    BinaryPrimitives.WriteUInt16LittleEndian(span[0x86..], 1);
    BinaryPrimitives.WriteUInt16LittleEndian(span[0x94..], 0xf0);
    const int optional = 0x98;
    BinaryPrimitives.WriteUInt16LittleEndian(span[optional..], 0x20b);
    BinaryPrimitives.WriteUInt64LittleEndian(span[(optional + 24)..], 0x180000000);
    BinaryPrimitives.WriteUInt32LittleEndian(span[(optional + 32)..], 0x1000);
    BinaryPrimitives.WriteUInt32LittleEndian(span[(optional + 36)..], 0x200);
    BinaryPrimitives.WriteUInt32LittleEndian(span[(optional + 108)..], 16);
    const uint sectionRva = 0x1000;
    BinaryPrimitives.WriteUInt32LittleEndian(span[(optional + 112)..], sectionRva); // export directory
    BinaryPrimitives.WriteUInt32LittleEndian(span[(optional + 116)..], (uint)sizeBytes);
    var section = optional + 0xf0;
    ".edata\0\0"u8.CopyTo(span[section..]);
    BinaryPrimitives.WriteUInt32LittleEndian(span[(section + 8)..], (uint)sizeBytes);
    BinaryPrimitives.WriteUInt32LittleEndian(span[(section + 12)..], sectionRva);
    BinaryPrimitives.WriteUInt32LittleEndian(span[(section + 16)..], (uint)sizeBytes);
    BinaryPrimitives.WriteUInt32LittleEndian(span[(section + 20)..], 0x400);

    var data = span[0x400..];
    var functions = 40;
    var names = functions + exports * 4;
    var ordinals = names + exports * 4;
    var strings = ordinals + exports * 2;
    BinaryPrimitives.WriteUInt32LittleEndian(data[16..], 1);
    BinaryPrimitives.WriteUInt32LittleEndian(data[20..], (uint)exports);
    BinaryPrimitives.WriteUInt32LittleEndian(data[24..], (uint)exports);
    BinaryPrimitives.WriteUInt32LittleEndian(data[28..], sectionRva + (uint)functions);
    BinaryPrimitives.WriteUInt32LittleEndian(data[32..], sectionRva + (uint)names);
    BinaryPrimitives.WriteUInt32LittleEndian(data[36..], sectionRva + (uint)ordinals);
    var code = 0x200000;
    for (var i = 0; i < exports; i++)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(
            data[(functions + i * 4)..],
            sectionRva + (uint)(code + i * 16)
        );
        var name = Encoding.ASCII.GetBytes($"Export{i:D5}\0");
        name.CopyTo(data[strings..]);
        BinaryPrimitives.WriteUInt32LittleEndian(
            data[(names + i * 4)..],
            sectionRva + (uint)strings
        );
        BinaryPrimitives.WriteUInt16LittleEndian(data[(ordinals + i * 2)..], (ushort)i);
        strings += name.Length;
    }
    new Random(3).NextBytes(data[code..].ToArray());
    return image;
}
