using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Microkernel.Plugins.Behavior.Reconstruction;

/// <summary>The behaviour summary categories of C2's BehaviorReconstructor.</summary>
internal enum SummaryCategory
{
    DirectoryCreated,
    DirectoryRemoved,
    DirectoryEnumerated,
    FileMoved,
    FileCopied,
    FileDeleted,
    FileOpened,
    FileCreated,
    FileRecreated,
    FileFailed,
    FileRead,
    FileWritten,
    FileExists,
    DllLoaded,
    RegkeyOpened,
    RegkeyDeleted,
    RegkeyRead,
    RegkeyWritten,
    DownloadsFile,
    ConnectsHost,
    FetchesUrl,
    ResolvesHost,
    ConnectsIp,
    Mutex,
    CommandLine,
    WmiQuery,
    Guid,
    TlsMaster,
}

internal static class SummaryCategories
{
    /// <summary>Report names by <see cref="SummaryCategory"/>.</summary>
    public static readonly string[] Names =
    [
        "directory_created",
        "directory_removed",
        "directory_enumerated",
        "file_moved",
        "file_copied",
        "file_deleted",
        "file_opened",
        "file_created",
        "file_recreated",
        "file_failed",
        "file_read",
        "file_written",
        "file_exists",
        "dll_loaded",
        "regkey_opened",
        "regkey_deleted",
        "regkey_read",
        "regkey_written",
        "downloads_file",
        "connects_host",
        "fetches_url",
        "resolves_host",
        "connects_ip",
        "mutex",
        "command_line",
        "wmi_query",
        "guid",
        "tls_master",
    ];

    public static readonly JsonEncodedText[] JsonNames =
    [
        .. Names.Select(name => JsonEncodedText.Encode(name)),
    ];
}

/// <summary>
/// Cuckoo's <c>defaultdict(set)</c> of summary values: category to unique values (ids in
/// <see cref="SummaryValues"/>), each in first-seen order, categories too, so the output is
/// deterministic.
/// </summary>
internal sealed class SummarySet
{
    private readonly List<int>?[] _values = new List<int>?[SummaryCategories.Names.Length];
    private readonly HashSet<long> _seen = [];
    private readonly List<SummaryCategory> _categoryOrder = [];

    public bool IsEmpty => _categoryOrder.Count == 0;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Add(SummaryCategory category, int valueId)
    {
        if (!_seen.Add(((long)category << 32) | (uint)valueId))
        {
            return;
        }
        var values = _values[(int)category];
        if (values is null)
        {
            values = [];
            _values[(int)category] = values;
            _categoryOrder.Add(category);
        }
        values.Add(valueId);
    }

    /// <summary>The categories in first-seen order.</summary>
    public IReadOnlyList<SummaryCategory> Categories => _categoryOrder;

    /// <summary>The value ids of <paramref name="category"/> in first-seen order.</summary>
    public IReadOnlyList<int> ValuesOf(SummaryCategory category) =>
        _values[(int)category] ?? (IReadOnlyList<int>)[];
}

/// <summary>Feeds both the global summary and the current process's generic summary.</summary>
internal sealed class SummarySink(SummarySet global, SummarySet process)
{
    public void Emit(SummaryCategory category, int valueId)
    {
        global.Add(category, valueId);
        process.Add(category, valueId);
    }
}
