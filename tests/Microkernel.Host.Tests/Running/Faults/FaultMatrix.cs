using System.Text;
using System.Text.RegularExpressions;

namespace Microkernel.Host.Tests.Running.Faults;

/// <summary>The <c>isolation</c> value a case runs its modules with.</summary>
internal enum Isolation
{
    InProcess,
    Process,
}

/// <summary>What the host does with one fault in one mode.</summary>
/// <param name="ExitCode">The exit code of <c>microkernel process</c> (128 + n for a death by signal n).</param>
/// <param name="Outcome">The fault module's outcome in <c>statistics.processing</c>; null when no report is written.</param>
/// <param name="Errors">Regexes matching every <c>debug.errors</c> line, in order, in full.</param>
/// <param name="Leaked">Plugins whose load context the host reports as leaked (<c>statistics.unload.leaked</c>).</param>
/// <param name="Shown">The module's error message for the README: a literal prefix of what <paramref name="Errors"/> asserts.</param>
/// <param name="Note">What else the test asserts for this fault, for the README.</param>
internal sealed record Expected(
    int ExitCode,
    string? Outcome = null,
    IReadOnlyList<string>? Errors = null,
    IReadOnlyList<string>? Leaked = null,
    string? Shown = null,
    string? Note = null
)
{
    public bool Report => Outcome is not null;
}

/// <summary>A fault fixture plugin (tests/FixturePlugins/&lt;Plugin&gt;).</summary>
/// <param name="What">The fault in words, for the README table.</param>
/// <param name="Conf">Lines of its processing.conf section besides <c>enabled</c> and <c>isolation</c>.</param>
/// <param name="NotRunInProcess">Why the fault is not run in process, if it is not.</param>
internal sealed record Fault(
    string Plugin,
    string Key,
    string What,
    IReadOnlyList<string> Conf,
    string? NotRunInProcess = null
)
{
    public string Section => Plugin.ToLowerInvariant();
}

/// <summary>One fault in one isolation mode: how to run it and what must come of it.</summary>
/// <param name="Conf">Extra lines of the fault's section in this mode only.</param>
/// <param name="Environment">Extra environment variables of the host process.</param>
/// <param name="Heavy">Moves gigabytes: started first so the small cases fill the gaps.</param>
internal sealed record FaultCase(
    Fault Fault,
    Isolation Mode,
    Expected Expected,
    IReadOnlyList<string> Conf,
    IReadOnlyDictionary<string, string> Environment,
    bool Heavy
)
{
    public string ModeName => Mode == Isolation.InProcess ? "in-process" : "process";

    public string Id => $"{Fault.Key}/{ModeName}";

    /// <summary>Hard wall-clock limit of the host process; past it the test kills the tree and fails.</summary>
    public TimeSpan Limit => TimeSpan.FromSeconds(Heavy ? 300 : 120);

    public string ProcessingConf()
    {
        var text = new StringBuilder();
        text.Append($"[{Fault.Section}]\nenabled = yes\nisolation = {ModeName}\n");
        foreach (var line in Fault.Conf.Concat(Conf))
        {
            text.Append(line).Append('\n');
        }
        // The healthy module runs after the fault (class-name order) in the same mode.
        text.Append($"\n[trivial]\nenabled = yes\nisolation = {ModeName}\n");
        return text.ToString();
    }
}

/// <summary>
/// Every fault × isolation mode and the host's exact behaviour, as measured. The README's
/// "Fault isolation" table is rendered from this list (see <see cref="Table"/>).
/// </summary>
internal static class FaultMatrix
{
    public const int HugeResultLines = 500_000;
    public const int HugeResultLineLength = 1000;
    public const long FloodBytes = 1L << 30;

    private const string HugeResultNote = "the whole section (501,500,001 bytes) is in the report";

    private static readonly Dictionary<string, string> NoEnvironment = [];

