using Microkernel.Contracts;
using Microsoft.Extensions.Logging;

namespace Fixture.StaticReference;

/// <summary>Keeps host objects in statics: harmless, since the statics die with the plugin's context.</summary>
public sealed class StaticReference : Processing
{
    private static ILogger? s_logger;
    private static IProcessingResults? s_results;
    private static ProcessingContext? s_context;

    public override string Key => "static_reference";

    public override Task<object?> RunAsync(CancellationToken cancellationToken)
    {
        s_logger = Logger;
        s_results = Results;
        s_context = Context;
        s_logger.LogInformation("holding {Count} result keys", s_results.Keys.Count);
        return Task.FromResult<object?>(
            new Dictionary<string, object?> { ["analysis"] = s_context.AnalysisPath }
        );
    }
}
