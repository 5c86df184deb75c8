using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using Microkernel.Plugins.Behavior.Monitor;

namespace Microkernel.Plugins.Behavior.Reconstruction;

/// <summary>
/// Per-process rules that turn API calls into summary events (C2 BehaviorReconstructor in
/// platform/windows.py), e.g. NtCreateFile with status_info FILE_CREATED gives file_created.
/// Values travel as <see cref="SummaryValues"/> ids: a repeated value costs a lookup, no allocation.
/// </summary>
internal sealed class BehaviorReconstructor
{
    /// <summary>Open file handle to its path (both summary value ids).</summary>
    private readonly Dictionary<int, int> _openFiles = [];

    /// <summary>Emits the summary events of the current call.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Process(CallView call, SummarySink emit)
    {
        switch (call.Info.Handler)
        {
            case ApiHandler.DirectoryCreated:
                emit.Emit(SummaryCategory.DirectoryCreated, call.ArgId("dirpath"));
                break;
            case ApiHandler.DirectoryRemoved:
                emit.Emit(SummaryCategory.DirectoryRemoved, call.ArgId("dirpath"));
                break;
            case ApiHandler.FileMoved:
                emit.Emit(SummaryCategory.FileMoved, call.TupleId("oldfilepath", "newfilepath"));
                break;
            case ApiHandler.FileCopied:
                emit.Emit(SummaryCategory.FileCopied, call.TupleId("oldfilepath", "newfilepath"));
                break;
            case ApiHandler.FileDeleted:
                emit.Emit(SummaryCategory.FileDeleted, call.ArgId("filepath"));
                break;
            case ApiHandler.DirectoryEnumerated:
                emit.Emit(SummaryCategory.DirectoryEnumerated, call.ArgId("filepath"));
                break;
            case ApiHandler.DllLoaded:
                emit.Emit(SummaryCategory.DllLoaded, call.ArgId("module_name"));
                break;
            case ApiHandler.FileOpenedOrCreated:
                FileOpenedOrCreated(call, emit);
                break;
            case ApiHandler.FileRead:
            case ApiHandler.FileWritten:
                // A handle no rule has seen as a value cannot be an open file.
                var handle = call.FindArgId("file_handle");
                if (NtSuccess(call.ReturnValue) && _openFiles.TryGetValue(handle, out var path))
                {
                    emit.Emit(
                        call.Info.Handler == ApiHandler.FileRead
                            ? SummaryCategory.FileRead
                            : SummaryCategory.FileWritten,
                        path
                    );
                }
                break;
            case ApiHandler.FileExists:
                emit.Emit(SummaryCategory.FileExists, call.ArgId("filepath"));
                break;
            case ApiHandler.RegkeyOpened:
                emit.Emit(SummaryCategory.RegkeyOpened, call.ArgId("regkey"));
                break;
            case ApiHandler.RegkeyDeleted:
                emit.Emit(SummaryCategory.RegkeyDeleted, call.ArgId("regkey"));
                break;
            case ApiHandler.RegkeyRead:
                emit.Emit(SummaryCategory.RegkeyRead, call.ArgId("regkey"));
                break;
            case ApiHandler.RegkeyWritten:
                emit.Emit(SummaryCategory.RegkeyWritten, call.ArgId("regkey"));
                break;
            case ApiHandler.HandleClosed:
                _openFiles.Remove(call.FindArgId("handle"));
                break;
            case ApiHandler.DownloadToFile:
                emit.Emit(SummaryCategory.DownloadsFile, call.ArgId("url"));
                emit.Emit(SummaryCategory.FileOpened, call.ArgId("filepath"));
                emit.Emit(SummaryCategory.FileWritten, call.ArgId("filepath"));
                break;
            case ApiHandler.ConnectsHost:
                emit.Emit(SummaryCategory.ConnectsHost, call.ArgId("hostname"));
                break;
            case ApiHandler.FetchesUrl:
                emit.Emit(SummaryCategory.FetchesUrl, call.ArgId("url"));
                break;
            case ApiHandler.ResolvesHost:
                if (call.ArgTruthy("hostname"))
                {
                    emit.Emit(SummaryCategory.ResolvesHost, call.ArgId("hostname"));
                }
                break;
            case ApiHandler.ConnectsIp:
                emit.Emit(SummaryCategory.ConnectsIp, call.ArgId("ip_address"));
                break;
            case ApiHandler.Mutex:
                if (call.ArgTruthy("mutant_name"))
                {
                    emit.Emit(SummaryCategory.Mutex, call.ArgId("mutant_name"));
                }
                break;
            case ApiHandler.CreateProcess:
                if (!call.HasArg("track") || call.ArgTruthy("track"))
                {
                    emit.Emit(
                        SummaryCategory.CommandLine,
                        call.ArgId(call.ArgTruthy("command_line") ? "command_line" : "filepath")
                    );
                }
                break;
            case ApiHandler.ShellExecute:
                var parameters = call.Arg("parameters");
                var file = call.Arg("filepath");
                emit.Emit(
                    SummaryCategory.CommandLine,
                    call.NodeId(
                        ArgValues.IsTruthy(parameters)
                            ? JsonValue.Create($"{PythonStr(file)} {PythonStr(parameters)}")
                            : file
                    )
                );
                break;
            case ApiHandler.SystemCommand:
                emit.Emit(SummaryCategory.CommandLine, call.ArgId("command"));
                break;
            case ApiHandler.WmiQuery:
                emit.Emit(SummaryCategory.WmiQuery, call.ArgId("query"));
                break;
            case ApiHandler.GuidPair:
                emit.Emit(SummaryCategory.Guid, call.ArgId("clsid"));
                emit.Emit(SummaryCategory.Guid, call.ArgId("iid"));
                break;
            case ApiHandler.GuidList:
                emit.Emit(SummaryCategory.Guid, call.ArgId("clsid"));
                if (call.Arg("iid") is JsonArray iids)
                {
                    foreach (var iid in iids)
                    {
                        emit.Emit(SummaryCategory.Guid, call.NodeId(iid));
                    }
                }
                break;
            case ApiHandler.Ssl3KeyMaterial:
                if (call.ArgTruthy("client_random") && call.ArgTruthy("server_random"))
                {
                    emit.Emit(SummaryCategory.TlsMaster, Triple(call));
                }
                break;
            case ApiHandler.Prf:
                if (
                    call.Arg("type") is JsonValue type
                    && type.TryGetValue<string>(out var t)
                    && t == "key expansion"
                )
                {
                    emit.Emit(SummaryCategory.TlsMaster, Triple(call));
                }
                break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void FileOpenedOrCreated(CallView call, SummarySink emit)
    {
        var filepath = call.ArgId("filepath");
        _openFiles[call.ArgId("file_handle")] = filepath;
        if (!NtSuccess(call.ReturnValue))
        {
            emit.Emit(SummaryCategory.FileFailed, filepath);
            return;
        }
        emit.Emit(StatusCategory(call.Flag("status_info")), filepath);
    }

    /// <summary>C2's <c>status_info.lower()</c> rule for what an open/create did.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static SummaryCategory StatusCategory(string? flag)
    {
        if (flag is null)
        {
            return SummaryCategory.FileOpened;
        }
        // Flag names are ASCII: compare ignoring case instead of lower-casing a copy per call.
        // Anything else keeps the exact ToLowerInvariant semantics.
        var ascii = System.Text.Ascii.IsValid(flag);
        var lowered = ascii ? flag : flag.ToLowerInvariant();
        bool Is(string lower) =>
            string.Equals(
                lowered,
                lower,
                ascii ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal
            );
        return Is("file_overwritten") || Is("file_superseded") ? SummaryCategory.FileRecreated
            : Is("file_exists") ? SummaryCategory.FileOpened
            : Is("file_does_not_exist") ? SummaryCategory.FileFailed
            : Is("file_created") ? SummaryCategory.FileCreated
            : SummaryCategory.FileOpened;
    }

    private static int Triple(CallView call) =>
        call.TupleId("client_random", "server_random", "master_secret");

    private static bool NtSuccess(long? value) =>
        value is null || (ulong)value.Value % (1UL << 32) < 0x80000000;

    /// <summary>Python's "%s" of a converted value.</summary>
    private static string PythonStr(JsonNode? node) =>
        node switch
        {
            null => "None",
            JsonValue v when v.TryGetValue<string>(out var s) => s,
            JsonValue v when v.TryGetValue<bool>(out var b) => b ? "True" : "False",
            _ => node.ToJsonString(),
        };
}
