using System.Text;
using Microkernel.TestSupport;

namespace Microkernel.Plugins.Network.Tests;

/// <summary>
/// The two passes (dissector, and TCP streams with exchanges), on two threads for a capture of at
/// least parallel_min_bytes, else one after the other on the module's thread: either way a failure
/// on either side ends the run with that failure, damage stops both at the same record, and the
/// output is the same. Cancellation ends both threads.
/// </summary>
public sealed class PipelineTests
{
    private const string Client = "192.168.56.101";
    private const string Server = "93.184.216.34";
    private const byte Syn = 0x02;
    private const byte Ack = 0x10;
    private const byte PshAck = 0x18;

    private static readonly byte[] Request = Encoding.ASCII.GetBytes(
        "GET /first HTTP/1.1\r\nHost: example.com\r\n\r\n"
    );
    private static readonly byte[] Response = Encoding.ASCII.GetBytes(
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
    );
    private static readonly byte[] SecondRequest = Encoding.ASCII.GetBytes(
        "GET /second HTTP/1.1\r\nHost: example.com\r\n\r\n"
    );

    private static byte[] Tcp(bool toServer, uint seq, uint ack, byte flags, byte[] data) =>
        CaptureBuilder.Ethernet(
            toServer
                ? CaptureBuilder.Tcp(Client, Server, 40000, 80, seq, ack, flags, data)
                : CaptureBuilder.Tcp(Server, Client, 80, 40000, seq, ack, flags, data)
        );

    /// <summary>
    /// Handshake, a request, its response, and a second request: the client speaking again
    /// closes the first exchange, so the streams thread writes its bodies right there.
    /// </summary>
    private static IEnumerable<byte[]> HttpExchange()
    {
        uint c = 1000,
            s = 5000;
        yield return Tcp(true, c, 0, Syn, []);
        yield return Tcp(false, s, c + 1, Syn | Ack, []);
        c++;
        s++;
        yield return Tcp(true, c, s, Ack, []);
        yield return Tcp(true, c, s, PshAck, Request);
        c += (uint)Request.Length;
        yield return Tcp(false, s, c, PshAck, Response);
        s += (uint)Response.Length;
        yield return Tcp(true, c, s, Ack, []);
        yield return Tcp(true, c, s, PshAck, SecondRequest);
    }

    /// <summary>Small DNS queries, enough for both threads to check for cancellation often.</summary>
    private static IEnumerable<byte[]> Filler(int count)
    {
        var query = CaptureBuilder.DnsQuery("filler.example");
        for (var i = 0; i < count; i++)
        {
            yield return CaptureBuilder.Ethernet(
                CaptureBuilder.Udp(Client, "8.8.8.8", (ushort)(1024 + i % 60000), 53, query)
            );
        }
    }

    /// <summary>Both passes on two threads (0), or on the module's thread (no capture is this large).</summary>
    private const string TwoThreads = "0";
    private const string OneThread = "1099511627776";

    private static Dictionary<string, string> Passes(string parallelMinBytes) =>
        new() { ["parallel_min_bytes"] = parallelMinBytes };

    [Theory]
    [InlineData(TwoThreads)]
    [InlineData(OneThread)]
    public async Task A_failure_on_the_streams_thread_ends_the_run_with_that_failure(
        string parallelMinBytes
    )
    {
        using var analysis = TempDirectory.Create();
        // Bodies go to network/; a file in its place makes the streams thread fail when it
        // writes them, whichever thread is ahead at that point.
        await File.WriteAllTextAsync(Path.Combine(analysis.Path, "network"), "in the way");
        await File.WriteAllBytesAsync(
            Path.Combine(analysis.Path, "dump.pcap"),
            CaptureBuilder.Pcap(HttpExchange().Concat(Filler(70_000)))
        );
        var run = ModuleHarness.RunAsync(
            new NetworkAnalysis(),
            analysis.Path,
            options: Passes(parallelMinBytes)
        );
        var failure = await Assert.ThrowsAnyAsync<IOException>(() => run);
        Assert.IsNotAssignableFrom<OperationCanceledException>(failure);
    }

