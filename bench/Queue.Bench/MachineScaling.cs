using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;

namespace Microkernel.Queue.Bench;

/// <summary>
/// How much more work two threads do than one on this machine, for a few reference loops with no
/// shared data and no locks: the ceiling for any "2 workers / 1 worker" figure. Two cores that are
/// really two hyper-threads of one physical core (which a virtual machine need not admit to) share
/// caches, the divider and the memory path, so loops that touch more than the L1 cache gain far
/// less than 2x.
/// </summary>
internal static class MachineScaling
{
    private const int Iterations = 40_000_000;

    public static void Print()
    {
        var loops = new (string Name, Func<long> Run)[]
        {
            ("registers only", Registers),
            ("random reads in 16 KiB", () => RandomReads(16 << 10)),
            ("random reads in 1 MiB", () => RandomReads(1 << 20)),
            ("random reads in 32 MiB", () => RandomReads(32 << 20)),
            ("integer division", Division),
        };
        var parts = new List<string>();
        foreach (var (name, run) in loops)
        {
            run(); // compiled and caches warm before either timing
            var one = Time(run, threads: 1);
            var two = Time(run, threads: 2);
            // Each thread does the same work, so two threads do 2x the work in `two` seconds.
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"{name} {2 * one / two:0.00}x"));
        }
        Console.WriteLine(
            $"Machine: two threads do this much of one thread's work (reference loops, no shared data): {string.Join(", ", parts)}"
        );
    }

    /// <summary>Seconds until every one of <paramref name="threads"/> threads has run the loop once.</summary>
    private static double Time(Func<long> run, int threads)
    {
        using var start = new Barrier(threads + 1);
        var sink = 0L;
        var workers = Enumerable
            .Range(0, threads)
            .Select(_ => new Thread(() =>
            {
                start.SignalAndWait();
                Interlocked.Add(ref sink, run());
            }))
            .ToList();
        workers.ForEach(w => w.Start());
        start.SignalAndWait();
        var clock = Stopwatch.StartNew();
        workers.ForEach(w => w.Join());
        GC.KeepAlive(sink);
        return clock.Elapsed.TotalSeconds;
    }

    private static long Registers()
    {
        ulong x = 88172645463325252,
            sum = 0;
        for (var i = 0; i < Iterations; i++)
        {
            sum += Next(ref x) * 2654435761;
        }
        return (long)sum;
    }

    private static long RandomReads(int bytes)
    {
        var table = new uint[bytes / sizeof(uint)];
        for (var i = 0; i < table.Length; i++)
        {
            table[i] = (uint)i * 2654435761;
        }
        var mask = (ulong)table.Length - 1;
        ulong x = 88172645463325252,
            sum = 0;
        for (var i = 0; i < Iterations; i++)
        {
            sum += table[Next(ref x) & mask];
        }
        return (long)sum;
    }

    /// <summary>One xorshift64 step: a cheap pseudo-random sequence in registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Next(ref ulong x)
    {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return x;
    }

    private static long Division()
    {
        // A divisor the compiler cannot see, so the loop really divides.
        var divisor = (ulong)Environment.ProcessorCount + 5;
        ulong x = 123456789123,
            sum = 0;
        for (var i = 0; i < Iterations; i++)
        {
            sum += x / divisor;
            x += (ulong)i;
        }
        return (long)sum;
    }
}
