using System.Text.Json.Nodes;
using Microkernel.Plugins.Behavior.Monitor;

namespace Microkernel.Plugins.Behavior.Reconstruction;

/// <summary>Thrown when a rule needs an argument the call lacks (C2 raises KeyError there).</summary>
internal sealed class MissingArgumentException(string name)
    : Exception($"argument '{name}' missing")
{
    public string ArgumentName { get; } = name;
}

/// <summary>The converted view of the parser's current call that the summary rules read.</summary>
internal sealed class CallView(MonitorLogParser parser)
{
    public ApiInfo Info => parser.Info;

    /// <summary>arguments[name]; throws <see cref="MissingArgumentException"/> when absent.</summary>
    public JsonNode? Arg(string name)
    {
        var index = parser.Info.IndexOf(name);
        if (index < 0)
        {
            throw new MissingArgumentException(name);
        }
        return ArgValues.ToConvertedNode(
            parser.Document,
            parser.Args[index],
            parser.Info.Args[index].Converter
        );
    }

    /// <summary>arguments.get(name, fallback).</summary>
    public JsonNode? ArgOr(string name, JsonNode? fallback) =>
        parser.Info.IndexOf(name) < 0 ? fallback : Arg(name);

    /// <summary>The converted return value as an integer (retval, default 0); null when not an integer.</summary>
    public long? ReturnValue
    {
        get
        {
            var index = parser.Info.RetvalIndex;
            if (index < 0)
            {
                return 0;
            }
            var value = parser.Args[index];
            return ArgValues.TryGetFlagNumber(
                parser.Document,
                value,
                parser.Info.Args[index].Converter,
                out var n
            )
                ? (long)(n & ulong.MaxValue)
                : null;
        }
    }

    /// <summary>The resolved flag of <paramref name="argName"/>, or null.</summary>
    public string? Flag(string argName) => FlagResolver.Resolve(parser, argName);
}