    private static readonly Fault Throws = new(
        "FaultThrows",
        "fault_throws",
        "throws `InvalidOperationException`",
        ["timeout = 60"]
    );
    private static readonly Fault ProcessingError = new(
        "FaultProcessingError",
        "fault_processing_error",
        "throws `ProcessingException`",
        ["timeout = 60"]
    );
    private static readonly Fault CpuLoop = new(
        "FaultCpuLoop",
        "fault_cpu_loop",
        "CPU loop ignoring cancellation (`timeout = 2`)",
        ["timeout = 2"]
    );
    private static readonly Fault BlockedIo = new(
        "FaultBlockedIo",
        "fault_blocked_io",
        "blocks forever in a synchronous `Socket.Accept` (`timeout = 2`)",
        ["timeout = 2"]
    );
    private static readonly Fault Exit = new(
        "FaultExit",
        "fault_exit",
        "`Environment.Exit(3)`",
        ["timeout = 60"]
    );
    private static readonly Fault Recursion = new(
        "FaultRecursion",
        "fault_recursion",
        "unbounded recursion (stack overflow)",
        ["timeout = 60"]
    );
    private static readonly Fault OutOfMemory = new(
        "FaultOutOfMemory",
        "fault_out_of_memory",
        "allocates managed memory until `OutOfMemoryException` (in-process: host run with `DOTNET_GCHeapHardLimit` = 512 MiB; process: `memory_limit = 256`)",
        ["timeout = 120"]
    );
    private static readonly Fault NativeMemory = new(
        "FaultNativeMemory",
        "fault_native_memory",
        "allocates native memory without end (`memory_limit = 256`; the fixture stops itself at 4 GiB)",
        ["timeout = 120"],
        NotRunInProcess: "nothing bounds native memory inside the host, so it would take the machine's memory"
    );
    private static readonly Fault StdoutFlood = new(
        "FaultStdoutFlood",
        "fault_stdout_flood",
        "writes 1 GiB to stdout, no line breaks",
        ["timeout = 240"]
    );
    private static readonly Fault HugeResult = new(
        "FaultHugeResult",
        "fault_huge_result",
        "returns a 500 MB result (500,000 × 1,000-char strings, generated lazily)",
        ["timeout = 240"]
    );
    private static readonly Fault NativeCrash = new(
        "FaultNativeCrash",
        "fault_native_crash",
        "native crash (libc `memset` through a wild pointer: SIGSEGV)",
        ["timeout = 60"]
    );

    public static IReadOnlyList<Fault> Faults { get; } =
    [
        Throws,
        ProcessingError,
        CpuLoop,
        BlockedIo,
        Exit,
        Recursion,
        OutOfMemory,
        NativeMemory,
        StdoutFlood,
        HugeResult,
        NativeCrash,
    ];

    /// <summary>Every case; heavy ones start in this order, longest first.</summary>
    public static IReadOnlyList<FaultCase> Cases { get; } =
    [
        .. Both(
            Throws,
            inProcess: Survives(1, "exception", "fault fixture: thrown on purpose"),
            process: Survives(1, "exception", "fault fixture: thrown on purpose")
        ),
        .. Both(
            ProcessingError,
            inProcess: Survives(1, "processing_error", "fault fixture: the input is unusable"),
            process: Survives(1, "processing_error", "fault fixture: the input is unusable")
        ),
        .. Both(CpuLoop, inProcess: Abandoned(CpuLoop), process: Killed()),
        .. Both(BlockedIo, inProcess: Abandoned(BlockedIo), process: Killed()),
        .. Both(
            Exit,
            inProcess: new Expected(3),
            process: Survives(1, "worker_died", "worker process exited with code 3")
        ),
        .. Both(
            Recursion,
            inProcess: new Expected(134),
            process: Survives(
                1,
                "worker_died",
                "worker process crashed with SIGABRT (exit code 134): Stack overflow. Repeated ",
                more: true
            )
        ),
        .. Both(
            HugeResult,
            inProcess: new Expected(0, "ok", [], Note: HugeResultNote),
            process: new Expected(0, "ok", [], Note: HugeResultNote),
            heavy: true
        ),
        .. Both(
            StdoutFlood,
            inProcess: new Expected(
                0,
                "ok",
                [],
                Note: "the 1 GiB comes out on the host's own stdout"
            ),
            process: new Expected(
                0,
                "ok",
                [],
                Note: "the host logs an excerpt and the byte count (its stderr stays under 64 KiB); its own stdout stays clean"
            ),
            heavy: true
        ),
        new FaultCase(
            OutOfMemory,
            Isolation.InProcess,
            Survives(1, "exception", "Exception of type 'System.OutOfMemoryException' was thrown."),
            [],
            new Dictionary<string, string> { ["DOTNET_GCHeapHardLimit"] = "0x20000000" },
            Heavy: true
        ),
        new FaultCase(
            OutOfMemory,
            Isolation.Process,
            Survives(1, "exception", "Exception of type 'System.OutOfMemoryException' was thrown."),
            ["memory_limit = 256"],
            NoEnvironment,
            Heavy: true
        ),
        new FaultCase(
            NativeMemory,
            Isolation.Process,
            Survives(
                1,
                "memory_limit",
                "worker process killed: its resident memory reached ",
                more: true
            ),
            ["memory_limit = 256"],
            NoEnvironment,
            Heavy: true
        ),
        .. Both(
            NativeCrash,
            inProcess: new Expected(139),
            process: Survives(
                1,
                "worker_died",
                "worker process crashed with SIGSEGV (exit code 139)"
            )
        ),
    ];

