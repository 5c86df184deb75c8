using System.Globalization;

namespace Microkernel.Plugins.Behavior.Monitor;

/// <summary>
/// A timestamp as Cuckoo's naive datetime holds it: whole seconds since the epoch plus
/// microseconds. Read as UTC throughout (fixes Cuckoo's local-time dependence, Q4).
/// </summary>
internal readonly record struct CuckooTime(long Seconds, int Microseconds) : IComparable<CuckooTime>
{
    /// <summary>
    /// FILETIME to time the way C2 does it: <c>ft / 1e7 - 11644473600</c> in doubles, then
    /// Python 2.7's <c>datetime.fromtimestamp</c> rounding (truncate the seconds, round the fraction
    /// to microseconds half away from zero).
    /// </summary>
    public static CuckooTime FromFileTime(long timeLow, long timeHigh)
    {
        var fileTime = (double)(timeLow + (timeHigh << 32));
        var unix = fileTime / 10000000.0 - 11644473600;
        if (!double.IsFinite(unix) || Math.Abs(unix) > 1e14)
        {
            return default;
        }
        var seconds = (long)Math.Truncate(unix);
        var fraction = unix - seconds;
        var micro = (long)Math.Round(fraction * 1e6, MidpointRounding.AwayFromZero);
        if (micro < 0)
        {
            seconds -= 1;
            micro += 1000000;
        }
        if (micro >= 1000000)
        {
            seconds += 1;
            micro -= 1000000;
        }
        return new CuckooTime(seconds, (int)micro);
    }

    /// <summary>This time plus <paramref name="milliseconds"/> (Python timedelta arithmetic).</summary>
    public CuckooTime AddMilliseconds(long milliseconds)
    {
        var total = Seconds * 1000000 + Microseconds + milliseconds * 1000;
        var seconds = total / 1000000;
        var micro = total % 1000000;
        if (micro < 0)
        {
            seconds -= 1;
            micro += 1000000;
        }
        return new CuckooTime(seconds, (int)micro);
    }

    /// <summary>jsondump's <c>timegm(dt.timetuple()) + dt.microsecond / 1e6</c>.</summary>
    public double ToEpochDouble() => Seconds + Microseconds / 1e6;

    /// <summary>
    /// <see cref="ToEpochDouble"/> as the shortest round-trip text ("R"), in UTF-8, the way the
    /// call lists print times; returns the length (at most 24; <paramref name="destination"/>
    /// needs 32 bytes).
    /// </summary>
    public int FormatEpochUtf8(Span<byte> destination)
    {
        if (Seconds is >= 1L << 30 and < 1L << 32 && Microseconds is >= 0 and < 1000000)
        {
            // From 2^30 to 2^32 s (years 2004 to 2106) doubles are 2^-23 or 2^-22 s apart, finer
            // than a microsecond, and seconds + microseconds / 1e6 always lands on the double
            // nearest the decimal (no decimal of this form is within 1e-16 of a midpoint): the
            // shortest text that reads back as that double is the decimal itself, trailing zeros
            // dropped. Formatting the digits directly skips the float-to-text search, a large
            // part of writing a call. The tests compare it with "R" for every microsecond.
            Seconds.TryFormat(destination, out var length, default, CultureInfo.InvariantCulture);
            var micro = Microseconds;
            if (micro != 0)
            {
                destination[length++] = (byte)'.';
                var digits = 6;
                while (micro % 10 == 0)
                {
                    micro /= 10;
                    digits--;
                }
                for (var i = digits - 1; i >= 0; i--)
                {
                    destination[length + i] = (byte)('0' + micro % 10);
                    micro /= 10;
                }
                length += digits;
            }
            return length;
        }
        ToEpochDouble().TryFormat(destination, out var written, "R", CultureInfo.InvariantCulture);
        return written;
    }

    /// <summary>Day of the month (what Cuckoo stores as a reboot event's time, Q9).</summary>
    public int DayOfMonth =>
        DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(Seconds, -62135596800, 253402300799)).Day;

    public int CompareTo(CuckooTime other) =>
        Seconds != other.Seconds
            ? Seconds.CompareTo(other.Seconds)
            : Microseconds.CompareTo(other.Microseconds);
}
