using System.Text;

namespace Microkernel.Plugins.TargetInfo.Tests.LibFuzzy;

/// <summary>Streaming ssdeep (context-triggered piecewise hash) through libfuzzy.</summary>
internal sealed class FuzzyHash : IDisposable
{
    private IntPtr _state;

    private FuzzyHash(IntPtr state) => _state = state;

    /// <summary>A new hash state; null (and a reason) when libfuzzy is not installed.</summary>
    public static FuzzyHash? TryCreate(long? totalLength, out string? failure)
    {
        try
        {
            var state = LibFuzzy.New();
            if (state == IntPtr.Zero)
            {
                failure = "fuzzy_new failed";
                return null;
            }
            if (totalLength is { } length)
            {
                // Only an optimisation hint (fewer block sizes tracked); the digest is the same.
                _ = LibFuzzy.SetTotalInputLength(state, (ulong)length);
            }
            failure = null;
            return new FuzzyHash(state);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            failure = $"libfuzzy.so.2 could not be loaded (install libfuzzy2): {e.Message}";
            return null;
        }
    }

    /// <summary>Feeds the next bytes.</summary>
    public unsafe void Append(ReadOnlySpan<byte> data)
    {
        ObjectDisposedException.ThrowIf(_state == IntPtr.Zero, this);
        if (data.IsEmpty)
        {
            return;
        }
        fixed (byte* pointer = data)
        {
            if (LibFuzzy.Update(_state, pointer, (nuint)data.Length) != 0)
            {
                throw new InvalidOperationException("fuzzy_update failed");
            }
        }
    }

    /// <summary>The digest of everything fed so far, e.g. <c>3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C</c>.</summary>
    public unsafe string Digest()
    {
        ObjectDisposedException.ThrowIf(_state == IntPtr.Zero, this);
        Span<byte> result = stackalloc byte[LibFuzzy.MaxResult];
        fixed (byte* pointer = result)
        {
            if (LibFuzzy.Digest(_state, pointer, 0) != 0)
            {
                throw new InvalidOperationException("fuzzy_digest failed");
            }
        }
        var length = result.IndexOf((byte)0);
        return Encoding.ASCII.GetString(result[..(length < 0 ? result.Length : length)]);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_state != IntPtr.Zero)
        {
            LibFuzzy.Free(_state);
            _state = IntPtr.Zero;
        }
    }
}
