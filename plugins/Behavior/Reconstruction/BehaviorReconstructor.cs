using System.Text.Json.Nodes;
using Microkernel.Plugins.Behavior.Monitor;

namespace Microkernel.Plugins.Behavior.Reconstruction;

/// <summary>
/// Per-process rules that turn API calls into summary events (C2 BehaviorReconstructor in
/// platform/windows.py), e.g. NtCreateFile with status_info FILE_CREATED gives file_created.
/// </summary>
internal sealed class BehaviorReconstructor
{
    private readonly Dictionary<string, string> _openFiles = new(StringComparer.Ordinal);

    /// <summary>Emits (category, JSON value) pairs for the current call.</summary>
    public void Process(CallView call, Action<string, string> emit)
    {
        switch (call.Info.Handler)
        {
            case ApiHandler.DirectoryCreated:
                emit("directory_created", Text(call.Arg("dirpath")));
                break;
            case ApiHandler.DirectoryRemoved:
                emit("directory_removed", Text(call.Arg("dirpath")));
                break;
            case ApiHandler.FileMoved:
                emit("file_moved", Tuple(call.Arg("oldfilepath"), call.Arg("newfilepath")));
                break;
            case ApiHandler.FileCopied:
                emit("file_copied", Tuple(call.Arg("oldfilepath"), call.Arg("newfilepath")));
                break;
            case ApiHandler.FileDeleted:
                emit("file_deleted", Text(call.Arg("filepath")));
                break;
            case ApiHandler.DirectoryEnumerated:
                emit("directory_enumerated", Text(call.Arg("filepath")));
                break;
            case ApiHandler.DllLoaded:
                emit("dll_loaded", Text(call.Arg("module_name")));
                break;
            case ApiHandler.FileOpenedOrCreated:
                FileOpenedOrCreated(call, emit);
                break;
            case ApiHandler.FileRead:
            case ApiHandler.FileWritten:
                var handle = Text(call.Arg("file_handle"));
                if (NtSuccess(call.ReturnValue) && _openFiles.TryGetValue(handle, out var path))
                {
                    emit(
                        call.Info.Handler == ApiHandler.FileRead ? "file_read" : "file_written",
                        path
                    );
                }
                break;
            case ApiHandler.FileExists:
                emit("file_exists", Text(call.Arg("filepath")));
                break;
            case ApiHandler.RegkeyOpened:
                emit("regkey_opened", Text(call.Arg("regkey")));
                break;
            case ApiHandler.RegkeyDeleted:
                emit("regkey_deleted", Text(call.Arg("regkey")));
                break;
            case ApiHandler.RegkeyRead:
                emit("regkey_read", Text(call.Arg("regkey")));
                break;
            case ApiHandler.RegkeyWritten:
                emit("regkey_written", Text(call.Arg("regkey")));
                break;
            case ApiHandler.HandleClosed:
                _openFiles.Remove(Text(call.Arg("handle")));
                break;
            case ApiHandler.DownloadToFile:
                emit("downloads_file", Text(call.Arg("url")));
                emit("file_opened", Text(call.Arg("filepath")));
                emit("file_written", Text(call.Arg("filepath")));
                break;
            case ApiHandler.ConnectsHost:
                emit("connects_host", Text(call.Arg("hostname")));
                break;
            case ApiHandler.FetchesUrl:
                emit("fetches_url", Text(call.Arg("url")));
                break;
            case ApiHandler.ResolvesHost:
                var hostname = call.Arg("hostname");
                if (ArgValues.IsTruthy(hostname))
                {
                    emit("resolves_host", Text(hostname));
                }
                break;
            case ApiHandler.ConnectsIp:
                emit("connects_ip", Text(call.Arg("ip_address")));
                break;
            case ApiHandler.Mutex:
                var mutant = call.Arg("mutant_name");
                if (ArgValues.IsTruthy(mutant))
                {
                    emit("mutex", Text(mutant));
                }
                break;
            case ApiHandler.CreateProcess:
                if (ArgValues.IsTruthy(call.ArgOr("track", JsonValue.Create(true))))
                {
                    var commandLine = call.Arg("command_line");
                    emit(
                        "command_line",
                        Text(ArgValues.IsTruthy(commandLine) ? commandLine : call.Arg("filepath"))
                    );
                }
                break;
            case ApiHandler.ShellExecute:
                var parameters = call.Arg("parameters");
                var file = call.Arg("filepath");
                emit(
                    "command_line",
                    ArgValues.IsTruthy(parameters)
                        ? Text(JsonValue.Create($"{PythonStr(file)} {PythonStr(parameters)}"))
                        : Text(file)
                );
                break;
            case ApiHandler.SystemCommand:
                emit("command_line", Text(call.Arg("command")));
                break;
            case ApiHandler.WmiQuery:
                emit("wmi_query", Text(call.Arg("query")));
                break;
            case ApiHandler.GuidPair:
                emit("guid", Text(call.Arg("clsid")));
                emit("guid", Text(call.Arg("iid")));
                break;
            case ApiHandler.GuidList:
                emit("guid", Text(call.Arg("clsid")));
                if (call.Arg("iid") is JsonArray iids)
                {
                    foreach (var iid in iids)
                    {
                        emit("guid", Text(iid));
                    }
                }
                break;
            case ApiHandler.Ssl3KeyMaterial:
                if (
                    ArgValues.IsTruthy(call.Arg("client_random"))
                    && ArgValues.IsTruthy(call.Arg("server_random"))
                )
                {
                    emit("tls_master", Triple(call));
                }
                break;
            case ApiHandler.Prf:
                if (
                    call.Arg("type") is JsonValue type
                    && type.TryGetValue<string>(out var t)
                    && t == "key expansion"
                )
                {
                    emit("tls_master", Triple(call));
                }
                break;
        }
    }

    private void FileOpenedOrCreated(CallView call, Action<string, string> emit)
    {
        var filepath = Text(call.Arg("filepath"));
        _openFiles[Text(call.Arg("file_handle"))] = filepath;
        if (!NtSuccess(call.ReturnValue))
        {
            emit("file_failed", filepath);
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
        emit(category, filepath);
    }

    private static string Triple(CallView call) =>
        $"[{Text(call.Arg("client_random"))},{Text(call.Arg("server_random"))},{Text(call.Arg("master_secret"))}]";

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
