using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace Microkernel.Bench.Network;

/// <summary>
/// Samples allocations in-process through the runtime's AllocationTick event (one per ~100 KB
/// allocated, naming the type that crossed the threshold), to see which types the module
/// allocates most without an external profiler.
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private readonly ConcurrentDictionary<string, (long Bytes, int Ticks)> _byType = new();

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Verbose, (EventKeywords)0x1);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (!eventData.EventName?.StartsWith("GCAllocationTick", StringComparison.Ordinal) ?? true)
        {
            return;
        }
        var names = eventData.PayloadNames!;
        string type = "?";
        long amount = 0;
        uint kind = 0;
        for (var i = 0; i < names.Count; i++)
        {
            switch (names[i])
            {
                case "TypeName":
                    type = eventData.Payload![i] as string ?? "?";
                    break;
                case "AllocationAmount64":
                    amount = Convert.ToInt64(
                        eventData.Payload![i],
                        System.Globalization.CultureInfo.InvariantCulture
                    );
                    break;
                case "AllocationKind":
                    kind = Convert.ToUInt32(
                        eventData.Payload![i],
                        System.Globalization.CultureInfo.InvariantCulture
                    );
                    break;
            }
        }
        var key = (kind == 1 ? "LOH " : "") + type;
        _byType.AddOrUpdate(key, (amount, 1), (_, old) => (old.Bytes + amount, old.Ticks + 1));
    }

    public void Print(int top)
    {
        foreach (
            var (type, (bytes, ticks)) in _byType.OrderByDescending(p => p.Value.Bytes).Take(top)
        )
        {
            Console.WriteLine(
                $"  alloc {bytes / (1024.0 * 1024), 8:F1} MiB ({ticks} ticks) {type}"
            );
        }
    }
}
