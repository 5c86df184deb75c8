using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Microkernel.Plugins.Network;

/// <summary>
/// Optional live lookups for <c>domains[].ip</c> (Cuckoo's resolve_dns). Each lookup has its own
/// timeout and all of them share one budget, so a capture full of dead names cannot stall processing.
/// </summary>
internal static class DomainResolver
{
    public static async Task<IReadOnlyDictionary<string, string>> ResolveAsync(
        IReadOnlyList<string> domains,
        TimeSpan timeout,
        TimeSpan budget,
        ILogger logger,
        CancellationToken cancellationToken
    )
    {
        var resolved = new Dictionary<string, string>(StringComparer.Ordinal);
        var clock = Stopwatch.StartNew();
        foreach (var domain in domains)
        {
            var left = budget - clock.Elapsed;
            if (left <= TimeSpan.Zero)
            {
                logger.LogWarning(
                    "resolve_dns budget of {Budget} spent; {Count} domains left unresolved.",
                    budget,
                    domains.Count - resolved.Count
                );
                break;
            }
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(timeout < left ? timeout : left);
            try
            {
                var addresses = await Dns.GetHostAddressesAsync(
                        domain,
                        AddressFamily.InterNetwork,
                        limit.Token
                    )
                    .ConfigureAwait(false);
                resolved[domain] = addresses.Length > 0 ? addresses[0].ToString() : "";
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                resolved[domain] = "";
            }
            catch (SocketException)
            {
                resolved[domain] = "";
            }
        }
        return resolved;
    }
}
