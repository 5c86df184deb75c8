using System.Globalization;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Text;

namespace Microkernel.Plugins.FileDescription.Hashing;

/// <summary>
/// Streaming ssdeep (context-triggered piecewise hash), digest for digest what libfuzzy 2.14.1
/// (<c>fuzzy_new</c>, <c>fuzzy_set_total_input_length</c>, <c>fuzzy_update</c>,
/// <c>fuzzy_digest</c> with no flags) and therefore the <c>ssdeep</c> tool and Cuckoo's pydeep give.
/// </summary>
/// <remarks>
/// <para>
/// Written here rather than bound because libfuzzy is the slowest part of describing a file (about
/// three times <c>sha512sum</c>): per byte it updates a rolling hash and two 6-bit sum hashes for
/// each of the half-dozen block sizes it tracks, one table lookup after another. The algorithm
/// allows two shortcuts that keep every digest identical:
/// </para>
/// <list type="bullet">
/// <item>The rolling hash at a byte depends only on the last seven bytes, so it is computed for
/// many positions at once with vector instructions (for large block sizes only its low byte, which
/// rules out all but a few positions), and only positions where it triggers are visited.</item>
/// <item>A sum hash is 6 bits, so all of them (each block size's piece hash and half hash, and the
/// last hash) fit in one 64-byte vector, and the hash's step for a byte is a map from 64 states
/// to 64 states, itself a 64-byte vector. With AVX-512 VBMI a byte permute applies a map to all
/// 64 hashes, or composes two maps; a pair's map is one table row XORed with a byte, so eight bytes
/// cost four permutes, only one of them on the state's dependency chain. Without VBMI, a scalar loop steps
/// the tracked hashes as libfuzzy does.</item>
/// </list>
/// <para>
/// The bookkeeping (block size forks and reductions, digest truncation, the final digest with its
/// quirks) follows libfuzzy step by step. The differential tests compare digests with libfuzzy on
/// generated data of many sizes and shapes, through both stepping paths.
/// </para>
/// </remarks>
public sealed class Ssdeep
{
    private const int RollingWindow = 7;
    private const int MinBlockSize = 3;
    private const byte HashInit = 0x27;
    private const int NumBlockHashes = 31;
    private const int SpamSumLength = 64;

    /// <summary>Longest input a digest can describe (libfuzzy's SSDEEP_TOTAL_SIZE_MAX).</summary>
    public const ulong MaxTotalSize = ((ulong)MinBlockSize << (NumBlockHashes - 1)) * SpamSumLength;

    // Sum-hash lanes: the piece hash of block size i at lane i, its half hash at HalfLane + i,
    // the "last hash" (only used beyond 30 block sizes) at LastLane.
    private const int HalfLane = 32;
    private const int LastLane = 63;
    private const int Lanes = 64;

    /// <summary>Bytes whose rolling hashes are computed in one go.</summary>
    private const int Stretch = 4096;

    private static ReadOnlySpan<byte> Base64 =>
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"u8;

    private readonly bool _vectorised;
    private readonly byte[] _digest = new byte[NumBlockHashes * SpamSumLength];
    private readonly int[] _digestLength = new int[NumBlockHashes];
    private readonly byte[] _halfDigest = new byte[NumBlockHashes];
    private readonly byte[] _sums = new byte[Lanes];
    private readonly ulong[] _candidates = new ulong[Stretch / 64];

    // The last six bytes seen (oldest first), for rolling hashes at the start of the next input.
    private readonly byte[] _history = new byte[RollingWindow - 1];
    private uint _lastRollSum;

    private ulong _totalSize;
    private ulong _fixedSize;
    private bool _sizeFixed;
    private ulong _reduceBorder = (ulong)MinBlockSize * SpamSumLength;
    private int _start;
    private int _end = 1;
    private int _endLimit = NumBlockHashes - 1;
    private bool _needLastHash;
    private uint _rollMask;

