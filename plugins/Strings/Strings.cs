using Microkernel.Contracts;

namespace Microkernel.Plugins.Strings;

/// <summary>
/// Cuckoo 2.0's <c>Strings</c> (<c>strings</c>): printable ASCII and UTF-16LE strings of the
/// sample, read from at most the first <c>max_size</c> bytes.
/// </summary>
public sealed class Strings : Processing
{
    /// <summary>Cuckoo's fixed limits, here defaults of the <c>[strings]</c> options.</summary>
    public const long DefaultMaxSize = 16 * 1024 * 1024;

    /// <summary>Most strings kept (after ASCII and wide hits are concatenated).</summary>
    public const int DefaultMaxCount = 2048;

    /// <summary>Longest string kept; longer ones are cut.</summary>
    public const int DefaultMaxLength = 1024;

    /// <summary>Bounds <c>max_size</c> so an absurd setting cannot make us allocate gigabytes.</summary>
    private const long MaxSizeCeiling = 1024L * 1024 * 1024;

    /// <inheritdoc />
    public override string Key => "strings";

    /// <inheritdoc />
    public override async Task<object?> RunAsync(CancellationToken cancellationToken)
    {
        if (TaskInfo.Category != "file")
        {
            // Cuckoo returns [] for other categories, which stores nothing.
            return null;
        }
        if (!File.Exists(FilePath))
        {
            throw new ProcessingException($"Sample file doesn't exist: {FilePath}");
        }
        var maxSize = Math.Clamp(Options.GetInt64("max_size", DefaultMaxSize), 0, MaxSizeCeiling);
        var maxCount = Math.Max(0, Options.GetInt32("max_count", DefaultMaxCount));
        var maxLength = Math.Max(0, Options.GetInt32("max_length", DefaultMaxLength));

        byte[] data;
        try
        {
            await using var stream = new FileStream(
                FilePath,
                FileMode.Open,
                FileAccess.Read,
                FileShare.Read,
                bufferSize: 0,
                FileOptions.SequentialScan
            );
            // Sized by what is really there, never by a claimed length; every byte is overwritten
            // or cut off by the resize below, so zeroing it first would be wasted work.
            data = GC.AllocateUninitializedArray<byte>((int)Math.Min(maxSize, stream.Length));
            var read = await stream.ReadAtLeastAsync(
                data,
                data.Length,
                throwOnEndOfStream: false,
                cancellationToken
            );
            if (read < data.Length)
            {
                Array.Resize(ref data, read);
            }
        }
        catch (IOException e)
        {
            throw new ProcessingException($"Cannot read the sample {FilePath}: {e.Message}", e);
        }
        // Written straight to the section stream: a list of strings would cost one object per
        // hit (most of the time on text-heavy samples when the count cap is raised), and the
        // host takes the bytes over without copying them.
        using var output = Context.CreateSectionStream();
        PrintableStrings.WriteJson(data, maxCount, maxLength, output);
        return output.ToSection();
    }
}
