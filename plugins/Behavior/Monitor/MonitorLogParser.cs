using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microkernel.Plugins.Behavior.Bson;
using Microkernel.Plugins.Behavior.Reconstruction;
using Microsoft.Extensions.Logging;

namespace Microkernel.Plugins.Behavior.Monitor;

internal enum MonitorEventKind
{
    End,
    Process,
    Call,
    Action,
}

/// <summary>
/// Reads one Cuckoo monitor log (<c>logs/&lt;pid&gt;.bson</c>) as C2's BsonParser does, one event at a
/// time: <c>info</c> messages build the API index, <c>buffer</c> messages are hashed (and written to
/// <c>buffer/&lt;sha1&gt;</c>) and tag the next call, call records are checked against their index.
/// Nothing is materialised per call: the current record's arguments are positions in the current
/// document, valid until the next <see cref="Next"/>.
/// </summary>
internal sealed class MonitorLogParser : IDisposable
{
    private static ReadOnlySpan<byte> KeyType => "type"u8;
    private static ReadOnlySpan<byte> KeyIndex => "I"u8;
    private static ReadOnlySpan<byte> KeyThread => "T"u8;
    private static ReadOnlySpan<byte> KeyTime => "t"u8;
    private static ReadOnlySpan<byte> KeyLastError => "e"u8;
    private static ReadOnlySpan<byte> KeyNtStatus => "E"u8;
    private static ReadOnlySpan<byte> KeyStack => "s"u8;
    private static ReadOnlySpan<byte> KeyArgs => "args"u8;
    private static ReadOnlySpan<byte> KeyName => "name"u8;
    private static ReadOnlySpan<byte> KeyCategory => "category"u8;
    private static ReadOnlySpan<byte> KeyFlagsValue => "flags_value"u8;
    private static ReadOnlySpan<byte> KeyFlagsBitmask => "flags_bitmask"u8;
    private static ReadOnlySpan<byte> KeyBuffer => "buffer"u8;
    private static ReadOnlySpan<byte> KeyChecksum => "checksum"u8;
    private static ReadOnlySpan<byte> KeyMessage => "msg"u8;

    private readonly BsonFrameReader _frames;
    private readonly string _displayName;
    private readonly string? _bufferDirectory;
    private readonly ILogger? _logger;
    private readonly Dictionary<long, ApiInfo> _infos = [];

    /// <summary>Small API indexes (all the monitor uses) by position: no hashing per call.</summary>
    private ApiInfo?[] _infoByIndex = new ApiInfo?[64];

    private const int MaxDirectIndex = 4096;
    private readonly Dictionary<string, FlagTables> _flagTables = new(StringComparer.Ordinal);
    private BsonValue[] _args = new BsonValue[16];
    private int _argCount;
    private bool _is64Bit;
    private string? _pendingBuffer;
    private int _processCount;
    private int _documentCount;

    /// <param name="path">The log file.</param>
    /// <param name="displayName">How errors name the file, e.g. <c>logs/752.bson</c>.</param>
    /// <param name="bufferDirectory">Where <c>buffer</c> payloads are written; null to only hash them.</param>
    /// <param name="logger">Receives monitor debug messages and checksum warnings; null to stay quiet.</param>
    public MonitorLogParser(
        string path,
        string displayName,
        string? bufferDirectory,
        ILogger? logger
    )
    {
        _frames = new BsonFrameReader(path);
        _displayName = displayName;
        _bufferDirectory = bufferDirectory;
        _logger = logger;
        Problems = new LogProblems(displayName);
    }

    public LogProblems Problems { get; }

    /// <summary>The current document (valid until the next <see cref="Next"/>).</summary>
    public ReadOnlySpan<byte> Document => _frames.Current;

    public long DocumentOffset => _frames.Offset;

    public ApiInfo Info { get; private set; } = null!;

    public ReadOnlySpan<BsonValue> Args => _args.AsSpan(0, _argCount);

    public BsonValue Tid { get; private set; }

    public long TimeMilliseconds { get; private set; }