    /// <summary>A new state. <paramref name="vectorised"/> false forces the scalar stepping (for tests).</summary>
    public Ssdeep(bool vectorised = true)
    {
        _vectorised = vectorised && Avx512Vbmi.IsSupported;
        _sums.AsSpan().Fill(HashInit);
    }

    /// <summary>Whether this machine steps the sum hashes with byte permutes (AVX-512 VBMI).</summary>
    public static bool IsVectorised => Avx512Vbmi.IsSupported;

    /// <summary>
    /// libfuzzy's <c>fuzzy_set_total_input_length</c>: fewer block sizes are tracked, which can change
    /// the digest of inputs whose length then differs, so the digest refuses those. False (and
    /// nothing changed) for lengths beyond <see cref="MaxTotalSize"/> or a second, different length.
    /// </summary>
    public bool SetTotalLength(ulong length)
    {
        if (length > MaxTotalSize || (_sizeFixed && _fixedSize != length))
        {
            return false;
        }
        _sizeFixed = true;
        _fixedSize = length;
        var index = 0;
        while (BlockSize(index) * SpamSumLength < length)
        {
            index++;
            if (index == NumBlockHashes - 2)
            {
                break;
            }
        }
        _endLimit = index + 1;
        return true;
    }

    /// <summary>Feeds the next bytes.</summary>
    public void Append(ReadOnlySpan<byte> data)
    {
        // libfuzzy counts the whole buffer before hashing it; reductions read this total.
        _totalSize =
            (ulong)data.Length > MaxTotalSize || MaxTotalSize - (ulong)data.Length < _totalSize
                ? MaxTotalSize + 1
                : _totalSize + (ulong)data.Length;
        for (var offset = 0; offset < data.Length; offset += Stretch)
        {
            var length = Math.Min(Stretch, data.Length - offset);
            FindCandidates(data, offset, length);
            Walk(data, offset, length);
        }
        if (!data.IsEmpty)
        {
            _lastRollSum = RollSumAt(data, data.Length - 1);
        }
        if (data.Length >= _history.Length)
        {
            data[^_history.Length..].CopyTo(_history);
        }
        else if (!data.IsEmpty)
        {
            _history.AsSpan(data.Length).CopyTo(_history);
            data.CopyTo(_history.AsSpan(_history.Length - data.Length));
        }
    }

    /// <summary>The digest of everything fed so far; null where libfuzzy fails (input too long, or not the length promised).</summary>
    public string? Digest()
    {
        if (_totalSize > MaxTotalSize || (_sizeFixed && _fixedSize != _totalSize))
        {
            return null;
        }
        var roll = _lastRollSum;
        var index = _start;
        while (BlockSize(index) * SpamSumLength < _totalSize)
        {
            index++;
        }
        if (index >= _end)
        {
            index = _end - 1;
        }
        while (index > _start && _digestLength[index] < SpamSumLength / 2)
        {
            index--;
        }

        var result = new StringBuilder(2 * SpamSumLength + 20);
        result.Append(BlockSize(index).ToString(CultureInfo.InvariantCulture)).Append(':');
        AppendAscii(result, DigestOf(index)[.._digestLength[index]]);
        if (roll != 0)
        {
            result.Append((char)Base64[_sums[index]]);
        }
        else if (DigestOf(index)[_digestLength[index]] != 0)
        {
            result.Append((char)DigestOf(index)[_digestLength[index]]);
        }
        result.Append(':');
        if (index < _end - 1)
        {
            index++;
            AppendAscii(
                result,
                DigestOf(index)[..Math.Min(_digestLength[index], SpamSumLength / 2 - 1)]
            );
            if (roll != 0)
            {
                result.Append((char)Base64[_sums[HalfLane + index]]);
            }
            else if (_halfDigest[index] != 0)
            {
                result.Append((char)_halfDigest[index]);
            }
        }
        else if (roll != 0)
        {
            result.Append((char)Base64[index == 0 ? _sums[index] : _sums[LastLane]]);
        }
        return result.ToString();
    }

