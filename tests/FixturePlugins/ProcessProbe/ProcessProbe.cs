using System.Runtime.InteropServices;
using System.Text.Json;
using Microkernel.Contracts;
using Microsoft.Extensions.Logging;

namespace Fixture.ProcessProbe;

/// <summary>
/// Reports where it ran and what it could see, so tests can tell a worker from the host: its
/// process id, its options, an earlier module's section, and one log line and one error report.
/// </summary>
public sealed class ProcessProbe : Processing
{
    /// <summary>One key per plugin folder, so copies of the probe can run side by side.</summary>
    public override string Key =>
        Path.GetFileName(Path.GetDirectoryName(typeof(ProcessProbe).Assembly.Location))!
            .ToLowerInvariant();

    /// <summary>After the order-1 modules, so it can read what they stored.</summary>
    public override int Order => 2;

    public override async Task<object?> RunAsync(CancellationToken cancellationToken)
    {
        if (Options.GetInt32("native_megabytes", 0) is > 0 and var megabytes)
        {
            await HoldNativeMemoryAsync(megabytes, cancellationToken);
        }
        Logger.LogInformation("probe {Key} running in process {Pid}", Key, Environment.ProcessId);
        if (Options.GetString("report_error") is { } problem)
        {
            Context.ReportError(problem);
        }
        string? earlier = null;
        if (Options.GetString("read") is { } key && Results.TryGetSection(key, out var section))
        {
            earlier = section.GetRawText();
        }
        return new Dictionary<string, object?>
        {
            ["pid"] = Environment.ProcessId,
            ["task"] = TaskInfo.Id,
            ["target"] = TaskInfo.Target,
            ["analysis"] = AnalysisPath,
            ["scratch_exists"] = Directory.Exists(Context.ScratchPath),
            ["option"] = Options.GetString("echo"),
            ["processing_option"] = Context.ProcessingOptions.GetString("analysis_size_limit"),
            ["earlier"] = earlier is null ? null : JsonDocument.Parse(earlier).RootElement.Clone(),
        };
    }

    /// <summary>Memory the GC heap limit cannot see: only a resident-memory watchdog stops this.</summary>
    private static async Task HoldNativeMemoryAsync(
        int megabytes,
        CancellationToken cancellationToken
    )
    {
        var blocks = new List<IntPtr>();
        try
        {
            for (var i = 0; i < megabytes; i++)
            {
                var block = Marshal.AllocHGlobal(1 << 20);
                blocks.Add(block);
                for (var offset = 0; offset < 1 << 20; offset += 4096)
                {
                    Marshal.WriteByte(block, offset, 1);
                }
            }
            await Task.Delay(TimeSpan.FromSeconds(30), cancellationToken);
        }
        finally
        {
            blocks.ForEach(Marshal.FreeHGlobal);
        }
    }
}
