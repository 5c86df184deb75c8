using System.Text.Json;
using Microkernel.Contracts;
using Microkernel.Host.Plugins;
using Microkernel.Host.Results;

namespace Microkernel.Host.Running;

/// <summary>Runs modules on the thread pool inside the host process, in their plugin's load context.</summary>
internal sealed class InProcessModuleExecutor(InProcessPluginSession session) : IModuleExecutor
{
    public async Task<ModuleExecution> ExecuteAsync(
        ModuleDescriptor module,
        ModuleInvocation invocation,
        CancellationToken cancellationToken
    )
    {
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var run = Start(module, invocation, budget.Token);
        // WaitAsync disposes its timer as soon as the run completes: a pending Task.Delay would
        // keep the finished run (and through it the module) reachable until the timer fired.
        try
        {
            return await run.WaitAsync(invocation.Timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException) { }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested) { }

        var outcome = cancellationToken.IsCancellationRequested
            ? ModuleOutcome.Cancelled
            : ModuleOutcome.Timeout;
        var reason =
            outcome == ModuleOutcome.Cancelled
                ? "cancelled: the host is shutting down"
                : $"timed out after {invocation.Timeout.TotalSeconds:0.###} s";
        await budget.CancelAsync().ConfigureAwait(false);
        try
        {
            // It stopped in time; whatever it produced is discarded, since it overran its budget.
            var late = await run.WaitAsync(invocation.Grace, CancellationToken.None)
                .ConfigureAwait(false);
            if (invocation.Store is null)
            {
                late.Section?.Delete();
            }
            return new ModuleExecution(outcome, ErrorType: "timeout", ErrorMessage: reason);
        }
        catch (TimeoutException)
        {
            session.MarkAbandoned(module);
            return new ModuleExecution(
                ModuleOutcome.Abandoned,
                ErrorType: "timeout",
                ErrorMessage: $"{reason} and ignored cancellation for {invocation.Grace.TotalSeconds:0.###} s; abandoned (its plugin cannot be unloaded; run untrusted modules with isolation = process)"
            );
        }
    }

    private Task<ModuleExecution> Start(
        ModuleDescriptor module,
        ModuleInvocation invocation,
        CancellationToken token
    )
    {
        // Host continuations must not run inline on the module's stack: a plugin frame still on
        // a stack keeps its load context alive while the host tries to unload it.
        var completion = new TaskCompletionSource<ModuleExecution>(
            TaskCreationOptions.RunContinuationsAsynchronously
        );
        _ = Task.Run(
            async () =>
                completion.SetResult(
                    await RunAsync(module, invocation, token).ConfigureAwait(false)
                ),
            CancellationToken.None
        );
        return completion.Task;
    }

    private async Task<ModuleExecution> RunAsync(
        ModuleDescriptor descriptor,
        ModuleInvocation invocation,
        CancellationToken token
    )
    {
        try
        {
            // Taken on the module's own thread: a kept session constructs a new instance per
            // run, and a throwing constructor is then a failure of this module like any other.
            var module = session.TakeInstance(descriptor);
            module.Initialize(invocation.Context);
            var result = await module.RunAsync(token).ConfigureAwait(false);
            if (result is null)
            {
                return new ModuleExecution(ModuleOutcome.Empty);
            }
            if (invocation.Store is { } store)
            {
                store(result);
                return new ModuleExecution(ModuleOutcome.Ok);
            }
            return new ModuleExecution(
                ModuleOutcome.Ok,
                WriteSection(result, invocation.SectionPath)
            );
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            return new ModuleExecution(
                ModuleOutcome.Timeout,
                ErrorType: "timeout",
                ErrorMessage: "cancelled"
            );
        }
        catch (MissingDependencyException ex)
        {
            return Failure(ModuleOutcome.MissingDependency, ex);
        }
        catch (ProcessingException ex)
        {
            return Failure(ModuleOutcome.ProcessingError, ex);
        }
        catch (Exception ex)
        {
            return Failure(ModuleOutcome.Exception, ex);
        }
    }

    /// <summary>Converts the exception to strings at once: a stored exception's stack would pin the plugin.</summary>
    private static ModuleExecution Failure(string outcome, Exception ex) =>
        ex is System.Reflection.TargetInvocationException { InnerException: { } inner }
            ? Failure(outcome, inner)
            : new(
                outcome,
                ErrorType: ex.GetType().FullName,
                ErrorMessage: ex.Message,
                ErrorDetail: ex.ToString()
            );

    /// <summary>
    /// Serialises the result before the plugin can be dropped: in memory while small, to
    /// <paramref name="sectionPath"/> once large.
    /// </summary>
    internal static SectionContent WriteSection(object result, string sectionPath)
    {
        if (result is JsonSection section)
        {
            return TakeJsonSection(section, sectionPath);
        }
        using var stream = new SectionStream(() => sectionPath);
        using (
            var writer = new Utf8JsonWriter(
                stream,
                new JsonWriterOptions { SkipValidation = false }
            )
        )
        {
            ResultSerializer.Write(writer, result);
        }
        return SectionContent.Of(stream.ToSection());
    }

    /// <summary>Streams the result to <paramref name="destination"/> (a worker's result channel).</summary>
    internal static void WriteTo(object result, Stream destination)
    {
        if (result is JsonSection { FilePath: { } source })
        {
            using (
                var file = new FileStream(
                    source,
                    FileMode.Open,
                    FileAccess.Read,
                    FileShare.Read,
                    1 << 16,
                    FileOptions.SequentialScan
                )
            )
            {
                file.CopyTo(destination, 1 << 16);
            }
            SectionStore.TryDelete(source);
            return;
        }
        if (result is JsonSection { } bytes)
        {
            destination.Write(bytes.Utf8.Span);
            return;
        }
        using var writer = new Utf8JsonWriter(destination);
        ResultSerializer.Write(writer, result);
    }

    private static SectionContent TakeJsonSection(JsonSection section, string sectionPath)
    {
        var content = SectionContent.Of(section);
        try
        {
            // A module's file stays where it is when it lies in the run's scratch folder (deleted
            // with it); from anywhere else it is moved there, since the host takes ownership.
            if (
                content.FilePath is { } source
                && !source.StartsWith(ScratchRoot(sectionPath), StringComparison.Ordinal)
            )
            {
                Directory.CreateDirectory(Path.GetDirectoryName(sectionPath)!);
                File.Move(source, sectionPath);
                content = SectionContent.OfFile(sectionPath);
            }
            using var check = content.OpenRead();
            JsonValidator.Validate(check);
            return content;
        }
        catch (JsonException ex)
        {
            content.Delete();
            throw new ProcessingException($"The module returned malformed JSON: {ex.Message}", ex);
        }
    }

    /// <summary>The run's scratch folder: section files go to its <c>sections</c> folder.</summary>
    private static string ScratchRoot(string sectionPath) =>
        Path.GetDirectoryName(Path.GetDirectoryName(sectionPath))! + Path.DirectorySeparatorChar;
}
