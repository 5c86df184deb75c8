using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microkernel.Plugins.Behavior.Monitor;

namespace Microkernel.Plugins.Behavior.Reconstruction;

/// <summary>One line of <c>reboot.json</c>.</summary>
internal sealed record RebootEvent(int Day, string Category, string ArgsJson);

/// <summary>
/// C2's RebootReconstructor: registry writes and deletes, and Run-key persistence turned into
/// <c>create_process</c> events, for a later reboot analysis.
/// </summary>
internal static partial class RebootReconstructor
{
    // re.match is a prefix match, so RunOnce keys also hit the Run rule, as in C2.
    [GeneratedRegex(
        @"^.*\\Software\\(Wow6432Node\\)?Microsoft\\Windows\\CurrentVersion\\Run",
        RegexOptions.IgnoreCase | RegexOptions.Singleline
    )]
    private static partial Regex RunKey();

    /// <summary>Adds the reboot events of the current call, stamped with <paramref name="day"/>.</summary>
    public static void Process(CallView call, int day, List<RebootEvent> events)
    {
        void Emit(string category, string argsJson) =>
            events.Add(new RebootEvent(day, category, argsJson));

        switch (call.Info.Handler)
        {
            case ApiHandler.RegkeyDeleted:
                Emit("regkey_deleted", ArgValues.ToJsonText(call.Arg("regkey")));
                break;
            case ApiHandler.RegkeyWritten:
                var regkey = call.Arg("regkey");
                var regType = call.Flag("reg_type") is { } flag
                    ? JsonValue.Create(flag)
                    : call.Arg("reg_type");
                var value = call.Arg("value");
                var written =
                    $"[{ArgValues.ToJsonText(regkey)},{ArgValues.ToJsonText(regType)},{ArgValues.ToJsonText(value)}]";
                if (
                    regkey is JsonValue k
                    && k.TryGetValue<string>(out var key)
                    && RunKey().IsMatch(key)
                )
                {
                    var (path, arguments) = ParseCommandLine(
                        value is JsonValue v && v.TryGetValue<string>(out var s) ? s : ""
                    );
                    var argsJson = new JsonArray([
                        .. arguments.Select(a => (JsonNode?)JsonValue.Create(a)),
                    ]);
                    Emit("regkey_written", written);
                    Emit(
                        "create_process",
                        $"[{ArgValues.ToJsonText(JsonValue.Create(path))},{ArgValues.ToJsonText(argsJson)},\"explorer.exe\"]"
                    );
                }
                else
                {
                    Emit("regkey_written", written);
                }
                break;
        }
    }

    /// <summary>
    /// shlex.split(posix=False) as C2 uses it: whitespace-separated words, quoted runs kept with
    /// their quotes (a closing quote ends the word); the first word loses its quotes.
    /// </summary>
    public static (string Path, List<string> Arguments) ParseCommandLine(string commandLine)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var i = 0;
        while (i < commandLine.Length)
        {
            while (i < commandLine.Length && char.IsWhiteSpace(commandLine[i]))
            {
                i++;
            }
            if (i >= commandLine.Length)
            {
                break;
            }
            word.Clear();
            if (commandLine[i] is '"' or '\'')
            {
                var quote = commandLine[i];
                var close = commandLine.IndexOf(quote, i + 1);
                var end = close < 0 ? commandLine.Length : close + 1; // C2 raises "No closing quotation"
                word.Append(commandLine, i, end - i);
                i = end;
            }
            else
            {
                while (i < commandLine.Length && !char.IsWhiteSpace(commandLine[i]))
                {
                    word.Append(commandLine[i++]);
                }
            }
            words.Add(word.ToString());
        }
        return words.Count == 0 ? ("", []) : (words[0].Trim('"'), words[1..]);
    }
}
