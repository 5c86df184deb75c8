using System.Text.Json.Nodes;

namespace Microkernel.Plugins.Behavior.Monitor;

/// <summary>A <c>__process__</c> record: the process event Cuckoo stores in <c>behavior.processes</c>.</summary>
internal sealed class MonitorProcess
{
    public required long Pid { get; init; }

    public required JsonNode? Ppid { get; init; }

    public required JsonNode? Tid { get; init; }

    public required long Time { get; init; }

    public required CuckooTime FirstSeen { get; init; }

    public required string ProcessPath { get; init; }

    public required string ProcessName { get; init; }

    public required JsonNode? CommandLine { get; init; }

    public required bool Track { get; init; }

    public required JsonNode? Modules { get; init; }

    /// <summary>The log it came from.</summary>
    public required string LogPath { get; init; }

    /// <summary>Its position among the <c>__process__</c> records of that log.</summary>
    public required int OrdinalInLog { get; init; }

    /// <summary>Whether at least one API call followed (Cuckoo's has_apicalls).</summary>
    public bool HasCalls { get; set; }

    /// <summary>Order in which processes were discovered, for a stable sort.</summary>
    public int Sequence { get; init; }

    /// <summary>Cuckoo's get_filename_from_path: the last component of a Windows or POSIX path.</summary>
    public static string FileNameFromPath(string path)
    {
        var start = path.Length >= 2 && path[1] == ':' ? 2 : 0;
        var trimmed = path.AsSpan(start);
        var slash = trimmed.LastIndexOfAny('\\', '/');
        var name = trimmed[(slash + 1)..];
        if (name.Length > 0)
        {
            return name.ToString();
        }
        // "C:\dir\" has an empty file name: ntpath.basename of the directory part.
        var directory = trimmed[..Math.Max(slash, 0)].TrimEnd("\\/");
        var previous = directory.LastIndexOfAny('\\', '/');
        return directory[(previous + 1)..].ToString();
    }
}
