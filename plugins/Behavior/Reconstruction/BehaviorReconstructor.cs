using System.Text.Json.Nodes;
using Microkernel.Plugins.Behavior.Monitor;

namespace Microkernel.Plugins.Behavior.Reconstruction;

/// <summary>
/// Per-process rules that turn API calls into summary events (C2 BehaviorReconstructor in
/// platform/windows.py), e.g. NtCreateFile with status_info FILE_CREATED gives file_created.
/// </summary>
internal interface ISummarySink
{
    void Emit(string category, string jsonValue);
}

internal sealed class BehaviorReconstructor
{
    private readonly Dictionary<string, string> _openFiles = new(StringComparer.Ordinal);

    /// <summary>Emits (category, JSON value) pairs for the current call.</summary>
    public void Process(CallView call, ISummarySink emit)
    {
        switch (call.Info.Handler)
        {
            case ApiHandler.DirectoryCreated:
                emit.Emit("directory_created", call.ArgText("dirpath"));
                break;
            case ApiHandler.DirectoryRemoved:
                emit.Emit("directory_removed", call.ArgText("dirpath"));
                break;
            case ApiHandler.FileMoved:
                emit.Emit(
                    "file_moved",
                    $"[{call.ArgText("oldfilepath")},{call.ArgText("newfilepath")}]"
                );
                break;
            case ApiHandler.FileCopied:
                emit.Emit(
                    "file_copied",
                    $"[{call.ArgText("oldfilepath")},{call.ArgText("newfilepath")}]"
                );
                break;
            case ApiHandler.FileDeleted:
                emit.Emit("file_deleted", call.ArgText("filepath"));
                break;
            case ApiHandler.DirectoryEnumerated:
                emit.Emit("directory_enumerated", call.ArgText("filepath"));
                break;
            case ApiHandler.DllLoaded:
                emit.Emit("dll_loaded", call.ArgText("module_name"));
                break;
            case ApiHandler.FileOpenedOrCreated:
                FileOpenedOrCreated(call, emit);
                break;
            case ApiHandler.FileRead:
            case ApiHandler.FileWritten:
                var handle = call.ArgText("file_handle");
                if (NtSuccess(call.ReturnValue) && _openFiles.TryGetValue(handle, out var path))
                {
                    emit.Emit(
                        call.Info.Handler == ApiHandler.FileRead ? "file_read" : "file_written",
                        path
                    );
                }
                break;
            case ApiHandler.FileExists:
                emit.Emit("file_exists", call.ArgText("filepath"));
                break;
            case ApiHandler.RegkeyOpened:
                emit.Emit("regkey_opened", call.ArgText("regkey"));
                break;
            case ApiHandler.RegkeyDeleted:
                emit.Emit("regkey_deleted", call.ArgText("regkey"));
                break;
            case ApiHandler.RegkeyRead:
                emit.Emit("regkey_read", call.ArgText("regkey"));
                break;
            case ApiHandler.RegkeyWritten:
                emit.Emit("regkey_written", call.ArgText("regkey"));
                break;
            case ApiHandler.HandleClosed:
                _openFiles.Remove(call.ArgText("handle"));
                break;
            case ApiHandler.DownloadToFile:
                emit.Emit("downloads_file", call.ArgText("url"));
                emit.Emit("file_opened", call.ArgText("filepath"));
                emit.Emit("file_written", call.ArgText("filepath"));
                break;
            case ApiHandler.ConnectsHost:
                emit.Emit("connects_host", call.ArgText("hostname"));
                break;
            case ApiHandler.FetchesUrl:
                emit.Emit("fetches_url", call.ArgText("url"));
                break;
            case ApiHandler.ResolvesHost:
                if (call.ArgTruthy("hostname"))
                {
                    emit.Emit("resolves_host", call.ArgText("hostname"));
                }
                break;
            case ApiHandler.ConnectsIp:
                emit.Emit("connects_ip", call.ArgText("ip_address"));
                break;
            case ApiHandler.Mutex:
                if (call.ArgTruthy("mutant_name"))
                {
                    emit.Emit("mutex", call.ArgText("mutant_name"));
                }
                break;
            case ApiHandler.CreateProcess:
                if (!call.HasArg("track") || call.ArgTruthy("track"))
                {
                    emit.Emit(
                        "command_line",
                        call.ArgText(call.ArgTruthy("command_line") ? "command_line" : "filepath")
                    );
                }
                break;
            case ApiHandler.ShellExecute:
                var parameters = call.Arg("parameters");
                var file = call.Arg("filepath");
                emit.Emit(
                    "command_line",
                    ArgValues.IsTruthy(parameters)
                        ? Text(JsonValue.Create($"{PythonStr(file)} {PythonStr(parameters)}"))
                        : Text(file)
                );
                break;
            case ApiHandler.SystemCommand:
                emit.Emit("command_line", call.ArgText("command"));
                break;
            case ApiHandler.WmiQuery:
                emit.Emit("wmi_query", call.ArgText("query"));
                break;
            case ApiHandler.GuidPair:
                emit.Emit("guid", call.ArgText("clsid"));
                emit.Emit("guid", call.ArgText("iid"));
                break;
            case ApiHandler.GuidList:
                emit.Emit("guid", call.ArgText("clsid"));
                if (call.Arg("iid") is JsonArray iids)
                {
                    foreach (var iid in iids)
                    {
                        emit.Emit("guid", Text(iid));
                    }
                }
                break;
            case ApiHandler.Ssl3KeyMaterial:
                if (call.ArgTruthy("client_random") && call.ArgTruthy("server_random"))
                {
                    emit.Emit("tls_master", Triple(call));
                }
                break;
            case ApiHandler.Prf:
                if (
                    call.Arg("type") is JsonValue type
                    && type.TryGetValue<string>(out var t)
                    && t == "key expansion"
                )
                {
                    emit.Emit("tls_master", Triple(call));
                }
                break;
        }
    }

    private void FileOpenedOrCreated(CallView call, ISummarySink emit)
    {
        var filepath = call.ArgText("filepath");
        _openFiles[call.ArgText("file_handle")] = filepath;
        if (!NtSuccess(call.ReturnValue))
        {
            emit.Emit("file_failed", filepath);
            return;
        }
        var category = (call.Flag("status_info") ?? "").ToLowerInvariant() switch
        {
            "file_overwritten" or "file_superseded" => "file_recreated",
            "file_exists" => "file_opened",
            "file_does_not_exist" => "file_failed",
            "file_created" => "file_created",
            _ => "file_opened",
        };
        emit.Emit(category, filepath);
    }

    private static string Triple(CallView call) =>
        $"[{call.ArgText("client_random")},{call.ArgText("server_random")},{call.ArgText("master_secret")}]";

    private static bool NtSuccess(long? value) =>
        value is null || (ulong)value.Value % (1UL << 32) < 0x80000000;

    private static string Text(JsonNode? node) => ArgValues.ToJsonText(node);

    private static string Tuple(JsonNode? first, JsonNode? second) =>
        $"[{Text(first)},{Text(second)}]";

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
