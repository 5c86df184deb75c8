using System.Text;
using Microkernel.Contracts;
using Microsoft.Extensions.Logging;

namespace Microkernel.Plugins.Debug;

/// <summary>
/// Cuckoo 2.0's <c>Debug</c> (<c>debug</c>, order 999): the guest's <c>analysis.log</c>, the host's
/// <c>cuckoo.log</c>, DbgView messages and errors. The host merges every module error of the
/// run into <c>errors</c> after all modules have run.
/// </summary>
public sealed class Debug : Processing
{
    private static readonly UTF8Encoding StrictUtf8 = new(
        encoderShouldEmitUTF8Identifier: false,
        throwOnInvalidBytes: true
    );

    /// <inheritdoc />
    public override string Key => "debug";

    /// <inheritdoc />
    public override int Order => 999;

    /// <inheritdoc />
    public override async Task<object?> RunAsync(CancellationToken cancellationToken)
    {
        var errors = new List<string>();
        var actions = new List<string>();
        List<string> log;
        if (File.Exists(LogPath))
        {
            log = await ReadLinesAsync(LogPath, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            // Cuckoo logs this with error_action "vmrouting": the guest never reached the result server.
            const string message =
                "The analysis.log file does not exist: the analyzer never reported back. This usually points at the VM's network configuration (see Cuckoo's FAQ, troubleshooting-vm-network-configuration).";
            Logger.LogError(message);
            errors.Add(message);
            actions.Add("vmrouting");
            log = [];
        }

        var cuckooLog = Path.Combine(AnalysisPath, "cuckoo.log");
        var cuckoo = File.Exists(cuckooLog)
            ? await ReadLinesAsync(cuckooLog, cancellationToken).ConfigureAwait(false)
            : [];

        var mitmErr = Path.Combine(AnalysisPath, "mitm.err");
        if (File.Exists(mitmErr))
        {
            var text = await File.ReadAllTextAsync(mitmErr, cancellationToken)
                .ConfigureAwait(false);
            if (text.Length > 0)
            {
                errors.Add(text);
            }
        }

        return new Dictionary<string, object?>
        {
            ["log"] = log,
            ["cuckoo"] = cuckoo,
            ["action"] = actions.Distinct().ToList(),
            ["dbgview"] = ReadDbgView(),
            ["errors"] = errors.Distinct().ToList(),
        };
    }

    /// <summary>Lines with their terminators, as Python's file iteration yields them.</summary>
    private static async Task<List<string>> ReadLinesAsync(
        string path,
        CancellationToken cancellationToken
    )
    {
        var bytes = await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
        string text;
        try
        {
            text = StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException ex)
        {
            throw new ProcessingException(
                $"{path}: not valid UTF-8 at byte {ex.Index} ({ex.Message})",
                ex
            );
        }
        var lines = new List<string>();
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\n')
            {
                lines.Add(text[start..(i + 1)]);
                start = i + 1;
            }
        }
        if (start < text.Length)
        {
            lines.Add(text[start..]);
        }
        return lines;
    }

    private List<string> ReadDbgView()
    {
        var path = Path.Combine(LogsPath, "dbgview.log");
        var messages = new List<string>();
        if (!File.Exists(path))
        {
            return messages;
        }
        // First line is the machine id; then "index<TAB>time<TAB>message".
        foreach (var line in File.ReadLines(path).Skip(1))
        {
            var parts = line.Split('\t', 3);
            if (parts.Length == 3)
            {
                messages.Add(parts[2]);
            }
        }
        return messages;
    }
}
