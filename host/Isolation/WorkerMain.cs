using System.Diagnostics;
using System.IO.Pipes;
using Microkernel.Contracts;
using Microkernel.Host.Plugins;
using Microkernel.Host.Results;
using Microkernel.Host.Running;
using Microkernel.Host.Telemetry;
using Microsoft.Extensions.Logging;

namespace Microkernel.Host.Isolation;

/// <summary>
/// <c>microkernel worker --pipe NAME</c>: the far side of process isolation. Loads the plugins it
/// is given into their own collectible contexts, runs one module at a time with the same
/// executor the host uses in process, streams the result back, and proves the contexts unload.
/// Kept free of the generic host so a worker starts in tens of milliseconds.
/// </summary>
internal static class WorkerMain
{
    public static async Task<int> RunAsync(string[] args)
    {
        var pipe = args.Length == 3 && args[1] == "--pipe" ? args[2] : null;
        if (pipe is null)
        {
            await Console
                .Error.WriteLineAsync(
                    "usage: microkernel worker --pipe NAME (started by the host, not by hand)"
                )
                .ConfigureAwait(false);
            return 2;
        }
        var client = new NamedPipeClientStream(
            ".",
            pipe,
            PipeDirection.InOut,
            PipeOptions.Asynchronous
        );
        await client.ConnectAsync(30_000).ConfigureAwait(false);
        using var channel = new WorkerChannel(client);
        using var listener = ForwardSpans(channel);
        using var loggerFactory = LoggerFactory.Create(builder =>
            builder.SetMinimumLevel(LogLevel.Debug).AddProvider(new ChannelLoggerProvider(channel))
        );
        var logger = loggerFactory.CreateLogger("Microkernel.Worker");
        var worker = new Worker(channel, loggerFactory, logger);
        try
        {
            await worker.ServeAsync().ConfigureAwait(false);
        }
        catch (IOException)
        {
            // The host went away: nothing left to report to.
        }
        return 0;
    }