    public static FaultCase Case(string id) => Cases.Single(c => c.Id == id);

    /// <summary>The README table: one row per fault, one column per mode.</summary>
    public static string Table()
    {
        var table = new StringBuilder();
        table.Append(
            "| fault (fixture plugin) | `isolation = in-process` | `isolation = process` |\n"
        );
        table.Append("|---|---|---|\n");
        foreach (var fault in Faults)
        {
            var inProcess = Cases.SingleOrDefault(c =>
                c.Fault == fault && c.Mode == Isolation.InProcess
            );
            var process = Cases.Single(c => c.Fault == fault && c.Mode == Isolation.Process);
            var inProcessCell = inProcess is null
                ? $"not run: {fault.NotRunInProcess}"
                : Cell(inProcess.Expected);
            table.Append(
                $"| {fault.What} ({fault.Plugin}) | {inProcessCell} | {Cell(process.Expected)} |\n"
            );
        }
        return table.ToString();
    }

    private static string Cell(Expected expected)
    {
        if (!expected.Report)
        {
            var death = expected.ExitCode switch
            {
                134 => "killed by SIGABRT (exit code 134)",
                139 => "killed by SIGSEGV (exit code 139)",
                var code => $"exits with code {code}",
            };
            return $"**host dies**: {death}, no report";
        }
        var shown = expected.Shown is null ? "" : $" \"{expected.Shown}\"";
        var leaked = expected.Leaked is { Count: > 0 } ? "; its plugin context leaks" : "";
        var note = expected.Note is null ? "" : $"; {expected.Note}";
        return $"survives, exit {expected.ExitCode}: `{expected.Outcome}`{shown}{leaked}{note}";
    }

    private static FaultCase[] Both(
        Fault fault,
        Expected inProcess,
        Expected process,
        bool heavy = false
    ) =>
        [
            new(fault, Isolation.InProcess, inProcess, [], NoEnvironment, heavy),
            new(fault, Isolation.Process, process, [], NoEnvironment, heavy),
        ];

    /// <summary>
    /// The host carries on and the module's one debug.errors line is
    /// "&lt;Class&gt;: &lt;outcome&gt;: &lt;message&gt;", the message exactly, or starting with it when <paramref name="more"/>.
    /// </summary>
    private static Expected Survives(
        int exitCode,
        string outcome,
        string message,
        bool more = false
    ) =>
        new(
            exitCode,
            outcome,
            [$"{{0}}: {Regex.Escape(outcome)}: {Regex.Escape(message)}{(more ? ".*" : "")}"],
            Shown: more ? message.TrimEnd() + "…" : message
        );

    /// <summary>Process mode: a module deaf to cancellation costs its worker.</summary>
    private static Expected Killed() =>
        Survives(
            1,
            "timeout",
            "timed out after 2 s and ignored cancellation for 1 s; worker process killed"
        );

    /// <summary>In process: a module deaf to cancellation is left running, and pins its plugin.</summary>
    private static Expected Abandoned(Fault fault) =>
        new(
            1,
            "abandoned",
            [
                "{0}: abandoned: "
                    + Regex.Escape(
                        "timed out after 2 s and ignored cancellation for 1 s; abandoned (its plugin cannot be unloaded; run untrusted modules with isolation = process)"
                    ),
                Regex.Escape($"Plugin contexts could not be unloaded: {fault.Plugin}"),
            ],
            [fault.Plugin],
            Shown: "timed out after 2 s and ignored cancellation for 1 s; abandoned…"
        );
}