    public BsonValue LastError { get; private set; }

    public BsonValue NtStatus { get; private set; }

    public BsonValue Stack { get; private set; }

    public string? BufferSha1 { get; private set; }

    public MonitorProcess? Process { get; private set; }

    /// <summary>Index of <see cref="Process"/> among this log's <c>__process__</c> records.</summary>
    public int ProcessOrdinal => _processCount - 1;

    public JsonNode? ActionValue { get; private set; }

    /// <summary>Sequence number handed to the next process (unique across logs when shared).</summary>
    public int NextProcessSequence { get; set; }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public MonitorEventKind Next(CancellationToken cancellationToken)
    {
        while (_frames.Read())
        {
            if ((++_documentCount & 0xFFF) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
            var doc = _frames.Current;
            var kind = Decode(doc, out var invalid, out var at);
            if (invalid is not null)
            {
                // Cuckoo stops the whole file here (Q2); the length prefix lets us skip just this one.
                Problems.Add(_frames.Offset + at, $"undecodable BSON document skipped: {invalid}");
                continue;
            }
            if (kind != MonitorEventKind.End)
            {
                return kind;
            }
            if (_stop)
            {
                return MonitorEventKind.End;
            }
        }
        if (_frames.Error is not null)
        {
            Problems.Add(_frames.Offset, _frames.Error + "; parsing of this log stopped");
        }
        return MonitorEventKind.End;
    }

    private bool _stop;

    /// <summary>
    /// Checks and handles one document in a single walk; End means "nothing to hand out, read
    /// on". A document that fails the BSON checks sets <paramref name="invalid"/> (what is wrong)
    /// and <paramref name="errorOffset"/>, and has no effect.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private MonitorEventKind Decode(
        ReadOnlySpan<byte> doc,
        out string? invalid,
        out int errorOffset
    )
    {
        BsonValue type = BsonValue.Missing,
            index = BsonValue.Missing,
            tid = BsonValue.Missing,
            time = BsonValue.Missing,
            lastError = BsonValue.Missing,
            ntStatus = BsonValue.Missing,
            stack = BsonValue.Missing,
            args = BsonValue.Missing,
            name = BsonValue.Missing,
            category = BsonValue.Missing,
            flagsValue = BsonValue.Missing,
            flagsBitmask = BsonValue.Missing,
            buffer = BsonValue.Missing,
            checksum = BsonValue.Missing,
            message = BsonValue.Missing;
        _argCount = 0;
        var elements = new BsonCheckedElements(doc, 0, doc.Length, 0);
        while (elements.MoveNext())
        {
            var key = elements.Name;
            var value = elements.Value;
            if (key.Length == 1)
            {
                switch (key[0])
                {
                    case (byte)'I':
                        index = value;
                        break;
                    case (byte)'T':
                        tid = value;
                        break;
                    case (byte)'t':
                        time = value;
                        break;
                    case (byte)'e':
                        lastError = value;
                        break;
                    case (byte)'E':
                        ntStatus = value;
                        break;
                    case (byte)'s':
                        stack = value;
                        break;
                }
            }
            else if (key.SequenceEqual(KeyArgs))
            {
                args = value;
                if (value.IsDocumentLike)
                {
                    // The arguments are read by position while they are checked.
                    invalid = CollectArgs(doc, elements, value, out errorOffset);
                    if (invalid is not null)
                    {
                        return MonitorEventKind.End;
                    }
                    continue;
                }
            }
            else if (key.SequenceEqual(KeyType))
            {
                type = value;
            }
            else if (key.SequenceEqual(KeyName))
            {
                name = value;
            }
            else if (key.SequenceEqual(KeyCategory))
            {
                category = value;
            }
            else if (key.SequenceEqual(KeyFlagsValue))
            {
                flagsValue = value;
            }
            else if (key.SequenceEqual(KeyFlagsBitmask))
            {
                flagsBitmask = value;
            }
            else if (key.SequenceEqual(KeyBuffer))
            {
                buffer = value;
            }
            else if (key.SequenceEqual(KeyChecksum))
            {
                checksum = value;
            }
            else if (key.SequenceEqual(KeyMessage))
            {
                message = value;
            }
            if (value.IsDocumentLike)
            {
                invalid = BsonValidator.ValidateNested(doc, elements, value, out errorOffset);
                if (invalid is not null)
                {
                    return MonitorEventKind.End;
                }
            }
        }
        invalid = elements.Error;
        errorOffset = elements.ErrorOffset;
        if (invalid is not null)
        {
            return MonitorEventKind.End;
        }

        var indexNumber = index.Exists && index.IsInteger ? index.GetInt64(doc) : -1;
        if (type.StringEquals(doc, "info"u8))
        {
            RegisterInfo(doc, indexNumber, name, category, args, flagsValue, flagsBitmask);
            return MonitorEventKind.End;
        }
        if (type.StringEquals(doc, "buffer"u8))
        {
            HandleBuffer(doc, buffer, checksum);
            return MonitorEventKind.End;
        }
        if (type.StringEquals(doc, "debug"u8))
        {
            if (_logger is not null && message.Exists)
            {
                _logger.LogInformation(
                    "Debug message from monitor ({Log}): {Message}",
                    _displayName,
                    ArgValues.GetText(doc, message) ?? ""
                );
            }
            return MonitorEventKind.End;
        }

        var info =
            (ulong)indexNumber < (ulong)_infoByIndex.Length ? _infoByIndex[indexNumber] : null;
        if (info is null && !_infos.TryGetValue(indexNumber, out info))
        {
            Problems.Add(
                _frames.Offset,
                $"call record with unknown API index {indexNumber} skipped (no info message declared it)"
            );
            return MonitorEventKind.End;
        }
        if (args.Exists && !args.IsDocumentLike)
        {
            Problems.Add(
                _frames.Offset,
                $"call record of {info.Name}: 'args' is not an array; skipped"
            );
            return MonitorEventKind.End;
        }
        if (_argCount != info.Args.Length)
        {
            Problems.Add(
                _frames.Offset,
                $"call record of {info.Name} has {_argCount} argument(s), its info declares {info.Args.Length}; skipped"
            );
            return MonitorEventKind.End;
        }
        Info = info;
        Tid = tid;
        TimeMilliseconds = time.Exists && time.IsInteger ? time.GetInt64(doc) : 0;

        switch (info.Kind)
        {
            case ApiKind.Process:
                return DecodeProcess(doc, info) ? MonitorEventKind.Process : MonitorEventKind.End;
            case ApiKind.Thread:
                return MonitorEventKind.End;
            case ApiKind.Action:
                var actionIndex = info.IndexOf("action");
                ActionValue =
                    actionIndex < 0
                        ? null
                        : ArgValues.ToConvertedNode(
                            doc,
                            _args[actionIndex],
                            info.Args[actionIndex].Converter
                        );
                return MonitorEventKind.Action;
        }

        if (Process is null)
        {
            Problems.Add(
                _frames.Offset,
                $"call of {info.Name} before any __process__ record skipped"
            );
            return MonitorEventKind.End;
        }
        if (lastError.Exists && ntStatus.Exists)
        {
            LastError = lastError;
            NtStatus = ntStatus;
        }
        else
        {
            LastError = BsonValue.Missing;
            NtStatus = BsonValue.Missing;
        }
        Stack = stack;
        BufferSha1 = _pendingBuffer;
        _pendingBuffer = null;
        Process.HasCalls = true;
        return MonitorEventKind.Call;
    }

