using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Microkernel.Testing;

/// <summary>Keeps the log lines of one run (and forwards them), so a failing test can show what the module and the host said.</summary>
internal sealed class LogCollector(Action<string>? sink) : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyList<string> Lines => [.. _lines];

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose() { }

    private void Add(string line)
    {
        _lines.Enqueue(line);
        sink?.Invoke(line);
    }

    private sealed class Logger(LogCollector owner, string category) : ILogger
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
            var line = $"{logLevel} {category}: {formatter(state, exception)}";
            owner.Add(exception is null ? line : $"{line}{Environment.NewLine}{exception}");
        }
    }
}
