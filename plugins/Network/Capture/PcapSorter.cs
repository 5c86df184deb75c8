namespace Microkernel.Plugins.Network.Capture;

/// <summary>Placeholder, replaced below.</summary>
internal static class PcapSorter
{
    public static bool Sort(
        string input,
        string output,
        string scratch,
        CancellationToken cancellationToken
    ) => false;
}
