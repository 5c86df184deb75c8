using Microkernel.Plugins.Network.Capture;
using Microkernel.TestSupport;

namespace Microkernel.Plugins.Network.Tests.Capture;

/// <summary>
/// The reader's buffer is sized to a capture smaller than its usual 1 MiB; records as long as the
/// file allows must still be read whole, and damage still found at its offset.
/// </summary>
public sealed class CaptureReaderTests
{
    [Theory]
    [InlineData(100)] // capture under the 64 KiB floor
    [InlineData(70_000)] // one record larger than the floor: the buffer is the file's size
    [InlineData(200_000)]
    public void Every_record_of_a_small_capture_is_read_whole(int bigFrame)
    {
        byte[][] frames = [Frame(60, 1), Frame(bigFrame, 2), Frame(60, 3)];
        var records = ReadAll(CaptureBuilder.Pcap(frames, snapLength: 262_144), out var error);

        Assert.Null(error);
        Assert.Equal(frames, records);
    }

    [Fact]
    public void A_record_cut_short_in_a_small_capture_is_damage_not_a_hang()
    {
        byte[][] frames = [Frame(60, 1), Frame(70_000, 2)];
        var capture = CaptureBuilder.Pcap(frames, snapLength: 262_144);
        var records = ReadAll(capture[..^10], out var error);

        Assert.Equal([frames[0]], records);
        Assert.Contains("record body cut short", error, StringComparison.Ordinal);
    }

    [Fact]
    public void The_length_is_the_capture_s_even_through_a_symbolic_link()
    {
        // Network decides between one thread and two on this length; operators and the
        // benchmark link dump.pcap to a capture kept elsewhere.
        using var folder = TempDirectory.Create();
        var capture = CaptureBuilder.Pcap([Frame(5_000, 1), Frame(5_000, 2)]);
        var target = folder.Combine("kept.pcap");
        File.WriteAllBytes(target, capture);
        var link = folder.Combine("dump.pcap");
        File.CreateSymbolicLink(link, target);

        using var reader = new CaptureReader(File.OpenRead(link), "dump.pcap");

        Assert.Equal(capture.Length, reader.Length);
    }

    private static byte[] Frame(int length, byte fill) => Enumerable.Repeat(fill, length).ToArray();

    private static List<byte[]> ReadAll(byte[] capture, out string? error)
    {
        using var folder = TempDirectory.Create();
        var path = folder.Combine("dump.pcap");
        File.WriteAllBytes(path, capture);
        using var reader = new CaptureReader(File.OpenRead(path), "dump.pcap");
        var records = new List<byte[]>();
        if (reader.Open())
        {
            while (reader.TryReadNext(out _, out _, out var frame))
            {
                records.Add(frame.ToArray());
            }
        }
        error = reader.Error;
        return records;
    }
}
