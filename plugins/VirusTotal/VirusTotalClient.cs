using System.Net;
using System.Text.Json;
using System.Threading.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Polly;
using Polly.RateLimiting;
using Polly.Retry;
using Polly.Timeout;

namespace Microkernel.Plugins.VirusTotal;

/// <summary>A lookup failed in a way that must fail the lookup (not "not found").</summary>
internal sealed class VirusTotalException(string message) : Exception(message);

/// <summary>What VirusTotal said about one resource.</summary>
internal abstract record LookupResult
{
    public sealed record Found(JsonDocument Report) : LookupResult;

    public sealed record NotFound : LookupResult;
}

/// <summary>
/// API v3 GET lookups through <see cref="IHttpClientFactory"/> with a resilience pipeline
/// (retry with exponential backoff on 429/5xx/timeouts honouring Retry-After, an optional rate
/// limiter, a timeout per attempt). The plugin cannot use the host's container, so it owns a
/// small one; disposing the client disposes the container, its handlers and the limiter, which
/// leaves nothing behind that would keep the plugin's load context alive.
/// </summary>
internal sealed class VirusTotalClient : IAsyncDisposable
{
    private const string ClientName = "virustotal";
    private const int MaxReplyBytes = 16 << 20;

    private readonly VirusTotalSettings _settings;
    private readonly ServiceProvider _services;
    private readonly RateLimiter? _limiter;
    private readonly ResiliencePipeline<HttpResponseMessage> _pipeline;

    public VirusTotalClient(VirusTotalSettings settings)
    {
        _settings = settings;
        if (settings.RateLimit > 0)
        {
            _limiter = new SlidingWindowRateLimiter(
                new SlidingWindowRateLimiterOptions
                {
                    PermitLimit = settings.RateLimit,
                    Window = TimeSpan.FromMinutes(1),
                    SegmentsPerWindow = 6,
                    QueueLimit = 1000,
                    QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
                    AutoReplenishment = true,
                }
            );
        }
        var services = new ServiceCollection();
        services
            .AddHttpClient(
                ClientName,
                client =>
                {
                    client.BaseAddress = settings.BaseUrl;
                    // The pipeline's timeouts bound every attempt; HttpClient's own would cut retries short.
                    client.Timeout = System.Threading.Timeout.InfiniteTimeSpan;
                    client.DefaultRequestHeaders.UserAgent.ParseAdd("Microkernel-VirusTotal/1.0");
                }
            )
            .ConfigurePrimaryHttpMessageHandler(() =>
                new SocketsHttpHandler
                {
                    ConnectTimeout = settings.Timeout,
                    PooledConnectionLifetime = TimeSpan.FromMinutes(2),
                    UseProxy = true,
                }
            )
            // No rotation timer: the container lives for one RunAsync, and a pending handler-expiry
            // timer would keep the plugin's load context alive after it.
            .SetHandlerLifetime(System.Threading.Timeout.InfiniteTimeSpan)
            .RedactLoggedHeaders(["x-apikey"]);
        // Polly.Core directly, around SendAsync, rather than Microsoft.Extensions.Http.Resilience's
        // AddResilienceHandler: fewer assemblies in the plugin (no telemetry/compliance stack) and
        // nothing registered in the factory's handler chain. NB: the host still reports this
        // plugin's context as not unloaded once a Polly pipeline has been built (under investigation).
        _pipeline = BuildPipeline(settings, _limiter);
        _services = services.BuildServiceProvider();
    }

    private static ResiliencePipeline<HttpResponseMessage> BuildPipeline(
        VirusTotalSettings settings,
        RateLimiter? limiter
    )
    {
        var builder = new ResiliencePipelineBuilder<HttpResponseMessage>();
        // Polly refuses MaxRetryAttempts = 0: "retries = 0" means no retry strategy.
        if (settings.Retries > 0)
        {
            // HttpRetryStrategyOptions: 429, 408, 5xx, HttpRequestException and timeouts are
            // transient; ShouldRetryAfterHeader makes a Retry-After header the delay.
            builder.AddRetry(
                new RetryStrategyOptions<HttpResponseMessage>
                {
                    MaxRetryAttempts = settings.Retries,
                    BackoffType = DelayBackoffType.Exponential,
                    UseJitter = true,
                    Delay = settings.RetryDelay,
                    MaxDelay = settings.Timeout,
                    ShouldHandle = args =>
                        ValueTask.FromResult(
                            args.Outcome.Exception
                                is HttpRequestException
                                    or TimeoutRejectedException
                                || args.Outcome.Result is { } response
                                    && (
                                        response.StatusCode
                                            is HttpStatusCode.TooManyRequests
                                                or HttpStatusCode.RequestTimeout
                                        || (int)response.StatusCode >= 500
                                    )
                        ),
                    // A Retry-After header (seconds or a date) is the delay; otherwise the backoff.
                    DelayGenerator = args =>
                    {
                        var retryAfter = args.Outcome.Result?.Headers.RetryAfter;
                        TimeSpan? delay =
                            retryAfter?.Delta
                            ?? (retryAfter?.Date is { } date ? date - DateTimeOffset.UtcNow : null);
                        return ValueTask.FromResult(
                            delay is { } d && d > TimeSpan.Zero
                                ? (TimeSpan?)(d < settings.Timeout ? d : settings.Timeout)
                                : null
                        );
                    },
                }
            );
        }
        if (limiter is not null)
        {
            builder.AddRateLimiter(limiter);
        }
        builder.AddTimeout(settings.Timeout);
        return builder.Build();
    }

