namespace Microkernel.Plugins.Network.Capture;

/// <summary>
/// Cuckoo's <c>sort_pcap</c> (dump_sorted.pcap grouped by flow). Not implemented yet: the
/// module logs a warning and dissects the unsorted capture, as Cuckoo does when sorting
/// produces no file.
/// </summary>
internal static class PcapSorter
{
    public static bool Sort(
        string input,
        string output,
        string scratch,
        CancellationToken cancellationToken
    ) => false;
}
