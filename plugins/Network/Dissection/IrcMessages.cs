namespace Microkernel.Plugins.Network.Dissection;

/// <summary>One IRC message in Cuckoo's shape.</summary>
internal sealed record IrcMessage(string Type, string? Prefix, string Command, string Params);

/// <summary>
/// Cuckoo's <c>ircMessage</c> (cuckoo/common/irc.py) without regular expressions: the same
/// matches, computed in one pass per line so that binary payloads cost little.
/// </summary>
internal static class IrcMessages
{
    private static readonly HashSet<string> ClientCommands =
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

    /// <summary>Client messages first, then server messages (numeric 266 left out), as Cuckoo lists them.</summary>
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

    // ([a-zA-Z]+\x20)(.+[\x0a\0x0d]) searched anywhere in the line; `.` stops at LF.
    private static IrcMessage? MatchClient(ReadOnlySpan<byte> line)
    {
        var body = line;
        var newline = body.IndexOf((byte)'\n');
        var lastTerminator = -1;
        for (var k = line.Length - 1; k >= 0; k--)
        {
            var b = line[k];
            if (b is (byte)'\n' or 0 or (byte)'x' or (byte)'0' or (byte)'d')
            {
                if (newline < 0 || k <= newline)
                {
                    lastTerminator = k;
                    break;
                }
            }
        }
        if (lastTerminator < 0)
        {
            return null;
        }
        var p = 0;
        while (p < line.Length)
        {
            if (!IsLetter(line[p]))
            {
                p++;
                continue;
            }
            var q = p;
            while (q < line.Length && IsLetter(line[q]))
            {
                q++;
            }
            if (q < line.Length && line[q] == (byte)' ' && lastTerminator >= q + 2)
            {
                var command = Text.Latin1(line[p..q]);
                if (!ClientCommands.Contains(command))
                {
                    return null;
                }
                var parameters = Text.Strip(line[(q + 1)..(lastTerminator + 1)]);
                return new IrcMessage("client", null, command, Text.ConvertToPrintable(parameters));
            }
            p = q;
        }
        return null;
    }

    // (^:[\w+.{}!@|()]+\x20)([a-zA-Z]+|[0-9]{3})(\x20.+)
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
