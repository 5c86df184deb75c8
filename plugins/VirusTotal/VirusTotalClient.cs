using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;

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
/// API v3 GET lookups through <see cref="IHttpClientFactory"/> with a small hand-written resilience
/// loop: a timeout per attempt, retries with exponential backoff and jitter on 429/408/5xx,
/// connection failures and attempt timeouts (a Retry-After header, seconds or date, is the delay),
/// and an optional per-key sliding-window rate limit. The module's total timeout cancels all of it.
/// </summary>
/// <remarks>
/// Why not Polly (measured, see docs/virustotal.md): building any Polly.Core pipeline validates its
/// options with DataAnnotations, which goes through TypeDescriptor; TypeDescriptor's static
/// property cache (System.ComponentModel.TypeConverter, default load context) then holds the
/// plugin's option types (e.g. <c>Polly.ResilienceStrategyOptions</c>) as keys, and so the
/// plugin's LoaderAllocator, for the life of the process: the host reports the context as not
/// unloaded. Nothing public clears that cache, so the plugin cannot use Polly. The plugin owns a
/// small container (it cannot use the host's); disposing the client disposes it and its handlers.
/// </remarks>
internal sealed class VirusTotalClient : IAsyncDisposable
{
    private const string ClientName = "virustotal";
    private const int MaxReplyBytes = 16 << 20;

    private readonly VirusTotalSettings _settings;
    private readonly ServiceProvider _services;
    private readonly SlidingWindowLimit? _limit;