    private static ulong BlockSize(int index) => (ulong)MinBlockSize << index;

    private Span<byte> DigestOf(int index) => _digest.AsSpan(index * SpamSumLength, SpamSumLength);

    private static void AppendAscii(StringBuilder builder, ReadOnlySpan<byte> ascii)
    {
        foreach (var b in ascii)
        {
            builder.Append((char)b);
        }
    }

    /// <summary>
    /// Bit i of <c>_candidates</c>: position <c>offset + i</c> may trigger the smallest tracked
    /// block size. libfuzzy triggers block size 3 * 2^start where horg (its rolling sum plus one)
    /// is a non-zero multiple of 3 * 2^start. The start only grows while walking, and
    /// <see cref="Trigger"/> checks exactly, so any superset will do; a cheap one skips the rest.
    /// </summary>
    private void FindCandidates(ReadOnlySpan<byte> data, int offset, int length)
    {
        _candidates.AsSpan(0, (length + 63) / 64).Clear();
        var low = (1u << _start) - 1;
        var i = 0;
        if (offset == 0)
        {
            // The first positions reach back into the previous input; vectors start aligned.
            for (; i < Math.Min(LowBitsLanes, length); i++)
            {
                MarkIfTriggering(i, RollSumAt(data, i) + 1, low);
            }
        }
        if (Avx2.IsSupported)
        {
            i =
                _start >= LowBitsFrom
                    ? FindByLowBits(data, offset, i, length, low)
                    : FindByRollSums(data, offset, i, length, low);
        }
        for (; i < length; i++)
        {
            MarkIfTriggering(i, RollSumAt(data, offset + i) + 1, low);
        }
    }

    // The rolling sum is h1 + h2 + h3 over the last seven bytes c0 (newest) .. c6, with
    // h1 = sum ck, h2 = sum (7 - k) ck and h3 = xor of ck << 5k in 32 bits. So
    // h1 + h2 = sum (8 - k) ck, which is the sum of the prefix sums c0, c0 + c1, ..., plus the last.

    /// <summary>From this smallest block size on, few positions have the low bits a trigger needs.</summary>
    private const int LowBitsFrom = 5;

    private const int LowBitsLanes = 32;

