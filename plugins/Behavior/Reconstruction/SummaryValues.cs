using System.Runtime.CompilerServices;

namespace Microkernel.Plugins.Behavior.Reconstruction;

/// <summary>
/// The distinct summary values of an analysis, each kept once as its compact JSON text (UTF-8,
/// the value's identity, as Python's set compares values) and named by a small integer id. The
/// summary rules look values up by the bytes they just wrote, so a value seen before costs no
/// allocation; sets and maps then work on ids.
/// </summary>
internal sealed class SummaryValues
{
    private readonly Dictionary<byte[], int> _ids;
    private readonly Dictionary<byte[], int>.AlternateLookup<ReadOnlySpan<byte>> _lookup;
    private readonly List<byte[]> _values = [];

    public SummaryValues()
    {
        _ids = new Dictionary<byte[], int>(Utf8Comparer.Instance);
        _lookup = _ids.GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    public int Count => _values.Count;

    /// <summary>The JSON text of value <paramref name="id"/>.</summary>
    public ReadOnlySpan<byte> this[int id] => _values[id];

    /// <summary>The id of this JSON text, adding it when new.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int Intern(ReadOnlySpan<byte> json)
    {
        if (_lookup.TryGetValue(json, out var id))
        {
            return id;
        }
        var copy = json.ToArray();
        id = _values.Count;
        _values.Add(copy);
        _ids.Add(copy, id);
        return id;
    }

    /// <summary>The id of this JSON text, or -1 when no rule has produced it yet.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int Find(ReadOnlySpan<byte> json) => _lookup.TryGetValue(json, out var id) ? id : -1;

    private sealed class Utf8Comparer
        : IEqualityComparer<byte[]>,
            IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
    {
        public static readonly Utf8Comparer Instance = new();

        public bool Equals(byte[]? x, byte[]? y) =>
            ReferenceEquals(x, y)
            || (x is not null && y is not null && x.AsSpan().SequenceEqual(y));

        public int GetHashCode(byte[] obj) => GetHashCode(obj.AsSpan());

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) =>
            alternate.SequenceEqual(other);

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public int GetHashCode(ReadOnlySpan<byte> alternate)
        {
            var hash = new HashCode();
            hash.AddBytes(alternate);
            return hash.ToHashCode();
        }

        public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();
    }
}