    /// <summary>Checks the elements of <paramref name="args"/> and keeps their values by position.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private string? CollectArgs(
        ReadOnlySpan<byte> doc,
        in BsonCheckedElements parent,
        BsonValue args,
        out int errorOffset
    )
    {
        _argCount = 0;
        var items = new BsonCheckedElements(doc, args.Offset, parent.End, parent.Depth + 1);
        while (items.MoveNext())
        {
            var value = items.Value;
            if (value.IsDocumentLike)
            {
                var invalid = BsonValidator.ValidateNested(doc, items, value, out errorOffset);
                if (invalid is not null)
                {
                    return invalid;
                }
            }
            if (_argCount == _args.Length)
            {
                Array.Resize(ref _args, _args.Length * 2);
            }
            _args[_argCount++] = value;
        }
        errorOffset = items.ErrorOffset;
        return items.Error;
    }

    private bool DecodeProcess(ReadOnlySpan<byte> doc, ApiInfo info)
    {
        JsonNode? Arg(string argName)
        {
            var i = info.IndexOf(argName);
            return i < 0
                ? null
                : ArgValues.ToConvertedNode(Document, _args[i], info.Args[i].Converter);
        }
        bool Has(string argName) => info.IndexOf(argName) >= 0;

        string? lowName,
            highName,
            pidName,
            ppidName,
            pathName;
        if (Has("TimeLow"))
        {
            (lowName, highName, pidName, ppidName, pathName) = (
                "TimeLow",
                "TimeHigh",
                "ProcessIdentifier",
                "ParentProcessIdentifier",
                "ModulePath"
            );
        }
        else if (Has("time_low"))
        {
            (lowName, highName, pathName) = ("time_low", "time_high", "module_path");
            (pidName, ppidName) = Has("pid")
                ? ("pid", "ppid")
                : ("process_identifier", "parent_process_identifier");
        }
        else
        {
            Problems.Add(
                _frames.Offset,
                "__process__ record in an unknown layout (\"I don't recognize the bson log contents\"); parsing of this log stopped"
            );
            _stop = true;
            return false;
        }

        var low = Arg(lowName);
        var high = Arg(highName);
        var pid = Arg(pidName);
        var modulePath = Arg(pathName);
        if (
            !TryGetLong(low, out var lowValue)
            || !TryGetLong(high, out var highValue)
            || !TryGetLong(pid, out var pidValue)
            || modulePath is not JsonValue pathValue
            || !pathValue.TryGetValue<string>(out var path)
            || !Has(ppidName)
        )
        {
            Problems.Add(
                _frames.Offset,
                $"__process__ record lacks a usable {lowName}/{highName}/{pidName}/{ppidName}/{pathName}; skipped"
            );
            return false;
        }

        if (ArgValues.IsTruthy(Arg("is_64bit")))
        {
            _is64Bit = true; // like C2: only API infos declared after this point decode as 64-bit
        }
        var track = !Has("track") || ArgValues.IsTruthy(Arg("track"));
        _processCount++;
        Process = new MonitorProcess
        {
            Pid = pidValue,
            Ppid = Arg(ppidName),
            Tid = Tid.Exists ? ArgValues.ToRawNode(doc, Tid) : JsonValue.Create(0),
            Time = TimeMilliseconds,
            FirstSeen = CuckooTime.FromFileTime(lowValue, highValue),
            ProcessPath = path,
            ProcessName = MonitorProcess.FileNameFromPath(path),
            CommandLine = Arg("command_line"),
            Track = track,
            Modules = Has("modules") ? Arg("modules") : new JsonArray(),
            LogPath = _displayName,
            OrdinalInLog = _processCount - 1,
            Sequence = NextProcessSequence++,
        };
        return true;
    }

    private static bool TryGetLong(JsonNode? node, out long value)
    {
        value = 0;
        return node is JsonValue v && v.TryGetValue(out value);
    }

    private void HandleBuffer(ReadOnlySpan<byte> doc, BsonValue buffer, BsonValue checksum)
    {
        ReadOnlySpan<byte> payload;
        if (buffer.Type == BsonType.Binary)
        {
            payload = buffer.GetBinary(doc);
        }
        else if (buffer.Type == BsonType.String)
        {
            payload = buffer.GetStringBytes(doc);
        }
        else
        {
            Problems.Add(_frames.Offset, "buffer message without a binary 'buffer' value skipped");
            return;
        }
        Span<byte> hash = stackalloc byte[20];
        SHA1.HashData(payload, hash);
        var sha1 = Convert.ToHexStringLower(hash);
        _pendingBuffer = sha1;
        var declared = checksum.Exists ? ArgValues.GetText(doc, checksum) : null;
        if (declared != sha1)
        {
            _logger?.LogWarning("Incorrect sha1 passed along for a buffer in {Log}.", _displayName);
        }
        if (_bufferDirectory is not null)
        {
            var target = Path.Combine(_bufferDirectory, sha1);
            if (!File.Exists(target))
            {
                Directory.CreateDirectory(_bufferDirectory);
                using var file = new FileStream(
                    target,
                    FileMode.Create,
                    FileAccess.Write,
                    FileShare.Read
                );
                file.Write(payload);
            }
        }
    }

    private void RegisterInfo(
        ReadOnlySpan<byte> doc,
        long index,
        BsonValue name,
        BsonValue category,
        BsonValue args,
        BsonValue flagsValue,
        BsonValue flagsBitmask
    )
    {
        var apiName = name.Exists
            ? ArgValues.GetText(doc, name) ?? ArgValues.ToJsonText(ArgValues.ToRawNode(doc, name))
            : "NONAME";
        var apiCategory = category.Exists ? ArgValues.GetText(doc, category) : null;
        var specs = new List<ArgSpec>();
        if (args.IsDocumentLike)
        {
            var items = new BsonElementEnumerator(doc, args.Offset);
            while (items.MoveNext())
            {
                specs.Add(ParseArgSpec(doc, items.Value));
            }
        }

        if (flagsValue.IsDocumentLike || flagsBitmask.IsDocumentLike)
        {
            if (!_flagTables.TryGetValue(apiName, out var tables))
            {
                tables = new FlagTables();
                _flagTables[apiName] = tables;
            }
            var values = ReadFlagTable(doc, flagsValue);
            if (values.Count > 0)
            {
                tables.Values = values;
            }
            var bitmasks = ReadFlagTable(doc, flagsBitmask);
            if (bitmasks.Count > 0)
            {
                tables.Bitmasks = bitmasks;
            }
        }

        var info = new ApiInfo(apiName, apiCategory, [.. specs])
        {
            Handler = ApiHandlers.For(apiName),
            HasCallModifier = CallModifiers.Applies(apiName),
        };
        if (_flagTables.TryGetValue(apiName, out var flagTables) && flagTables.Values is not null)
        {
            ResolveFlags(info, flagTables);
        }
        _infos[index] = info;
        if ((ulong)index < MaxDirectIndex)
        {
            if (index >= _infoByIndex.Length)
            {
                Array.Resize(
                    ref _infoByIndex,
                    (int)Math.Min(MaxDirectIndex, Math.Max(index + 1, _infoByIndex.Length * 2))
                );
            }
            _infoByIndex[index] = info;
        }
    }

    private ArgSpec ParseArgSpec(ReadOnlySpan<byte> doc, BsonValue item)
    {
        string argName;
        string? format = null;
        if (item.Type == BsonType.Array)
        {
            var parts = new BsonElementEnumerator(doc, item.Offset);
            argName = parts.MoveNext() ? ArgValues.GetText(doc, parts.Value) ?? "" : "";
            if (parts.MoveNext())
            {
                format = ArgValues.GetText(doc, parts.Value);
            }
        }
        else
        {
            argName =
                ArgValues.GetText(doc, item)
                ?? ArgValues.ToJsonText(ArgValues.ToRawNode(doc, item));
        }
        var converter = format switch
        {
            "p" => _is64Bit ? ArgConverter.Hex64 : ArgConverter.Hex32,
            "x" => ArgConverter.Hex32, // stays 32-bit in 64-bit processes too (Q3, kept)
            _ => _is64Bit ? ArgConverter.Default64 : ArgConverter.Default32,
        };
        return new ArgSpec(argName, JsonEncodedText.Encode(argName), converter);
    }

    /// <summary>Reads <c>{arg: [[int, "NAME"], …]}</c>; the inner arrays are read by position.</summary>
    private static List<(string Arg, List<(Int128 Number, string Name)> Entries)> ReadFlagTable(
        ReadOnlySpan<byte> doc,
        BsonValue table
    )
    {
        var result = new List<(string, List<(Int128, string)>)>();
        if (!table.IsDocumentLike)
        {
            return result;
        }
        var args = new BsonElementEnumerator(doc, table.Offset);
        while (args.MoveNext())
        {
            var argName = Encoding.UTF8.GetString(args.Name);
            var entries = new List<(Int128, string)>();
            if (args.Value.IsDocumentLike)
            {
                var pairs = new BsonElementEnumerator(doc, args.Value.Offset);
                while (pairs.MoveNext())
                {
                    if (!pairs.Value.IsDocumentLike)
                    {
                        continue;
                    }
                    var pair = new BsonElementEnumerator(doc, pairs.Value.Offset);
                    if (!pair.MoveNext() || !pair.Value.IsInteger)
                    {
                        continue;
                    }
                    var number = pair.Value.GetInt64(doc);
                    if (!pair.MoveNext())
                    {
                        continue;
                    }
                    var flagName = ArgValues.GetText(doc, pair.Value);
                    if (flagName is not null)
                    {
                        entries.Add((number, flagName));
                    }
                }
            }
            var existing = result.FindIndex(e => e.Item1 == argName);
            if (existing >= 0)
            {
                result[existing] = (argName, entries); // duplicate keys: the later one wins
            }
            else
            {
                result.Add((argName, entries));
            }
        }
        return result;
    }

    private static void ResolveFlags(ApiInfo info, FlagTables tables)
    {
        var valueFlags = new List<ValueFlag>();
        foreach (var (arg, entries) in tables.Values!)
        {
            var argIndex = info.IndexOf(arg);
            if (argIndex < 0)
            {
                continue; // C2 raises KeyError here and loses the rest of the log
            }
            var map = new Dictionary<Int128, FlagName>();
            foreach (var (number, flagName) in entries)
            {
                map[number] = new FlagName(flagName, BehaviorJson.StringJson(flagName));
            }
            valueFlags.Add(new ValueFlag(argIndex, JsonEncodedText.Encode(arg), map));
        }
        var bitmaskFlags = new List<BitmaskFlag>();
        foreach (var (arg, entries) in tables.Bitmasks ?? [])
        {
            var argIndex = info.IndexOf(arg);
            if (argIndex < 0)
            {
                continue;
            }
            bitmaskFlags.Add(
                new BitmaskFlag(
                    argIndex,
                    arg,
                    JsonEncodedText.Encode(arg),
                    [.. entries],
                    valueFlags.FindIndex(v => v.ArgIndex == argIndex)
                )
            );
        }
        info.ValueFlags = [.. valueFlags];
        info.BitmaskFlags = [.. bitmaskFlags];
    }

    public void Dispose() => _frames.Dispose();

    private sealed class FlagTables
    {
        public List<(string Arg, List<(Int128 Number, string Name)> Entries)>? Values { get; set; }

        public List<(
            string Arg,
            List<(Int128 Number, string Name)> Entries
        )>? Bitmasks { get; set; }
    }
}

/// <summary>What went wrong in one log: the first problem with its offset, and how many followed.</summary>
internal sealed class LogProblems(string displayName)
{
    private string? _first;
    private string? _last;

    public int Count { get; private set; }

    public void Add(long offset, string what)
    {
        var text = $"byte offset {offset}: {what}";
        Count++;
        if (_first is null)
        {
            _first = text;
        }
        else
        {
            _last = text;
        }
    }

    /// <summary>One line for the whole file, or null when it parsed cleanly.</summary>
    public string? Summary =>
        _first is null ? null
        : Count == 1 ? $"{displayName}: {_first}"
        : $"{displayName}: {_first} ({Count - 1} more problem(s); last at {_last})";
}