    /// <summary>
    /// Candidates by the low 8 bits of horg first, 32 positions per vector: they depend only on
    /// the low 8 bits of each term, so byte lanes with wrapping adds suffice (c1 &lt;&lt; 5 is the
    /// one term that needs shifting; the higher ones are gone). All but 1 / 2^min(start, 8) of
    /// the positions fail; the few left are checked on their whole horg.
    /// </summary>
    private int FindByLowBits(ReadOnlySpan<byte> data, int offset, int i, int length, uint low)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            i = FindByLowBitsWide(data, offset, i, length, low);
        }
        ref var bytes = ref MemoryMarshal.GetReference(data);
        var lowMask = Vector256.Create((byte)Math.Min(low, byte.MaxValue));
        var topThree = Vector256.Create((byte)0xE0);
        for (; i + LowBitsLanes <= length; i += LowBitsLanes)
        {
            var at = offset + i;
            var c0 = Vector256.LoadUnsafe(ref bytes, (nuint)at);
            var c1 = Vector256.LoadUnsafe(ref bytes, (nuint)(at - 1));
            var u1 = c0 + c1;
            var u2 = u1 + Vector256.LoadUnsafe(ref bytes, (nuint)(at - 2));
            var u3 = u2 + Vector256.LoadUnsafe(ref bytes, (nuint)(at - 3));
            var u4 = u3 + Vector256.LoadUnsafe(ref bytes, (nuint)(at - 4));
            var u5 = u4 + Vector256.LoadUnsafe(ref bytes, (nuint)(at - 5));
            var u6 = u5 + Vector256.LoadUnsafe(ref bytes, (nuint)(at - 6));
            // A 16-bit shift spills three bits of each low byte into the high one; they sit
            // below bit 5, where c1 << 5 has none.
            var h3 = c0 ^ (Vector256.ShiftLeft(c1.AsUInt16(), 5).AsByte() & topThree);
            var horg = c0 + u1 + u2 + u3 + u4 + u5 + u6 + u6 + h3 + Vector256<byte>.One;
            var bits = Vector256
                .Equals(horg & lowMask, Vector256<byte>.Zero)
                .ExtractMostSignificantBits();
            if (BitOperations.PopCount(bits) > 4)
            {
                // Data whose rolling sum keeps these low bits (long runs of one byte pattern):
                // whole sums, eight at a time, beat checking each position on its own.
                FindByRollSums(data, offset, i, i + LowBitsLanes, low);
                continue;
            }
            CheckCandidates(data, at, i, bits, low);
        }
        return i;
    }

    /// <summary>
    /// <see cref="FindByLowBits"/> 64 positions per vector (AVX-512): the same steps on twice the
    /// lanes, about a tenth of ssdeep's time saved; the narrower loop finishes the last positions.
    /// </summary>
    private int FindByLowBitsWide(ReadOnlySpan<byte> data, int offset, int i, int length, uint low)
    {
        ref var bytes = ref MemoryMarshal.GetReference(data);
        var lowMask = Vector512.Create((byte)Math.Min(low, byte.MaxValue));
        var topThree = Vector512.Create((byte)0xE0);
        for (; i + WideLanes <= length; i += WideLanes)
        {
            var at = offset + i;
            var c0 = Vector512.LoadUnsafe(ref bytes, (nuint)at);
            var c1 = Vector512.LoadUnsafe(ref bytes, (nuint)(at - 1));
            var u1 = c0 + c1;
            var u2 = u1 + Vector512.LoadUnsafe(ref bytes, (nuint)(at - 2));
            var u3 = u2 + Vector512.LoadUnsafe(ref bytes, (nuint)(at - 3));
            var u4 = u3 + Vector512.LoadUnsafe(ref bytes, (nuint)(at - 4));
            var u5 = u4 + Vector512.LoadUnsafe(ref bytes, (nuint)(at - 5));
            var u6 = u5 + Vector512.LoadUnsafe(ref bytes, (nuint)(at - 6));
            var h3 = c0 ^ (Vector512.ShiftLeft(c1.AsUInt16(), 5).AsByte() & topThree);
            var horg = c0 + u1 + u2 + u3 + u4 + u5 + u6 + u6 + h3 + Vector512<byte>.One;
            var bits = Vector512
                .Equals(horg & lowMask, Vector512<byte>.Zero)
                .ExtractMostSignificantBits();
            if (BitOperations.PopCount(bits) > 8)
            {
                FindByRollSums(data, offset, i, i + WideLanes, low);
                continue;
            }
            CheckCandidates(data, at, i, bits, low);
        }
        return i;
    }

    private const int WideLanes = 64;

    /// <summary>Checks the positions a vector pass left (set bits of <paramref name="bits"/>) on their whole horg.</summary>
    private void CheckCandidates(ReadOnlySpan<byte> data, int at, int i, ulong bits, uint low)
    {
        while (bits != 0)
        {
            var j = BitOperations.TrailingZeroCount(bits);
            bits &= bits - 1;
            MarkIfTriggering(
                i + j,
                RollSum(data.Slice(at + j - (RollingWindow - 1), RollingWindow)) + 1,
                low
            );
        }
    }

    /// <summary>Candidates by the whole horg, 8 positions per vector, for the small block sizes.</summary>
    private int FindByRollSums(ReadOnlySpan<byte> data, int offset, int i, int length, uint low)
    {
        ref var bytes = ref MemoryMarshal.GetReference(data);
        var lowMask = Vector256.Create(low);
        var inverse = Vector256.Create(0xAAAAAAABu); // 3 * 0xAAAAAAAB = 1 (mod 2^32)
        var third = Vector256.Create(0x55555555u); // x * inverse <= this exactly when 3 divides x
        for (; i + 8 <= length; i += 8)
        {
            var at = offset + i;
            var c0 = Widen32(ref bytes, at);
            var c1 = Widen32(ref bytes, at - 1);
            var c2 = Widen32(ref bytes, at - 2);
            var c3 = Widen32(ref bytes, at - 3);
            var c4 = Widen32(ref bytes, at - 4);
            var c5 = Widen32(ref bytes, at - 5);
            var c6 = Widen32(ref bytes, at - 6);
            var u1 = c0 + c1;
            var u2 = u1 + c2;
            var u3 = u2 + c3;
            var u4 = u3 + c4;
            var u5 = u4 + c5;
            var u6 = u5 + c6;
            var h3 =
                c0 ^ (c1 << 5) ^ (c2 << 10) ^ (c3 << 15) ^ (c4 << 20) ^ (c5 << 25) ^ (c6 << 30);
            var horg = c0 + u1 + u2 + u3 + u4 + u5 + u6 + u6 + h3 + Vector256<uint>.One;
            var hit =
                ~Vector256.Equals(horg, Vector256<uint>.Zero)
                & Vector256.Equals(horg & lowMask, Vector256<uint>.Zero)
                & ~Vector256.GreaterThan(horg * inverse, third);
            // i may be any multiple of 8 past the head, so the 8 bits stay within one word.
            _candidates[i >> 6] |= (ulong)hit.ExtractMostSignificantBits() << (i & 63);
        }
        return i;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> Widen32(ref byte bytes, int at) =>
        Avx2.ConvertToVector256Int32(
                Vector128
                    .CreateScalarUnsafe(Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref bytes, at)))
                    .AsByte()
            )
            .AsUInt32();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void MarkIfTriggering(int i, uint horg, uint low)
    {
        if (horg != 0 && (horg & low) == 0 && horg % MinBlockSize == 0)
        {
            _candidates[i >> 6] |= 1UL << (i & 63);
        }
    }

    /// <summary>libfuzzy's rolling sum after byte <paramref name="position"/> of this input.</summary>
    private uint RollSumAt(ReadOnlySpan<byte> data, int position)
    {
        if (position >= RollingWindow - 1)
        {
            return RollSum(data.Slice(position - (RollingWindow - 1), RollingWindow));
        }
        // The window reaches back into the previous input: history, then data.
        Span<byte> window = stackalloc byte[RollingWindow];
        var fromHistory = RollingWindow - 1 - position;
        _history.AsSpan(_history.Length - fromHistory).CopyTo(window);
        data[..(position + 1)].CopyTo(window[fromHistory..]);
        return RollSum(window);
    }

    /// <summary>libfuzzy's roll_sum over seven bytes, oldest first.</summary>
    private static uint RollSum(ReadOnlySpan<byte> window)
    {
        uint h1 = 0,
            h2 = 0,
            h3 = 0;
        foreach (var c in window)
        {
            h2 -= h1;
            h2 += RollingWindow * (uint)c;
            h1 += c;
            h3 = (h3 << 5) ^ c;
        }
        // h1 also subtracts the byte leaving the window; over exactly seven bytes none has left.
        return h1 + h2 + h3;
    }

    private void Walk(ReadOnlySpan<byte> data, int offset, int length)
    {
        var from = 0;
        var words = (length + 63) / 64;
        for (var word = 0; word < words; word++)
        {
            var bits = _candidates[word];
            while (bits != 0)
            {
                var i = word * 64 + BitOperations.TrailingZeroCount(bits);
                bits &= bits - 1;
                Step(data.Slice(offset + from, i + 1 - from));
                from = i + 1;
                Trigger(RollSumAt(data, offset + i) + 1);
            }
        }
        Step(data.Slice(offset + from, length - from));
    }

    /// <summary>Feeds bytes to every sum hash.</summary>
    private void Step(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            return;
        }
        if (_vectorised)
        {
            StepVectorised(bytes);
        }
        else
        {
            StepScalar(bytes);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void StepVectorised(ReadOnlySpan<byte> bytes)
    {
        // Lane j of the state is sum hash j, and a map is a vector whose lane s holds the successor
        // of state s, so one permute by a byte's map steps all 64 hashes. Permuting maps by maps
        // composes them: eight bytes (four pair maps) become one map without touching the state,
        // which then takes one permute per eight bytes instead of a chain of eight.
        //
        // A pair's map is its first byte's row of MultipliedMaps, XORed with the second byte (see
        // there). Lanes may carry the second byte's top two bits above the 6-bit hash: a permute
        // reads only the low six bits of each index, so they never matter until the store.
        ref var sums = ref _sums[0];
        var state = Vector512.LoadUnsafe(ref sums);
        ref var rows = ref MultipliedMaps.First;
        ref var data = ref MemoryMarshal.GetReference(bytes);
        nuint i = 0;
        var length = (nuint)bytes.Length;
        for (; i + 8 <= length; i += 8)
        {
            var first = Permute(PairMap(ref rows, ref data, i + 2), PairMap(ref rows, ref data, i));
            var second = Permute(
                PairMap(ref rows, ref data, i + 6),
                PairMap(ref rows, ref data, i + 4)
            );
            state = Permute(Permute(second, first), state);
        }
        for (; i + 2 <= length; i += 2)
        {
            state = Permute(PairMap(ref rows, ref data, i), state);
        }
        if (i < length)
        {
            // A byte's own map: the multiply, then the byte.
            state = Permute(MultiplyMap ^ Vector512.Create(Unsafe.Add(ref data, i)), state);
        }
        (state & Vector512.Create((byte)(Lanes - 1))).StoreUnsafe(ref sums);
    }

    /// <summary>Lane s of the result: <paramref name="map"/> applied to lane s of <paramref name="states"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> Permute(Vector512<byte> map, Vector512<byte> states) =>
        Avx512Vbmi.PermuteVar64x8(map, states);

    /// <summary>The map for bytes <paramref name="i"/> and <paramref name="i"/> + 1 together (top bits unmasked).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> PairMap(ref byte rows, ref byte data, nuint i) =>
        Vector512.LoadUnsafe(ref rows, (nuint)Unsafe.Add(ref data, i) * Lanes)
        ^ Vector512.Create(Unsafe.Add(ref data, i + 1));

    /// <summary>Lane s: the sum hash's multiply alone, <c>Successor(s, 0)</c>.</summary>
    private static Vector512<byte> MultiplyMap => Vector512.LoadUnsafe(ref SingleMaps.First);

    private void StepScalar(ReadOnlySpan<byte> bytes)
    {
        // Only the tracked lanes, as libfuzzy does: pieces and halves of [start, end), and last.
        var maps = SingleMaps.Table;
        var sums = _sums;
        foreach (var c in bytes)
        {
            var row = (c & 63) * Lanes;
            for (var i = _start; i < _end; i++)
            {
                sums[i] = maps[row + sums[i]];
                sums[HalfLane + i] = maps[row + sums[HalfLane + i]];
            }
            if (_needLastHash)
            {
                sums[LastLane] = maps[row + sums[LastLane]];
            }
        }
    }

    /// <summary>libfuzzy's fuzzy_engine_step after the sum hashes took the byte.</summary>
    private void Trigger(uint horg)
    {
        if (horg == 0)
        {
            return;
        }
        var h = horg / MinBlockSize;
        if ((h & _rollMask) != 0 || horg % MinBlockSize != 0)
        {
            return;
        }
        h >>= _start;
        var i = _start;
        do
        {
            if (_digestLength[i] == 0)
            {
                // The first trigger of the largest block size: start tracking the next one.
                TryFork();
            }
            var digest = DigestOf(i);
            digest[_digestLength[i]] = Base64[_sums[i]];
            _halfDigest[i] = Base64[_sums[HalfLane + i]];
            if (_digestLength[i] < SpamSumLength - 1)
            {
                // A full digest stops resetting, which folds the tail into its last character.
                digest[++_digestLength[i]] = 0;
                _sums[i] = HashInit;
                if (_digestLength[i] < SpamSumLength / 2)
                {
                    _sums[HalfLane + i] = HashInit;
                    _halfDigest[i] = 0;
                }
            }
            else
            {
                TryReduce();
            }
            if ((h & 1) != 0)
            {
                break;
            }
            h >>= 1;
        } while (++i < _end);
    }

    private void TryFork()
    {
        var last = _end - 1;
        if (_end <= _endLimit)
        {
            _sums[_end] = _sums[last];
            _sums[HalfLane + _end] = _sums[HalfLane + last];
            DigestOf(_end)[0] = 0;
            _halfDigest[_end] = 0;
            _digestLength[_end] = 0;
            _end++;
        }
        else if (_end == NumBlockHashes && !_needLastHash)
        {
            _needLastHash = true;
            _sums[LastLane] = _sums[last];
        }
    }

    private void TryReduce()
    {
        if (_end - _start < 2)
        {
            return;
        }
        if (_reduceBorder >= (_sizeFixed ? _fixedSize : _totalSize))
        {
            return;
        }
        if (_digestLength[_start + 1] < SpamSumLength / 2)
        {
            return;
        }
        _start++;
        _reduceBorder *= 2;
        _rollMask = _rollMask * 2 + 1;
    }

    /// <summary>
    /// The sum hash is FNV (prime 0x01000193, initial value 0x28021967) of which the digest keeps
    /// the low 6 bits, and those depend only on the low 6 bits of the state and the byte: a map
    /// per byte value modulo 64, 64 states each.
    /// </summary>
    private static byte Successor(int state, int c) =>
        (byte)(((uint)state * 0x01000193u ^ (uint)c) & 63);

    private static class SingleMaps
    {
        /// <summary>Row c & 63 (64 bytes): the successor of each state after byte c.</summary>
        public static readonly byte[] Table = Create();

        public static ref byte First => ref Table[0];

        private static byte[] Create()
        {
            var table = new byte[Lanes * Lanes];
            for (var c = 0; c < Lanes; c++)
            {
                for (var state = 0; state < Lanes; state++)
                {
                    table[c * Lanes + state] = Successor(state, c);
                }
            }
            return table;
        }
    }

    /// <summary>
    /// The step for byte c is <c>s -> (19 s mod 64) xor (c mod 64)</c> (FNV's prime is 19 modulo
    /// 64), so the map of bytes c1, c2 is row c1 here, <c>s -> 19 Successor(s, c1) mod 64</c>,
    /// XORed with c2 in every lane. One row per byte value (16 KiB, so rows are read without
    /// masking and stay in the first-level cache, where a table of the 4096 pair maps, 256 KiB,
    /// missed it on nearly every pair).
    /// </summary>
    private static class MultipliedMaps
    {
        // Pinned and 64-byte aligned so each map is one aligned load; managed rather than native
        // memory so it goes away with the plugin's load context.
        private static readonly byte[] Storage = GC.AllocateUninitializedArray<byte>(
            256 * Lanes + Lanes,
            pinned: true
        );

        private static readonly int Start = Align(Storage);

        static MultipliedMaps()
        {
            for (var c = 0; c < 256; c++)
            {
                for (var state = 0; state < Lanes; state++)
                {
                    Storage[Start + c * Lanes + state] = Successor(Successor(state, c), 0);
                }
            }
        }

        /// <summary>Row 0; row c starts c * 64 bytes further.</summary>
        public static ref byte First => ref Storage[Start];

        private static unsafe int Align(byte[] pinned)
        {
            var address = (nuint)Unsafe.AsPointer(ref pinned[0]);
            return (int)((Lanes - address % Lanes) % Lanes);
        }
    }
}
