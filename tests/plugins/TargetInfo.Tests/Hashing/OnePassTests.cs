using System.Security.Cryptography;
using System.Text;
using Microkernel.Plugins.FileDescription.Hashing;
using Microkernel.Plugins.FileDescription.Urls;
using Microkernel.Plugins.TargetInfo.Tests.LibFuzzy;

namespace Microkernel.Plugins.TargetInfo.Tests.Hashing;

/// <summary>The one read shared by all digests and the URL scan, spread over threads.</summary>
public sealed class OnePassTests
{
    private static byte[] Sample()
    {
        var data = new byte[5 * FileHashes.ChunkSize + 777];
        new Random(11).NextBytes(data);
        // URLs across each chunk boundary, and one in the last bytes.
        for (var chunk = 1; chunk <= 5; chunk++)
        {
            Encoding
                .ASCII.GetBytes($" http://boundary{chunk}.example/path?q={chunk} ")
                .CopyTo(data, chunk * FileHashes.ChunkSize - 12);
        }
        Encoding.ASCII.GetBytes("\0http://end.example").CopyTo(data, data.Length - 19);
        return data;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Every_digest_and_url_equals_a_separate_pass(bool lengthKnown)
    {
        var data = Sample();
        var scanner = new UrlScanner();

        var hashes = FileHashes.Compute(
            new MemoryStream(data),
            lengthKnown ? data.Length : null,
            urls: scanner
        );

        AssertExactDigests(data, hashes);
        // Without a length, libfuzzy's result depends on how the input is cut; the pass reads
        // whole chunks.
        using var reference = FuzzyHash.TryCreate(lengthKnown ? data.Length : null, out _)!;
        for (var at = 0; at < data.Length; at += FileHashes.ChunkSize)
        {
            reference.Append(data.AsSpan(at, Math.Min(FileHashes.ChunkSize, data.Length - at)));
        }
        Assert.Equal(reference.Digest(), hashes.Ssdeep);
        var urls = scanner.Finish();
        Assert.Equal(UrlExtractor.Extract(new MemoryStream(data)), urls);
        Assert.Equal(6, urls.Count);
    }

    [Fact]
    public void More_chunks_than_the_ring_holds_arriving_in_short_reads_hash_like_one_buffer()
    {
        // 19 chunks: every buffer of the ring is read into again, twice over, and each read
        // returns at most 100 000 bytes, so a chunk takes several reads.
        var data = new byte[19 * FileHashes.ChunkSize + 4321];
        new Random(23).NextBytes(data);
        for (var chunk = 1; chunk < 19; chunk++)
        {
            Encoding
                .ASCII.GetBytes($" http://ring{chunk}.example/x ")
                .CopyTo(data, chunk * FileHashes.ChunkSize - 9);
        }
        var scanner = new UrlScanner();

        var hashes = FileHashes.Compute(
            new TricklingStream(data, 100_000),
            data.Length,
            urls: scanner
        );

        AssertExactDigests(data, hashes);
        using var reference = FuzzyHash.TryCreate(data.Length, out _)!;
        reference.Append(data);
        Assert.Equal(reference.Digest(), hashes.Ssdeep);
        var urls = scanner.Finish();
        Assert.Equal(18, urls.Count);
        Assert.Equal("http://ring18.example/x", urls[^1]);
    }

    [Fact]
    public void Cancellation_stops_the_pass()
    {
        var data = Sample();
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();

        Assert.ThrowsAny<OperationCanceledException>(() =>
            FileHashes.Compute(new MemoryStream(data), data.Length, cancelled.Token)
        );
    }

    [Fact]
    public void A_read_error_surfaces_after_the_workers_stop()
    {
        var stream = new FailingStream(3 * FileHashes.ChunkSize);

        var error = Assert.Throws<IOException>(() =>
            FileHashes.Compute(stream, 8 * FileHashes.ChunkSize)
        );
        Assert.Equal("disk on fire", error.Message);
    }

    /// <summary>A buffer that gives at most <paramref name="most"/> bytes per read, like a pipe.</summary>
    private sealed class TricklingStream(byte[] data, int most) : MemoryStream(data)
    {
        public override int Read(byte[] buffer, int offset, int count) =>
            base.Read(buffer, offset, Math.Min(count, most));

        public override int Read(Span<byte> buffer) =>
            base.Read(buffer[..Math.Min(buffer.Length, most)]);
    }

    /// <summary>Zeros, then an I/O error after a given number of bytes.</summary>
    private sealed class FailingStream(long failAt) : Stream
    {
        private long _position;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position
        {
            get => _position;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_position >= failAt)
            {
                throw new IOException("disk on fire");
            }
            var n = (int)Math.Min(count, failAt - _position);
            Array.Clear(buffer, offset, n);
            _position += n;
            return n;
        }

        public override void Flush() { }

        public override long Seek(long offset, SeekOrigin origin) =>
            throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) =>
            throw new NotSupportedException();
    }

    /// <summary>Size and every exact digest equal the BCL's over the same bytes.</summary>
    private static void AssertExactDigests(byte[] data, FileHashes hashes)
    {
        Assert.Equal(data.Length, hashes.Size);
        Assert.Equal(Convert.ToHexStringLower(MD5.HashData(data)), hashes.Md5);
        Assert.Equal(Convert.ToHexStringLower(SHA1.HashData(data)), hashes.Sha1);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(data)), hashes.Sha256);
        Assert.Equal(Convert.ToHexStringLower(SHA512.HashData(data)), hashes.Sha512);
        Assert.Equal(System.IO.Hashing.Crc32.HashToUInt32(data).ToString("X8", null), hashes.Crc32);
    }
}
