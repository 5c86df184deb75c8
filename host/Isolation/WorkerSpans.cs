using System.Diagnostics;
using Microkernel.Host.Telemetry;

namespace Microkernel.Host.Isolation;

/// <summary>
/// Spans cross the process boundary twice: the host's context goes to the worker as a W3C
/// <c>traceparent</c>, and each finished worker span comes back and is re-emitted through the
/// host's one ActivitySource under that parent, so exporters configured once see one trace.
/// </summary>
internal static class WorkerSpans
{
    public static void Emit(SpanRecord span, int workerPid)
    {
        if (
            !ActivityContext.TryParse(
                $"00-{span.TraceId}-{span.ParentSpanId}-01",
                null,
                out var parent
            )
        )
        {
            return;
        }
        using var activity = MicrokernelTelemetry.Source.StartActivity(
            span.Name,
            ActivityKind.Internal,
            parent,
            startTime: new DateTimeOffset(span.StartUtc, TimeSpan.Zero)
        );
        if (activity is null)
        {
            return;
        }
        foreach (var (key, value) in span.Tags)
        {
            activity.SetTag(key, value);
        }
        activity.SetTag("microkernel.worker.pid", workerPid);
        activity.SetStatus((ActivityStatusCode)span.Status, span.StatusDescription);
        activity.SetEndTime(span.EndUtc);
    }

    /// <summary>The W3C trace context of the current span, if any.</summary>
    public static string? CurrentTraceParent() =>
        Activity.Current is { IdFormat: ActivityIdFormat.W3C } current ? current.Id : null;

    /// <summary>Parses what <see cref="CurrentTraceParent"/> sent; default when absent.</summary>
    public static ActivityContext Parent(string? traceParent) =>
        traceParent is not null && ActivityContext.TryParse(traceParent, null, out var context)
            ? context
            : default;
}
