using System.Globalization;
using Microkernel.Host.Running;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Microkernel.Host.Cli;

/// <summary><c>microkernel process &lt;analysis-dir&gt;...</c>: one-shot processing.</summary>
internal static class ProcessCommand
{
    public const int Success = 0;
    public const int ModuleErrors = 1;
    public const int Unusable = 2;

    public static async Task<int> RunAsync(
        HostSettings settings,
        IReadOnlyList<string> analysisDirectories,
        string? output,
        IReadOnlySet<string>? only,
        IReadOnlySet<string> skip,
        CancellationToken cancellationToken
    )
    {
        if (output is not null && output != "-" && analysisDirectories.Count > 1)
        {
            await Console
                .Error.WriteLineAsync(
                    "--output names one file, so it takes exactly one analysis folder."
                )
                .ConfigureAwait(false);
            return Unusable;
        }
        using var host = HostFactory.Build(settings);
        await host.StartAsync(cancellationToken).ConfigureAwait(false);
        var runner = host.Services.GetRequiredService<AnalysisRunner>();
        var exitCode = Success;
        var quiet = output == "-";
        var lines = quiet ? Console.Error : Console.Out;
        foreach (var directory in analysisDirectories)
        {
            try
            {
                await lines.WriteLineAsync($"{Path.GetFullPath(directory)}").ConfigureAwait(false);
                var progress = new SynchronousProgress<ModuleRunRecord>(r =>
                    lines.WriteLine(Format(r))
                );
                var result = await runner
                    .RunAsync(
                        new AnalysisRequest(directory)
                        {
                            OutputPath = output,
                            Only = only,
                            Skip = skip,
                        },
                        progress,
                        cancellationToken
                    )
                    .ConfigureAwait(false);
                foreach (var failure in result.LoadFailures)
                {
                    await lines
                        .WriteLineAsync(
                            $"  {"load_failed", -18} {failure.Plugin, -22} {failure.Reason}"
                        )
                        .ConfigureAwait(false);
                }
                await lines
                    .WriteLineAsync(
                        string.Create(
                            CultureInfo.InvariantCulture,
                            $"  report: {result.ReportPath ?? "stdout"} ({result.Elapsed.TotalSeconds:0.000} s; {result.Unload.Unloaded}/{result.Unload.Contexts} plugin contexts unloaded)"
                        )
                    )
                    .ConfigureAwait(false);
                if (result.HasModuleErrors || result.Unload.Leaked.Count > 0)
                {
                    exitCode = Math.Max(exitCode, ModuleErrors);
                }
            }
            catch (UnusableAnalysisException ex)
            {
                await Console.Error.WriteLineAsync($"error: {ex.Message}").ConfigureAwait(false);
                exitCode = Unusable;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                await Console
                    .Error.WriteLineAsync(
                        $"error: {directory}: the report could not be written: {ex.Message}"
                    )
                    .ConfigureAwait(false);
                exitCode = Unusable;
            }
        }
        await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
        return exitCode;
    }

    private static string Format(ModuleRunRecord record) =>
        string.Create(
            CultureInfo.InvariantCulture,
            $"  {record.Outcome, -18} {record.Module.ClassName, -22} {record.Module.Key, -12} {record.Elapsed.TotalSeconds, 8:0.000} s{(record.Error is null ? "" : "  " + record.Error)}"
        );

    /// <summary>Progress&lt;T&gt; posts to the thread pool; lines must come out in order.</summary>
    private sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