    private static ActivityListener ForwardSpans(WorkerChannel channel)
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == MicrokernelTelemetry.Name,
            Sample = (ref _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (activity.ParentSpanId == default)
                {
                    return;
                }
                var tags = new Dictionary<string, string?>(StringComparer.Ordinal);
                foreach (var (key, value) in activity.EnumerateTagObjects())
                {
                    tags[key] = value?.ToString();
                }
                try
                {
                    channel.Send(
                        new SpanRecord(
                            activity.DisplayName,
                            activity.TraceId.ToHexString(),
                            activity.ParentSpanId.ToHexString(),
                            activity.StartTimeUtc,
                            activity.StartTimeUtc + activity.Duration,
                            (int)activity.Status,
                            activity.StatusDescription,
                            tags
                        )
                    );
                }
                catch (IOException) { }
            },
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }

    private sealed class Worker(WorkerChannel channel, ILoggerFactory loggerFactory, ILogger logger)
    {
        private InProcessPluginSession? _session;
        private Task _running = Task.CompletedTask;
        private CancellationTokenSource? _cancel;

        public async Task ServeAsync()
        {
            while (
                await channel.ReadAsync(CancellationToken.None).ConfigureAwait(false) is { } frame
            )
            {
                WorkerMessage message;
                using (frame)
                {
                    message = frame.ToMessage();
                }
                switch (message)
                {
                    case LoadRequest load:
                        Load(load);
                        break;
                    case RunRequest run:
                        await _running.ConfigureAwait(false);
                        _cancel?.Dispose();
                        _cancel = new CancellationTokenSource();
                        _running = RunAsync(run, _cancel.Token);
                        break;
                    case CancelRequest:
                        if (_cancel is { } cancel)
                        {
                            await cancel.CancelAsync().ConfigureAwait(false);
                        }
                        break;
                    case UnloadRequest unload:
                        await _running.ConfigureAwait(false);
                        Unload(unload);
                        break;
                    default:
                        throw new InvalidDataException(
                            $"the host sent a {message.GetType().Name}, which only a worker sends"
                        );
                }
            }
        }

        private void Load(LoadRequest request)
        {
            using var activity = MicrokernelTelemetry.Source.StartActivity(
                "worker.plugins.load",
                ActivityKind.Internal,
                WorkerSpans.Parent(request.TraceParent)
            );
            _session = InProcessPluginSession.Load(request.Plugins, logger);
            activity?.SetTag("microkernel.plugins.modules", _session.Modules.Count);
            channel.Send(new LoadReply(_session.Modules, _session.Failures));
        }

        private async Task RunAsync(RunRequest request, CancellationToken cancellationToken)
        {
            RunReply reply;
            using (
                var activity = MicrokernelTelemetry.Source.StartActivity(
                    "worker.module.run",
                    ActivityKind.Internal,
                    WorkerSpans.Parent(request.TraceParent)
                )
            )
            {
                activity?.SetTag("microkernel.module.name", request.ClassName);
                activity?.SetTag("microkernel.module.plugin", request.Plugin);
                try
                {
                    reply = await ExecuteAsync(request, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    // A fault of the worker itself still owes the host a reply.
                    reply = new RunReply(
                        ModuleOutcome.Exception,
                        ex.GetType().FullName,
                        $"the worker failed around the module: {ex.Message}",
                        ex.ToString(),
                        0
                    );
                }
                activity?.SetTag("microkernel.module.outcome", reply.Outcome);
                if (ModuleOutcome.IsFailure(reply.Outcome))
                {
                    activity?.SetStatus(ActivityStatusCode.Error, reply.ErrorMessage);
                }
            }
            channel.Send(reply);
        }

        private async Task<RunReply> ExecuteAsync(
            RunRequest request,
            CancellationToken cancellationToken
        )
        {
            var module = _session?.Modules.FirstOrDefault(m =>
                m.Plugin == request.Plugin && m.ClassName == request.ClassName
            );
            if (module is null)
            {
                return new RunReply(
                    ModuleOutcome.Exception,
                    "protocol",
                    $"module {request.Plugin}/{request.ClassName} is not loaded in this worker",
                    null,
                    0
                );
            }
            var context = request.Context;
            using var results = new SectionStore(context.ScratchPath);
            foreach (var (key, path) in context.Sections)
            {
                results.TryAdd(key, path, "host");
            }
            var processing = new ProcessingContext(
                context.AnalysisPath,
                context.Task,
                new ModuleOptions(context.Section, context.Options, context.OptionsSource),
                loggerFactory.CreateLogger($"Microkernel.Modules.{module.ClassName}"),
                results,
                context.ScratchPath,
                context.ConfDirectory,
                new ModuleOptions("processing", context.ProcessingOptions),
                text => channel.Send(new ErrorRecord(text))
            );
            var chunks = new ResultChunkStream(channel);
            var invocation = new ModuleInvocation(
                processing,
                "",
                Timeout.InfiniteTimeSpan,
                TimeSpan.FromSeconds(request.GraceSeconds),
                result =>
                {
                    using var buffered = new BufferedStream(chunks, WorkerChannel.ChunkBytes);
                    InProcessModuleExecutor.WriteTo(result, buffered);
                }
            );
            var execution = await new InProcessModuleExecutor(_session!)
                .ExecuteAsync(module, invocation, cancellationToken)
                .ConfigureAwait(false);
            return new RunReply(
                execution.Outcome,
                execution.ErrorType,
                execution.ErrorMessage,
                execution.ErrorDetail,
                chunks.BytesWritten
            );
        }

        private void Unload(UnloadRequest request)
        {
            UnloadReport report;
            // The span must be finished, and so sent, before the reply: the host closes the
            // channel once it has the reply.
            using (
                var activity = MicrokernelTelemetry.Source.StartActivity(
                    "worker.plugins.unload",
                    ActivityKind.Internal,
                    WorkerSpans.Parent(request.TraceParent)
                )
            )
            {
                report = _session?.UnloadAndVerify(request.GcRounds) ?? UnloadReport.None;
                _session = null;
                activity?.SetTag("microkernel.plugins.contexts", report.Contexts);
                activity?.SetTag("microkernel.plugins.leaked", report.Leaked.Count);
            }
            channel.Send(
                new UnloadReply(
                    report.Contexts,
                    report.Unloaded,
                    report.Leaked,
                    report.GcRounds,
                    report.Elapsed.TotalMilliseconds
                )
            );
        }
    }
}

/// <summary>Sends every log record over the channel; the host logs it through its own pipeline.</summary>
internal sealed class ChannelLoggerProvider(WorkerChannel channel) : ILoggerProvider
{
    private const int MaxTextChars = 16 << 10;

    public ILogger CreateLogger(string categoryName) => new ChannelLogger(channel, categoryName);

    public void Dispose() { }

    private sealed class ChannelLogger(WorkerChannel channel, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(
            LogLevel logLevel,
            EventId eventId,
            TState state,
            Exception? exception,
            Func<TState, Exception?, string> formatter
        )
        {
            var text = formatter(state, exception);
            if (exception is not null)
            {
                text += Environment.NewLine + exception;
            }
            if (text.Length > MaxTextChars)
            {
                text = text[..MaxTextChars] + "... (truncated)";
            }
            try
            {
                channel.Send(new LogRecord((int)logLevel, category, eventId.Id, text));
            }
            catch (IOException) { }
            catch (ObjectDisposedException) { }
        }
    }
}
