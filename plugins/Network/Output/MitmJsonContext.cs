using System.Text.Json.Serialization;

namespace Microkernel.Plugins.Network;

/// <summary>Source-generated (no reflection) JSON for the few plain strings the module encodes.</summary>
[JsonSerializable(typeof(string))]
internal sealed partial class MitmJsonContext : JsonSerializerContext;
