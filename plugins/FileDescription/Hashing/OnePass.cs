using System.Buffers;
using System.Runtime.ExceptionServices;
using Microkernel.Plugins.FileDescription.Urls;

namespace Microkernel.Plugins.FileDescription.Hashing;

/// <summary>
/// One sequential read of a stream whose chunks are handed, in order, to every lane (a digest, a
/// scanner), with the lanes spread over the cores.
/// </summary>
/// <remarks>
/// One worker per core (at most one per lane; the calling thread is one of them) repeatedly takes
/// the next job: reading the next chunk into a small ring of pooled buffers while the ring has
/// room, else feeding the lane that is furthest behind and not being worked on its next chunk.
/// Lanes are never fed concurrently, so each sees its chunks in order, but they may drift apart
/// by up to the ring's size, so an uneven mix (MD5 costs several times CRC-32) still keeps every
/// core busy without a barrier per chunk. A buffer is read into again once every lane is done
/// with it. The workers do the reading themselves rather than a reader thread: a third thread on
/// two cores woke, and was woken, for every chunk of every lane, which cost about a tenth of the
/// hashing itself in context switches. Memory: <see cref="Slots"/> buffers of
/// <see cref="ChunkSize"/> (+ <see cref="Gap"/>).
/// </remarks>
internal static class OnePass
{
    /// <summary>Free bytes before each chunk in its buffer (for <see cref="UrlScanner"/>).</summary>
    public const int Gap = UrlScanner.Gap;

    /// <summary>Bytes per read: gap and chunk fill a 1 MiB buffer, a size the shared pool keeps.</summary>
    public const int ChunkSize = BufferSize - Gap;

    private const int BufferSize = 1024 * 1024;

    private const int Slots = 8;

    /// <summary>Consumes the chunk at <c>buffer[Gap .. Gap + count)</c>.</summary>
    public delegate void Lane(byte[] buffer, int count);

    /// <summary>Feeds the whole stream to every lane; returns the bytes read.</summary>
    public static long Run(
        Stream stream,
        long? expectedLength,
        IReadOnlyList<Lane> lanes,
        CancellationToken cancellationToken
    )
    {
        var workers = Math.Min(Environment.ProcessorCount, lanes.Count);
        if (workers < 2 || expectedLength <= ChunkSize)
        {
            // Starting threads costs more than hashing a small file (Dropped describes many).
            return RunInline(stream, lanes, cancellationToken);
        }
        return new Pipeline(stream, lanes, workers, cancellationToken).Run();
    }

    private static long RunInline(
        Stream stream,
        IReadOnlyList<Lane> lanes,
        CancellationToken cancellationToken
    )
    {
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            long size = 0;
            int read;
            while ((read = ReadFull(stream, buffer)) > 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
                foreach (var lane in lanes)
                {
                    lane(buffer, read);
                }
                size += read;
            }
            return size;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static int ReadFull(Stream stream, byte[] buffer) =>
        stream.ReadAtLeast(buffer.AsSpan(Gap, ChunkSize), ChunkSize, throwOnEndOfStream: false);

    private sealed class Pipeline(
        Stream stream,
        IReadOnlyList<Lane> lanes,
        int workers,
        CancellationToken cancellationToken
    )
    {
        private readonly object _gate = new();

        // Per lane: the next chunk it needs, and whether a worker holds it.
        private readonly long[] _next = new long[lanes.Count];
        private readonly bool[] _busy = new bool[lanes.Count];

        // Per slot (chunk index modulo Slots): buffer, bytes in it, lanes yet to consume it.
        private readonly byte[][] _buffers = new byte[Slots][];
        private readonly int[] _counts = new int[Slots];
        private readonly int[] _pending = new int[Slots];

        private long _published; // chunks 0 .. _published - 1 are readable
        private long _size;
        private bool _reading;
        private bool _ended;
        private int _waiting;
        private ExceptionDispatchInfo? _failure;

        public long Run()
        {
            for (var slot = 0; slot < Slots; slot++)
            {
                _buffers[slot] = ArrayPool<byte>.Shared.Rent(BufferSize);
            }
            // The calling thread is one of the workers.
            var threads = new Thread[workers - 1];
            try
            {
                for (var i = 0; i < threads.Length; i++)
                {
                    threads[i] = new Thread(Work)
                    {
                        IsBackground = true,
                        Name = "one-pass hashing",
                    };
                    threads[i].Start();
                }
                Work();
            }
            finally
            {
                foreach (var thread in threads)
                {
                    thread?.Join();
                }
                foreach (var buffer in _buffers)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
            _failure?.Throw();
            return _size;
        }

        private void Work()
        {
            try
            {
                while (Next() is { } job)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    if (job.Lane < 0)
                    {
                        ReadChunk(job.Chunk);
                    }
                    else
                    {
                        Feed(job.Lane, job.Chunk);
                    }
                }
            }
            catch (Exception e)
            {
                Fail(e);
            }
        }

        /// <summary>
        /// The next thing to do, waiting only when there is nothing: read the next chunk while
        /// the ring has room (reading is cheap and keeps every lane supplied), else feed the
        /// free lane furthest behind. Null when the pass is over or failed.
        /// </summary>
        private (int Lane, long Chunk)? Next()
        {
            lock (_gate)
            {
                while (true)
                {
                    if (_failure is not null)
                    {
                        return null;
                    }
                    if (!_ended && !_reading && _pending[(int)(_published % Slots)] == 0)
                    {
                        _reading = true;
                        return (-1, _published);
                    }
                    var lane = Pick();
                    if (lane >= 0)
                    {
                        _busy[lane] = true;
                        return (lane, _next[lane]);
                    }
                    if (_ended && Array.TrueForAll(_next, next => next == _published))
                    {
                        return null;
                    }
                    _waiting++;
                    Monitor.Wait(_gate);
                    _waiting--;
                }
            }
        }

        private void ReadChunk(long chunk)
        {
            var slot = (int)(chunk % Slots);
            var read = ReadFull(stream, _buffers[slot]);
            lock (_gate)
            {
                _reading = false;
                if (read > 0)
                {
                    _counts[slot] = read;
                    _pending[slot] = lanes.Count;
                    _published = chunk + 1;
                    _size += read;
                }
                // A short read is the end: ReadFull only stops early there.
                _ended = read < ChunkSize;
                WakeWaiters();
            }
        }

        private void Feed(int lane, long chunk)
        {
            var slot = (int)(chunk % Slots);
            lanes[lane](_buffers[slot], _counts[slot]);
            lock (_gate)
            {
                _busy[lane] = false;
                _next[lane] = chunk + 1;
                _pending[slot]--;
                WakeWaiters();
            }
        }

        // Waking only when someone waits: a wait and a wake are system calls, and with a wake
        // per chunk and lane they cost more than the reads.
        private void WakeWaiters()
        {
            if (_waiting > 0)
            {
                Monitor.PulseAll(_gate);
            }
        }

        /// <summary>The free lane furthest behind that has a chunk to take; ties go to the earlier (costlier) lane.</summary>
        private int Pick()
        {
            var best = -1;
            for (var i = 0; i < _next.Length; i++)
            {
                if (!_busy[i] && _next[i] < _published && (best < 0 || _next[i] < _next[best]))
                {
                    best = i;
                }
            }
            return best;
        }

        private void Fail(Exception e)
        {
            lock (_gate)
            {
                _failure ??= ExceptionDispatchInfo.Capture(e);
                Monitor.PulseAll(_gate);
            }
        }
    }
}
