using Microkernel.Contracts;

namespace Microkernel.Plugins.VirusTotal;

/// <summary>The <c>[virustotal]</c> section of processing.conf.</summary>
internal sealed record VirusTotalSettings
{
    public const string DefaultBaseUrl = "https://www.virustotal.com";

    /// <summary>The API key. Never logged, reported or put in a message.</summary>
    public required string Key { get; init; }

    public required Uri BaseUrl { get; init; }

    /// <summary>Per HTTP attempt (Cuckoo's <c>timeout</c>, 60 s).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The whole module run: main lookup, retries, rate-limit waits and dropped files.</summary>
    public TimeSpan TotalTimeout { get; init; } = TimeSpan.FromMinutes(5);

    public int Retries { get; init; } = 3;

    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Requests per minute; 0 = unlimited. The public API allows 4.</summary>
    public int RateLimit { get; init; }

    public bool Dropped { get; init; }

    /// <summary>At most this many dropped files are looked up (a request budget per task).</summary>
    public int DroppedLimit { get; init; } = 10;

    public static VirusTotalSettings From(ModuleOptions options)
    {
        var key = options.GetString("key")?.Trim() ?? "";
        if (key.Length == 0)
        {
            throw new ProcessingException(
                "VirusTotal API key not configured: set [virustotal] key in conf/processing.conf (Microkernel ships no shared key)."
            );
        }
        var baseUrl = options.GetString("base_url") is { Length: > 0 } raw ? raw : DefaultBaseUrl;
        if (
            !Uri.TryCreate(baseUrl.TrimEnd('/') + "/", UriKind.Absolute, out var uri)
            || uri.Scheme is not ("http" or "https")
        )
        {
            throw new ProcessingException(
                $"[virustotal] base_url = '{baseUrl}' is not an http(s) URL."
            );
        }
        var retries = options.GetInt32("retries", 3);
        var rateLimit = options.GetInt32("rate_limit", 0);
        var droppedLimit = options.GetInt32("dropped_limit", 10);
        if (retries < 0 || rateLimit < 0 || droppedLimit < 0)
        {
            throw new ProcessingException(
                "[virustotal] retries, rate_limit and dropped_limit must not be negative."
            );
        }
        return new VirusTotalSettings
        {
            Key = key,
            BaseUrl = uri,
            Timeout = options.GetSeconds("timeout", TimeSpan.FromSeconds(60)),
            TotalTimeout = options.GetSeconds("total_timeout", TimeSpan.FromMinutes(5)),
            Retries = retries,
            RetryDelay = options.GetSeconds("retry_delay", TimeSpan.FromSeconds(2)),
            RateLimit = rateLimit,
            Dropped = options.GetBoolean("dropped", false),
            DroppedLimit = droppedLimit,
        };
    }
}
