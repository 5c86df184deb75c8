using System.Globalization;
using System.Text;
using Microkernel.Plugins.Behavior.Monitor;

namespace Microkernel.Plugins.Behavior.Tests.Monitor;

/// <summary>
/// Call times are written from their digits instead of formatting the double: the text must
/// be exactly what "R" makes of <see cref="CuckooTime.ToEpochDouble"/> (what jsondump writes).
/// </summary>
public sealed class CuckooTimeTests
{
    private static string Expected(CuckooTime time) =>
        time.ToEpochDouble().ToString("R", CultureInfo.InvariantCulture);

    private static string Formatted(CuckooTime time)
    {
        var buffer = new byte[32];
        var length = time.FormatEpochUtf8(buffer);
        return Encoding.ASCII.GetString(buffer, 0, length);
    }

    [Fact]
    public void Every_microsecond_of_a_second_matches_the_round_trip_format()
    {
        // 2024-05-01 12:00:00 UTC, the kind of second a monitor log starts in.
        var mismatches = new List<string>();
        for (var micro = 0; micro < 1_000_000; micro++)
        {
            var time = new CuckooTime(1714564800, micro);
            var text = Formatted(time);
            if (text != Expected(time))
            {
                mismatches.Add($"{micro}: {text} vs {Expected(time)}");
            }
        }
        Assert.Empty(mismatches);
    }

    [Theory]
    [InlineData(1L << 30)] // start of the direct range (2004)
    [InlineData((1L << 31) - 1)] // last second of the finer spacing
    [InlineData(1L << 31)] // where doubles become 2^-22 s apart (2038)
    [InlineData((1L << 32) - 1)] // end of the direct range (2106)
    [InlineData(1388534400)] // 2014, the era of the shared fixtures
    public void Microseconds_at_the_edges_of_the_direct_range_match(long seconds)
    {
        for (var micro = 0; micro < 1_000_000; micro += 37)
        {
            var time = new CuckooTime(seconds, micro);
            Assert.Equal(Expected(time), Formatted(time));
        }
        foreach (var micro in new[] { 1, 10, 100000, 500000, 999999, 15625, 984375 })
        {
            var time = new CuckooTime(seconds, micro);
            Assert.Equal(Expected(time), Formatted(time));
        }
    }

    [Theory]
    [InlineData(0L, 0)]
    [InlineData(0L, 1)]
    [InlineData(86400L, 123456)]
    [InlineData((1L << 30) - 1, 999999)] // just below the direct range: formatted as a double
    [InlineData(1L << 32, 1)] // just above it: doubles are coarser than a microsecond there
    [InlineData(1L << 40, 654321)]
    [InlineData(-1L, 500000)]
    public void Times_outside_the_direct_range_are_formatted_as_doubles(long seconds, int micro)
    {
        var time = new CuckooTime(seconds, micro);
        Assert.Equal(Expected(time), Formatted(time));
    }

    [Fact]
    public void Times_after_a_file_time_and_milliseconds_match()
    {
        // As the call writer makes them: the process's first FILETIME plus each call's offset.
        var random = new Random(11);
        for (var i = 0; i < 20000; i++)
        {
            var fileTime = new DateTime(2024, 5, 1, 12, 0, 0, DateTimeKind.Utc)
                .AddTicks(random.NextInt64(0, TimeSpan.TicksPerDay * 365))
                .ToFileTimeUtc();
            var first = CuckooTime.FromFileTime(fileTime & 0xFFFFFFFF, fileTime >> 32);
            var time = first.AddMilliseconds(random.Next(0, 600_000));
            Assert.Equal(Expected(time), Formatted(time));
        }
    }
}