    /// <summary>GET <c>/api/v3/{collection}/{id}</c>.</summary>
    /// <exception cref="VirusTotalException">Wrong key, quota, timeout, server error or malformed reply.</exception>
    public async Task<LookupResult> GetAsync(
        string collection,
        string id,
        CancellationToken cancellationToken
    )
    {
        var client = _services.GetRequiredService<IHttpClientFactory>().CreateClient(ClientName);
        var path = $"api/v3/{collection}/{Uri.EscapeDataString(id)}";
        HttpResponseMessage response;
        try
        {
            response = await _pipeline
                .ExecuteAsync(
                    async token =>
                    {
                        // A fresh request per attempt: a sent HttpRequestMessage cannot be sent again.
                        using var request = new HttpRequestMessage(HttpMethod.Get, path);
                        request.Headers.TryAddWithoutValidation("x-apikey", _settings.Key);
                        request.Headers.Accept.ParseAdd("application/json");
                        return await client
                            .SendAsync(request, HttpCompletionOption.ResponseHeadersRead, token)
                            .ConfigureAwait(false);
                    },
                    cancellationToken
                )
                .ConfigureAwait(false);
        }
        catch (TimeoutRejectedException)
        {
            throw new VirusTotalException(
                $"VirusTotal did not answer within {_settings.Timeout.TotalSeconds:0.###} s ([virustotal] timeout) for {collection}/{id}."
            );
        }
        catch (RateLimiterRejectedException)
        {
            throw new VirusTotalException(
                "VirusTotal lookups exceed [virustotal] rate_limit and its queue is full."
            );
        }
        catch (HttpRequestException ex)
        {
            throw new VirusTotalException(
                $"VirusTotal could not be reached at {_settings.BaseUrl}: {ex.Message}"
            );
        }

        using (response)
        {
            var body = await ReadBodyAsync(response, cancellationToken).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.OK)
            {
                try
                {
                    return new LookupResult.Found(JsonDocument.Parse(body));
                }
                catch (JsonException ex)
                {
                    throw new VirusTotalException(
                        $"VirusTotal returned malformed JSON for {collection}/{id} (line {ex.LineNumber + 1}, byte {ex.BytePositionInLine}): {FirstSentence(ex.Message)}."
                    );
                }
            }
            var (code, message) = ErrorOf(body);
            return response.StatusCode switch
            {
                HttpStatusCode.NotFound => new LookupResult.NotFound(),
                HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden =>
                    throw new VirusTotalException(
                        $"VirusTotal rejected the API key set in [virustotal] key (HTTP {(int)response.StatusCode} {code ?? "error"}: {message ?? "no message"})."
                    ),
                HttpStatusCode.TooManyRequests => throw new VirusTotalException(
                    $"VirusTotal rate limit or quota exceeded (HTTP 429 {code ?? "QuotaExceededError"}) after {_settings.Retries} retries; lower [virustotal] rate_limit or use a key with a larger quota."
                ),
                _ => throw new VirusTotalException(
                    $"VirusTotal answered HTTP {(int)response.StatusCode} {code ?? response.ReasonPhrase}{(message is null ? "" : ": " + message)} for {collection}/{id}."
                ),
            };
        }
    }

    private static async Task<byte[]> ReadBodyAsync(
        HttpResponseMessage response,
        CancellationToken cancellationToken
    )
    {
        await using var stream = await response
            .Content.ReadAsStreamAsync(cancellationToken)
            .ConfigureAwait(false);
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > MaxReplyBytes)
            {
                throw new VirusTotalException(
                    $"VirusTotal's reply is larger than {MaxReplyBytes} bytes."
                );
            }
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    /// <summary>v3 error bodies: <c>{"error": {"code": "...", "message": "..."}}</c>.</summary>
    private static (string? Code, string? Message) ErrorOf(byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            if (
                document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("error", out var error)
                && error.ValueKind == JsonValueKind.Object
            )
            {
                return (
                    error.TryGetProperty("code", out var code) ? code.GetString() : null,
                    error.TryGetProperty("message", out var message) ? message.GetString() : null
                );
            }
        }
        catch (JsonException) { }
        return (null, null);
    }

    private static string FirstSentence(string message)
    {
        var end = message.IndexOf(" LineNumber", StringComparison.Ordinal);
        return (end > 0 ? message[..end] : message).TrimEnd('.', ' ');
    }

    public async ValueTask DisposeAsync()
    {
        await _services.DisposeAsync().ConfigureAwait(false);
        if (_limiter is not null)
        {
            await _limiter.DisposeAsync().ConfigureAwait(false);
        }
    }
}