    public VirusTotalClient(VirusTotalSettings settings)
    {
        _settings = settings;
        if (settings.RateLimit > 0)
        {
            _limit = new SlidingWindowLimit(settings.RateLimit, TimeSpan.FromMinutes(1));
        }
        var services = new ServiceCollection();
        services
            .AddHttpClient(
                ClientName,
                client =>
                {
                    client.BaseAddress = settings.BaseUrl;
                    // Every attempt has its own timeout; HttpClient's own would cut retries short.
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
        _services = services.BuildServiceProvider();
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
        var reply = await SendWithRetriesAsync(client, path, collection, id, cancellationToken)
            .ConfigureAwait(false);
        if (reply.Status == HttpStatusCode.OK)
        {
            try
            {
                return new LookupResult.Found(JsonDocument.Parse(reply.Body));
            }
            catch (JsonException ex)
            {
                throw new VirusTotalException(
                    $"VirusTotal returned malformed JSON for {collection}/{id} (line {ex.LineNumber + 1}, byte {ex.BytePositionInLine}): {FirstSentence(ex.Message)}."
                );
            }
        }
        var (code, message) = ErrorOf(reply.Body);
        return reply.Status switch
        {
            HttpStatusCode.NotFound => new LookupResult.NotFound(),
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden =>
                throw new VirusTotalException(
                    $"VirusTotal rejected the API key set in [virustotal] key (HTTP {(int)reply.Status} {code ?? "error"}: {message ?? "no message"})."
                ),
            HttpStatusCode.TooManyRequests => throw new VirusTotalException(
                $"VirusTotal rate limit or quota exceeded (HTTP 429 {code ?? "QuotaExceededError"}) after {_settings.Retries} retries; lower [virustotal] rate_limit or use a key with a larger quota."
            ),
            _ => throw new VirusTotalException(
                $"VirusTotal answered HTTP {(int)reply.Status} {code ?? reply.Reason}{(message is null ? "" : ": " + message)} for {collection}/{id}."
            ),
        };
    }

    /// <summary>One reply read whole (bounded by <see cref="MaxReplyBytes"/>).</summary>
    private sealed record Reply(
        HttpStatusCode Status,
        string? Reason,
        RetryConditionHeaderValue? RetryAfter,
        byte[] Body
    );

    /// <summary>
    /// Attempts until a non-transient reply or the retries are spent. Each attempt (send and read
    /// the body) runs under its own <c>timeout</c>; the caller's token is the total budget.
    /// </summary>
    private async Task<Reply> SendWithRetriesAsync(
        HttpClient client,
        string path,
        string collection,
        string id,
        CancellationToken cancellationToken
    )
    {
        for (var attempt = 0; ; attempt++)
        {
            if (_limit is not null)
            {
                await _limit.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            Reply? reply = null;
            VirusTotalException? failure = null;
            using (
                var attemptBudget = CancellationTokenSource.CreateLinkedTokenSource(
                    cancellationToken
                )
            )
            {
                attemptBudget.CancelAfter(_settings.Timeout);
                try
                {
                    reply = await SendOnceAsync(client, path, attemptBudget.Token)
                        .ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    failure = new VirusTotalException(
                        $"VirusTotal did not answer within {_settings.Timeout.TotalSeconds:0.###} s ([virustotal] timeout) for {collection}/{id}."
                    );
                }
                catch (Exception ex) when (ex is HttpRequestException or IOException)
                {
                    failure = new VirusTotalException(
                        $"VirusTotal could not be reached at {_settings.BaseUrl}: {ex.Message}"
                    );
                }
            }
            var transient = failure is not null || IsTransient(reply!.Status);
            if (!transient || attempt >= _settings.Retries)
            {
                return reply ?? throw failure!;
            }
            var delay = RetryAfterDelay(reply?.RetryAfter) ?? Backoff(attempt);
            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<Reply> SendOnceAsync(
        HttpClient client,
        string path,
        CancellationToken cancellationToken
    )
    {
        // A fresh request per attempt: a sent HttpRequestMessage cannot be sent again.
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.TryAddWithoutValidation("x-apikey", _settings.Key);
        request.Headers.Accept.ParseAdd("application/json");
        using var response = await client
            .SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken)
            .ConfigureAwait(false);
        var body = await ReadBodyAsync(response, cancellationToken).ConfigureAwait(false);
        return new Reply(
            response.StatusCode,
            response.ReasonPhrase,
            response.Headers.RetryAfter,
            body
        );
    }

    private static bool IsTransient(HttpStatusCode status) =>
        status is HttpStatusCode.TooManyRequests or HttpStatusCode.RequestTimeout
        || (int)status >= 500;

    /// <summary>Retry-After as seconds or an HTTP date, capped at one attempt's timeout.</summary>
    private TimeSpan? RetryAfterDelay(RetryConditionHeaderValue? retryAfter)
    {
        var delay =
            retryAfter?.Delta
            ?? (retryAfter?.Date is { } date ? date - DateTimeOffset.UtcNow : null);
        return delay is { } d && d > TimeSpan.Zero
            ? (d < _settings.Timeout ? d : _settings.Timeout)
            : null;
    }

    /// <summary>retry_delay * 2^attempt, +-25 % jitter, capped at one attempt's timeout.</summary>
    private TimeSpan Backoff(int attempt)
    {
        var exponential =
            _settings.RetryDelay.TotalMilliseconds * Math.Pow(2, Math.Min(attempt, 16));
        var jittered = exponential * (0.75 + (Random.Shared.NextDouble() * 0.5));
        return TimeSpan.FromMilliseconds(Math.Min(jittered, _settings.Timeout.TotalMilliseconds));
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
        _limit?.Dispose();
    }
}

/// <summary>
/// At most <c>permits</c> requests in any <c>window</c>: remembers when the last permits were
/// taken and waits until the oldest leaves the window. No background timer (unlike
/// System.Threading.RateLimiting's auto-replenishing limiters), so nothing outlives the run.
/// </summary>
internal sealed class SlidingWindowLimit(int permits, TimeSpan window) : IDisposable
{
    private readonly Queue<long> _taken = new();
    private readonly SemaphoreSlim _gate = new(1, 1);

    public async Task WaitAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            while (true)
            {
                var now = Stopwatch.GetTimestamp();
                while (_taken.Count > 0 && Stopwatch.GetElapsedTime(_taken.Peek(), now) >= window)
                {
                    _taken.Dequeue();
                }
                if (_taken.Count < permits)
                {
                    _taken.Enqueue(now);
                    return;
                }
                var wait = window - Stopwatch.GetElapsedTime(_taken.Peek(), now);
                await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose() => _gate.Dispose();
}
