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

    /// <summary>Day of the month (what Cuckoo stores as a reboot event's time, Q9).</summary>
    public int DayOfMonth =>
        DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(Seconds, -62135596800, 253402300799)).Day;

    public int CompareTo(CuckooTime other) =>
        Seconds != other.Seconds
            ? Seconds.CompareTo(other.Seconds)
            : Microseconds.CompareTo(other.Microseconds);
}
