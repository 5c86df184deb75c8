using System.Runtime.CompilerServices;

namespace Microkernel.Plugins.Network.Dissection;

/// <summary>One IRC message in Cuckoo's shape.</summary>
internal sealed record IrcMessage(string Type, string? Prefix, string Command, string Params);

/// <summary>
/// Cuckoo's <c>ircMessage</c> (cuckoo/common/irc.py) without regular expressions: the same
/// matches, computed in one pass per line so that binary payloads cost little.
/// </summary>
internal static class IrcMessages
{
    private static readonly string[] ClientCommandNames =
    [
        "PASS",
        "JOIN",
        "USER",
        "OPER",
        "MODE",
        "SERVICE",
        "QUIT",
        "SQUIT",
        "PART",
        "TOPIC",
        "NAMES",
        "LIST",
        "INVITE",
        "KICK",
        "PRIVMSG",
        "NOTICE",
        "MOTD",
        "LUSERS",
        "VERSION",
        "STATS",
        "LINKS",
        "TIME",
        "CONNECT",
        "TRACE",
        "ADMIN",
        "INFO",
        "SERVLIST",
        "SQUERY",
        "WHO",
        "WHOIS",
        "WHOWAS",
        "KILL",
        "PING",
        "PONG",
        "ERROR",
        "AWAY",
        "REHASH",
        "DIE",
        "RESTART",
        "SUMMON",
        "USERS",
        "WALLOPS",
        "USERHOST",
        "NICK",
        "ISON",
    ];

    // The commands packed into a ulong (at most 8 ASCII letters), so a candidate word is looked
    // up without making a string: this matcher runs on every TCP payload.
    private static readonly HashSet<ulong> ClientCommands = ClientCommandNames
        .Select(name => Pack(System.Text.Encoding.ASCII.GetBytes(name)))
        .ToHashSet();

    private const int LongestCommand = 8;

    private static ulong Pack(ReadOnlySpan<byte> word)
    {
        ulong packed = 0;
        foreach (var b in word)
        {
            packed = (packed << 8) | b;
        }
        return packed;
    }

    // The bytes Cuckoo's `[\x0a\0x0d]` class accepts as a line end: LF, NUL, 'x', '0', 'd'.
    private static readonly System.Buffers.SearchValues<byte> Terminators =
        System.Buffers.SearchValues.Create([(byte)'\n', 0, (byte)'x', (byte)'0', (byte)'d']);

    /// <summary>Client messages first, then server messages (numeric 266 left out), as Cuckoo lists them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Extract(ReadOnlySpan<byte> data, List<IrcMessage> into)
    {
        List<IrcMessage>? server = null;
        var rest = data;
        while (!rest.IsEmpty)
        {
            var line = Text.ReadLine(ref rest);
            if (line[0] == (byte)':')
            {
                var message = MatchServer(line);
                if (message is not null && message.Command != "266")
                {
                    (server ??= []).Add(message);
                }
            }
            else
            {
                var message = MatchClient(line);
                if (message is not null)
                {
                    into.Add(message);
                }
            }
        }
        if (server is not null)
        {
            into.AddRange(server);
        }
    }

    private static bool IsLetter(byte b) => (uint)((b | 0x20) - 'a') <= 'z' - 'a';

    private static bool IsDigit(byte b) => (uint)(b - '0') <= 9;

    // ([a-zA-Z]+\x20)(.+[\x0a\0x0d]) searched anywhere in the line; `.` stops at LF. The first
    // space that follows a letter decides: its letter run is the command candidate, and the
    // match needs a terminator at least two bytes after that space. The line holds at most one
    // LF (its last byte), so the last terminator anywhere in the line is the one `.+` reaches.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static IrcMessage? MatchClient(ReadOnlySpan<byte> line)
    {
        var q = 0;
        while (true)
        {
            var space = line[q..].IndexOf((byte)' ');
            if (space < 0)
            {
                return null;
            }
            q += space;
            if (q > 0 && IsLetter(line[q - 1]))
            {
                break;
            }
            q++;
        }
        var lastTerminator = line.LastIndexOfAny(Terminators);
        if (lastTerminator < q + 2)
        {
            return null;
        }
        var p = q - 1;
        while (p > 0 && IsLetter(line[p - 1]))
        {
            p--;
        }
        var word = line[p..q];
        if (word.Length > LongestCommand || !ClientCommands.Contains(Pack(word)))
        {
            return null;
        }
        var parameters = Text.Strip(line[(q + 1)..(lastTerminator + 1)]);
        return new IrcMessage(
            "client",
            null,
            Text.Latin1(word),
            Text.ConvertToPrintable(parameters)
        );
    }

    // (^:[\w+.{}!@|()]+\x20)([a-zA-Z]+|[0-9]{3})(\x20.+)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static IrcMessage? MatchServer(ReadOnlySpan<byte> line)
    {
        var i = 1;
        while (i < line.Length && IsPrefixChar(line[i]))
        {
            i++;
        }
        if (i == 1 || i >= line.Length || line[i] != (byte)' ')
        {
            return null;
        }
        var prefixEnd = i + 1;
        var c = prefixEnd;
        while (c < line.Length && IsLetter(line[c]))
        {
            c++;
        }
        if (c == prefixEnd || !ParamsFollow(line, c))
        {
            c = prefixEnd;
            if (
                prefixEnd + 3 <= line.Length
                && IsDigit(line[prefixEnd])
                && IsDigit(line[prefixEnd + 1])
                && IsDigit(line[prefixEnd + 2])
            )
            {
                c = prefixEnd + 3;
                if (!ParamsFollow(line, c))
                {
                    return null;
                }
            }
            else
            {
                return null;
            }
        }
        var end = line.IndexOf((byte)'\n');
        if (end < 0)
        {
            end = line.Length;
        }
        return new IrcMessage(
            "server",
            Text.ConvertToPrintable(Text.Strip(line[..prefixEnd])),
            Text.ConvertToPrintable(Text.Strip(line[prefixEnd..c])),
            Text.ConvertToPrintable(Text.Strip(line[c..end]))
        );
    }

    private static bool ParamsFollow(ReadOnlySpan<byte> line, int at) =>
        at + 1 < line.Length && line[at] == (byte)' ' && line[at + 1] != (byte)'\n';

    private static bool IsPrefixChar(byte b) =>
        IsLetter(b)
        || IsDigit(b)
        || b
            is (byte)'_'
                or (byte)'+'
                or (byte)'.'
                or (byte)'{'
                or (byte)'}'
                or (byte)'!'
                or (byte)'@'
                or (byte)'|'
                or (byte)'('
                or (byte)')';
}
