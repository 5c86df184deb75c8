using System.Diagnostics;
using System.Diagnostics.Tracing;

namespace Microkernel.Bench.Network;

/// <summary>
/// One line per garbage collection (time, generation, reason, generation sizes after it, and
/// what was promoted), from the runtime's own GC events: tells whether a peak of committed
/// memory is survivors piling up in one generation or garbage the GC let accumulate.
/// </summary>
internal sealed class GcLogger : EventListener
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<string> _lines = [];
    private string _start = "";

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Informational, (EventKeywords)0x1);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        var name = eventData.EventName ?? "";
        if (name.StartsWith("GCStart", StringComparison.Ordinal))
        {
            _start =
                $"{_clock.Elapsed.TotalSeconds, 6:F2}s gen{Get(eventData, "Depth")} {Reason(Get(eventData, "Reason"))}";
        }
        else if (name.StartsWith("GCGlobalHeapHistory", StringComparison.Ordinal))
        {
            // The gen0 budget the GC chose for the next round.
            _start +=
                $" (gen0 budget {Get(eventData, "FinalYoungestDesired") / (1024.0 * 1024):F0} MiB)";
        }
        else if (name.StartsWith("GCHeapStats", StringComparison.Ordinal))
        {
            const double MiB = 1024.0 * 1024;
            string Size(string field) => $"{Get(eventData, field) / MiB:F0}";
            lock (_lines)
            {
                _lines.Add(
                    $"{_start}: gen0 {Size("GenerationSize0")} gen1 {Size("GenerationSize1")} gen2 {Size("GenerationSize2")} "
                        + $"loh {Size("GenerationSize3")} MiB; promoted 0:{Size("TotalPromotedSize0")} 1:{Size("TotalPromotedSize1")} 2:{Size("TotalPromotedSize2")}"
                );
            }
        }
    }

    private static long Get(EventWrittenEventArgs eventData, string field)
    {
        var index = eventData.PayloadNames!.IndexOf(field);
        return index < 0
            ? -1
            : Convert.ToInt64(
                eventData.Payload![index],
                System.Globalization.CultureInfo.InvariantCulture
            );
    }

    private static string Reason(long reason) =>
        reason switch
        {
            0 => "alloc_soh",
            1 => "induced",
            4 => "alloc_loh",
            6 => "oos_loh",
            _ => $"reason{reason}",
        };

    public void Print()
    {
        lock (_lines)
        {
            foreach (var line in _lines)
            {
                Console.WriteLine("  gc " + line);
            }
        }
    }
}
