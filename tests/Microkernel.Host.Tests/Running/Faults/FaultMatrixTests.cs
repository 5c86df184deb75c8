using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Microkernel.Host.Tests.Running.Faults;

/// <summary>
/// Issue 8's fault matrix: every fault fixture plugin in both isolation modes, each run by the
/// real <c>microkernel process</c> as a child process next to a healthy module (Trivial).
/// </summary>
[Trait("Category", "Faults")]
public sealed class FaultMatrixTests(FaultMatrixRuns runs, ITestOutputHelper output)
    : IClassFixture<FaultMatrixRuns>
{
    public static TheoryData<string> CaseIds => [.. FaultMatrix.Cases.Select(c => c.Id)];

    [Theory]
    [MemberData(nameof(CaseIds))]
    public async Task The_host_handles_the_fault_exactly_as_the_matrix_says(string id)
    {
        var faultCase = FaultMatrix.Case(id);
        var expected = faultCase.Expected;
        var run = await runs.Get(id);
        output.WriteLine(
            $"{id}: {run.Host.Elapsed.TotalSeconds:0.0} s (matrix at {runs.Elapsed.TotalSeconds:0.0} s), exit {run.Host.ExitCode}, stdout {run.Host.Stdout.Bytes} B, stderr {run.Host.Stderr.Bytes} B"
        );
        var context = run.Describe();
        if (run.Host.Stdout.Bytes <= HostRun.KeptBytes)
        {
            output.WriteLine(run.Host.Stdout.Head);
        }

        Assert.True(
            run.Host.ExitCode == expected.ExitCode,
            $"expected exit code {expected.ExitCode}, got {context}"
        );
        if (!expected.Report)
        {
            Assert.True(run.Report is null, $"expected no report.json; {context}");
            return;
        }
        var report = run.Report ?? throw new Xunit.Sdk.XunitException($"no report.json; {context}");

        var statistics = Section(report, "statistics", context);
        var modules = statistics.GetProperty("processing").EnumerateArray().ToList();
        Assert.Equal(
            [faultCase.Fault.Plugin, "Trivial"],
            modules.Select(m => m.GetProperty("name").GetString())
        );
        var fault = modules[0];
        Assert.Equal(expected.Outcome, fault.GetProperty("outcome").GetString());
        Assert.Equal("ok", modules[1].GetProperty("outcome").GetString());
        Assert.Equal(
            expected.Leaked ?? [],
            statistics
                .GetProperty("unload")
                .GetProperty("leaked")
                .EnumerateArray()
                .Select(p => p.GetString())
        );

        // The healthy module, which runs after the fault, is in the report.
        Assert.Equal("""{"task":42,"ok":true}""", Section(report, "trivial", context).GetRawText());

        var errors = report.TryGetValue("debug", out var debug)
            ? debug
                .Value!.Value.GetProperty("errors")
                .EnumerateArray()
                .Select(e => e.GetString()!)
                .ToList()
            : [];
        var patterns = (expected.Errors ?? [])
            .Select(p =>
                p.Replace("{0}", Regex.Escape(faultCase.Fault.Plugin), StringComparison.Ordinal)
            )
            .ToList();
        Assert.True(
            errors.Count == patterns.Count
                && errors
                    .Zip(patterns)
                    .All(e => Regex.IsMatch(e.First, $"^(?:{e.Second})$", RegexOptions.Singleline)),
            $"debug.errors\n  {string.Join("\n  ", errors)}\ndoes not match\n  {string.Join("\n  ", patterns)}"
        );
        if (fault.TryGetProperty("error", out var error))
        {
            // statistics.processing[].error is the same line without the class name.
            Assert.Equal($"{faultCase.Fault.Plugin}: {error.GetString()}", errors[0]);
        }

        switch (faultCase.Fault.Key)
        {
            case "fault_huge_result":
                HugeResultIsWhole(report, context);
                break;
            case "fault_stdout_flood":
                StdoutFloodWentWhereItShould(faultCase, run, report, context);
                break;
            default:
                Assert.False(
                    report.ContainsKey(faultCase.Fault.Key),
                    $"a failed module's section is in the report; {context}"
                );
                break;
        }
    }

    /// <summary>500,000 strings of 1,000 characters, written compactly: exactly 501,500,001 bytes.</summary>
    private static void HugeResultIsWhole(
        IReadOnlyDictionary<string, SectionDigest> report,
        string context
    )
    {
        Assert.True(report.TryGetValue("fault_huge_result", out var huge), context);
        Assert.Equal(FaultMatrix.HugeResultLines, huge.Items);
        Assert.Equal(
            (long)FaultMatrix.HugeResultLines * FaultMatrix.HugeResultLineLength,
            huge.StringBytes
        );
        Assert.Equal(
            FaultMatrix.HugeResultLines * (FaultMatrix.HugeResultLineLength + 3L) + 1,
            huge.Bytes
        );
    }

    private static void StdoutFloodWentWhereItShould(
        FaultCase faultCase,
        CaseRun run,
        IReadOnlyDictionary<string, SectionDigest> report,
        string context
    )
    {
        Assert.Equal(
            """{"megabytes":1024}""",
            Section(report, "fault_stdout_flood", context).GetRawText()
        );
        if (faultCase.Mode == Isolation.InProcess)
        {
            // In process, the module owns the host's stdout.
            Assert.True(run.Host.Stdout.Bytes >= FaultMatrix.FloodBytes, context);
        }
        else
        {
            // A worker's stdout goes to the host's log, bounded, and never to the host's own stdout.
            Assert.True(run.Host.Stdout.Bytes < 64 << 10, context);
            Assert.True(run.Host.Stderr.Bytes < 64 << 10, context);
            Assert.Contains(
                $"wrote {FaultMatrix.FloodBytes} bytes to stdout",
                run.Host.Stderr.ToString(),
                StringComparison.Ordinal
            );
        }
    }

    private static JsonElement Section(
        IReadOnlyDictionary<string, SectionDigest> report,
        string key,
        string context
    ) =>
        report.TryGetValue(key, out var section) && section.Value is { } value
            ? value
            : throw new Xunit.Sdk.XunitException($"report.json has no section '{key}'; {context}");
}