    [Fact]
    public async Task Cancellation_ends_both_threads()
    {
        using var analysis = TempDirectory.Create();
        await File.WriteAllBytesAsync(
            Path.Combine(analysis.Path, "dump.pcap"),
            CaptureBuilder.Pcap(HttpExchange().Concat(Filler(400_000)))
        );
        using var cancel = new CancellationTokenSource();
        var run = ModuleHarness.RunAsync(
            new NetworkAnalysis(),
            analysis.Path,
            cancellationToken: cancel.Token
        );
        // Cancelled at once rather than on a sign of progress: polling from the thread pool
        // starves while both threads of the pass hold the 2 cores (CI lost that race), and
        // a cancellation at any point before the end of the pass must end it.
        Assert.False(run.IsCompleted, "the module finished before it could be cancelled");
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
    }

    [Theory]
    [InlineData(TwoThreads)]
    [InlineData(OneThread)]
    public async Task Damage_mid_capture_stops_both_passes_at_its_offset(string parallelMinBytes)
    {
        using var analysis = TempDirectory.Create();
        var frames = HttpExchange().Concat(Filler(2_000)).ToList();
        var capture = CaptureBuilder.Pcap(frames);
        // Cut the last record's body: everything before it is kept by both threads.
        var last = capture.Length - frames[^1].Length - 16;
        await File.WriteAllBytesAsync(
            Path.Combine(analysis.Path, "dump.pcap"),
            capture[..(capture.Length - 5)]
        );
        using var document = await ModuleHarness.RunAsync(
            new NetworkAnalysis(),
            analysis.Path,
            options: Passes(parallelMinBytes)
        );
        var root = document!.RootElement;
        var error = Assert.Single(root.GetProperty("errors").EnumerateArray()).GetString()!;
        Assert.Contains(
            $"dump.pcap: damaged capture at byte offset {last}: record body cut short",
            error,
            StringComparison.Ordinal
        );
        // The dissector's side (http requests) and the streams side (http_ex) both ran.
        Assert.Equal(2, root.GetProperty("http").GetArrayLength());
        var exchange = Assert.Single(root.GetProperty("http_ex").EnumerateArray());
        Assert.Equal("/first", exchange.GetProperty("uri").GetString());
        Assert.Equal(200, exchange.GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task One_thread_and_two_threads_give_the_same_section_and_files()
    {
        var frames = HttpExchange().Concat(Filler(3_000)).Concat(HttpExchange()).ToList();
        var capture = CaptureBuilder.Pcap(frames);
        var outputs = new List<(string Section, string[] Files)>();
        foreach (var mode in new[] { TwoThreads, OneThread })
        {
            using var analysis = TempDirectory.Create();
            await File.WriteAllBytesAsync(Path.Combine(analysis.Path, "dump.pcap"), capture);
            using var document = await ModuleHarness.RunAsync(
                new NetworkAnalysis(),
                analysis.Path,
                options: Passes(mode)
            );
            var files = Directory
                .EnumerateFiles(Path.Combine(analysis.Path, "network"))
                .Select(f => $"{Path.GetFileName(f)}:{Convert.ToHexString(File.ReadAllBytes(f))}")
                .Order(StringComparer.Ordinal)
                .ToArray();
            // Paths in the section name each run's own analysis folder.
            outputs.Add(
                (
                    document!
                        .RootElement.GetRawText()
                        .Replace(analysis.Path, "<analysis>", StringComparison.Ordinal),
                    files
                )
            );
        }
        Assert.Contains("\"http_ex\":[{", outputs[0].Section, StringComparison.Ordinal);
        Assert.NotEmpty(outputs[0].Files);
        Assert.Equal(outputs[0].Section, outputs[1].Section);
        Assert.Equal(outputs[0].Files, outputs[1].Files);
    }
}
