using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

// Behaves like `vol [options] -f <dump> <plugin> [plugin options]`. The "dump" is a JSON scenario:
//   { "<plugin>": { "mode": "...", ... }, "default": {...}, "log": "/path/args.log" }
// Modes:
//   file      print "path" (a recorded Volatility 3 JSON reply), after the banner unless "banner": false
//   empty     print []
//   huge      print "megabytes" MB of pslist-like rows as one JSON array
//   exit      print "stdout" and "stderr" text, then exit with "code"
//   malformed print a JSON array that breaks half way
//   hang      print "stdout" then sleep until interrupted (SIGINT ends it, as Volatility does)
//   ignore-sigint  like hang, but ignores SIGINT; with "child": true it also starts a child that
//                  ignores SIGINT, and writes both pids to "pidfile"
//   sleep     sleep "ms" milliseconds, then print []
// A dump that is not a scenario gets [].

if (args.Length == 1 && args[0] == "--child")
{
    using var ignore = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => c.Cancel = true);
    Thread.Sleep(Timeout.Infinite);
    return 0;
}

var dump = ValueAfter(args, "-f") ?? ValueAfter(args, "--single-location");
var plugin = args.FirstOrDefault(a => a.StartsWith("windows.", StringComparison.Ordinal)) ?? "";
JsonElement scenario = default;
var hasScenario = false;
if (dump is not null && File.Exists(dump))
{
    try
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(dump));
        scenario = document.RootElement.Clone();
        hasScenario = scenario.ValueKind == JsonValueKind.Object;
    }
    catch (JsonException) { }
}
if (hasScenario && scenario.TryGetProperty("log", out var log))
{
    File.AppendAllText(log.GetString()!, string.Join('\u001f', args) + "\n");
}
JsonElement step = default;
var hasStep =
    hasScenario
    && (scenario.TryGetProperty(plugin, out step) || scenario.TryGetProperty("default", out step));

using var stdout = Console.OpenStandardOutput();
var mode = hasStep && step.TryGetProperty("mode", out var m) ? m.GetString() : "empty";
if (
    mode != "file"
    || !step.TryGetProperty("banner", out var banner)
    || banner.ValueKind != JsonValueKind.False
)
{
    Write(stdout, "Volatility 3 Framework 2.26.0\n");
}

switch (mode)
{
    case "file":
        using (var file = File.OpenRead(step.GetProperty("path").GetString()!))
        {
            file.CopyTo(stdout);
        }
        return 0;
    case "huge":
        WriteHuge(stdout, step.GetProperty("megabytes").GetDouble());
        return 0;
    case "exit":
        Write(stdout, Text(step, "stdout"));
        stdout.Flush();
        Console.Error.Write(Text(step, "stderr"));
        return step.GetProperty("code").GetInt32();
    case "malformed":
        Write(
            stdout,
            "[{\"PID\": 4, \"ImageFileName\": \"System\"}, {\"PID\": 5, \"ImageFileName\": \"sm"
        );
        Write(stdout, "ss.exe\" \"PPID\": 4}]\n");
        return 0;
    case "hang":
        Interrupt.Default();
        Write(stdout, Text(step, "stdout"));
        stdout.Flush();
        Thread.Sleep(Timeout.Infinite);
        return 0;
    case "ignore-sigint":
    {
        using var ignore = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => c.Cancel = true);
        var pids = new List<int> { Environment.ProcessId };
        if (step.TryGetProperty("child", out var child) && child.GetBoolean())
        {
            var start = new ProcessStartInfo(Environment.ProcessPath!, "--child")
            {
                UseShellExecute = false,
            };
            using var process = Process.Start(start)!;
            pids.Add(process.Id);
        }
        if (step.TryGetProperty("pidfile", out var pidfile))
        {
            File.WriteAllText(pidfile.GetString()!, string.Join('\n', pids));
        }
        Write(stdout, Text(step, "stdout"));
        stdout.Flush();
        Thread.Sleep(Timeout.Infinite);
        return 0;
    }
    case "sleep":
        Thread.Sleep(step.GetProperty("ms").GetInt32());
        Write(stdout, "[]\n");
        return 0;
    default:
        Write(stdout, "[]\n");
        return 0;
}

static string? ValueAfter(string[] args, string name)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
}

static string Text(JsonElement step, string name) =>
    step.TryGetProperty(name, out var value) ? value.GetString() ?? "" : "";

static void Write(Stream stream, string text) => stream.Write(Encoding.UTF8.GetBytes(text));

// pslist rows as Volatility 3's JSON renderer prints them (indent 2). One 1 MiB block of rows is
// built once and written repeatedly, so the stand-in produces output far faster than any reader.
static void WriteHuge(Stream stream, double megabytes)
{
    var limit = (long)(megabytes * 1024 * 1024);
    var block = new MemoryStream(1 << 20);
    for (var pid = 1000; block.Length < (1 << 20); pid++)
    {
        block.Write(
            Encoding.UTF8.GetBytes(
                $",\n  {{\n    \"CreateTime\": \"2024-03-01T10:15:{pid % 60:00}+00:00\",\n    \"ExitTime\": null,\n    \"File output\": \"Disabled\",\n    \"Handles\": {pid % 700},\n    \"ImageFileName\": \"svchost.exe\",\n    \"Offset(V)\": {0xfa8000000000L + pid * 0x100},\n    \"PID\": {pid},\n    \"PPID\": 512,\n    \"SessionId\": 0,\n    \"Threads\": {pid % 40},\n    \"Wow64\": false,\n    \"__children\": []\n  }}"
            )
        );
    }
    var bytes = block.ToArray();
    // The first row of the first block has no leading comma.
    stream.Write(
        "[\n  {\"PID\": 4, \"PPID\": 0, \"ImageFileName\": \"System\", \"Threads\": 80, \"__children\": []}"u8
    );
    long written = 0;
    while (written + bytes.Length <= limit)
    {
        stream.Write(bytes);
        written += bytes.Length;
    }
    stream.Write("\n]\n"u8);
    stream.Flush();
}

/// <summary>SIGINT's disposition, set directly.</summary>
/// <remarks>
/// A job started in the background by a non-interactive shell (as a CI runner may start the
/// suite) has SIGINT ignored, every child inherits that, and .NET then neither installs its own
/// handler nor honours a <see cref="PosixSignalRegistration"/>: "hang" would outlive the
/// interrupt it exists to test. A tool run from a terminal has the default disposition, which
/// "hang" restores.
/// </remarks>
internal static class Interrupt
{
    private const int SigInt = 2;

    public static void Default() => _ = Signal(SigInt, 0); // SIG_DFL

    [DllImport("libc", EntryPoint = "signal")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern nint Signal(int signal, nint handler);
}
