using Microkernel.Contracts;
using Microkernel.Plugins.Network.Capture;
using Microkernel.Plugins.Network.Dissection;

namespace Microkernel.Plugins.Network;

/// <summary>The <c>[network]</c> options.</summary>
internal sealed class NetworkSettings
{
    public required DissectorOptions Dissector { get; init; }
    public bool ResolveDns { get; init; }
    public TimeSpan ResolveDnsTimeout { get; init; }
    public TimeSpan ResolveDnsBudget { get; init; }
    public bool SortPcap { get; init; }
    public long MaxStreamBytes { get; init; }
    public long MaxBufferedBytes { get; init; }

    /// <summary>
    /// Captures at least this large are read by two threads at once (dissection and TCP
    /// reassembly); smaller ones are read twice on the module's thread. A second thread costs its
    /// start and a wake-up of the other core, more than a small capture's whole second pass, and
    /// a daemon's other workers want that core anyway.
    /// </summary>
    public long ParallelMinBytes { get; init; }

    public const long DefaultParallelMinBytes = 4 * 1024 * 1024;

    public static NetworkSettings From(ModuleOptions options, string confDirectory)
    {
        var allowed = (options.GetString("allowed_dns") ?? "").Split(
            ',',
            StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries
        );
        var safelistFile = options.GetString("safelist_file", "safelist/domain.txt")!;
        if (!Path.IsPathRooted(safelistFile))
        {
            safelistFile = Path.Combine(confDirectory, safelistFile);
        }
        var safelistDns = options.GetBoolean(
            "safelist_dns",
            options.GetBoolean("whitelist_dns", false)
        );
        var domains = new HashSet<string>(StringComparer.Ordinal);
        if (safelistDns && File.Exists(safelistFile))
        {
            foreach (var line in File.ReadLines(safelistFile))
            {
                var domain = line.Trim();
                if (domain.Length > 0 && domain[0] != '#')
                {
                    domains.Add(domain);
                }
            }
        }
        var maxStream = options.GetInt64("max_stream_bytes", 16 * 1024 * 1024);
        if (maxStream <= 0)
        {
            throw new ProcessingException(
                $"[network] max_stream_bytes = {maxStream} must be positive."
            );
        }
        var maxBuffered = options.GetInt64("max_buffered_bytes", 64 * 1024 * 1024);
        if (maxBuffered <= 0)
        {
            throw new ProcessingException(
                $"[network] max_buffered_bytes = {maxBuffered} must be positive."
            );
        }
        var parallelMin = options.GetInt64("parallel_min_bytes", DefaultParallelMinBytes);
        if (parallelMin < 0)
        {
            throw new ProcessingException(
                $"[network] parallel_min_bytes = {parallelMin} must not be negative."
            );
        }
        var resultServer = options.GetString("resultserver_ip", "192.168.56.1");
        return new NetworkSettings
        {
            Dissector = new DissectorOptions
            {
                SafelistDns = safelistDns,
                AllowedDns = allowed,
                SafelistDomains = domains,
                ResultServer = string.IsNullOrWhiteSpace(resultServer)
                    ? null
                    : IpAddress.Parse(resultServer),
                MaxStreamBytes = maxStream,
                MaxBufferedBytes = maxBuffered,
            },
            ResolveDns = options.GetBoolean("resolve_dns", false),
            ResolveDnsTimeout = options.GetSeconds("resolve_dns_timeout", TimeSpan.FromSeconds(5)),
            ResolveDnsBudget = options.GetSeconds("resolve_dns_budget", TimeSpan.FromSeconds(30)),
            SortPcap = options.GetBoolean("sort_pcap", false),
            MaxStreamBytes = maxStream,
            MaxBufferedBytes = maxBuffered,
            ParallelMinBytes = parallelMin,
        };
    }
}
