using System.IO.Pipes;
using System.Runtime.InteropServices;

namespace Microkernel.Plugins.Memory.Volatility;

/// <summary>
/// Raises the capacity of the pipe a tool writes its output into. A Linux pipe holds 64 KiB by
/// default: a tool printing hundreds of MB then blocks every 64 KiB until the host has read, and
/// each wake-up costs both sides a context switch and the host an async read round trip through
/// the thread pool. With 1 MiB the tool writes ahead while the host parses, and the host reads
/// in large chunks. Best effort: anything but Linux, a stream that is not a pipe, or a refusal
/// (the per-user pipe quota, <c>/proc/sys/fs/pipe-max-size</c>) leaves the pipe as it was.
/// </summary>
internal static class PipeCapacity
{
    /// <summary>The unprivileged maximum by default (<c>/proc/sys/fs/pipe-max-size</c>).</summary>
    public const int Preferred = 1 << 20;

    private const int SetPipeSize = 1031; // F_SETPIPE_SZ (F_LINUX_SPECIFIC_BASE + 7)
    private const int GetPipeSize = 1032; // F_GETPIPE_SZ

    /// <summary>Tries to give the pipe behind <paramref name="stream"/> <paramref name="bytes"/> of capacity.</summary>
    /// <returns>The pipe's capacity afterwards, or null when it is unknown (not Linux, not a pipe).</returns>
    public static int? TryRaise(Stream stream, int bytes = Preferred)
    {
        if (!OperatingSystem.IsLinux() || stream is not PipeStream pipe)
        {
            return null;
        }
        try
        {
            var handle = pipe.SafePipeHandle;
            var added = false;
            handle.DangerousAddRef(ref added);
            try
            {
                var fd = (int)handle.DangerousGetHandle();
                // Failure (EPERM over the quota, EBUSY if the pipe holds more data) is ignored:
                // the pipe simply keeps its capacity.
                _ = Fcntl(fd, SetPipeSize, bytes);
                var capacity = Fcntl(fd, GetPipeSize, 0);
                return capacity > 0 ? capacity : null;
            }
            finally
            {
                if (added)
                {
                    handle.DangerousRelease();
                }
            }
        }
        catch (Exception ex)
            when (ex
                    is ObjectDisposedException
                        or InvalidOperationException
                        or DllNotFoundException
                        or EntryPointNotFoundException
            )
        {
            return null;
        }
    }

    // fcntl is variadic in C; with only integer arguments the x86-64 and arm64 Linux calling
    // conventions pass them exactly as for a fixed-argument function. DllImport, not
    // LibraryImport: the arguments are blittable, and LibraryImport would need unsafe code.
    [DllImport("libc", EntryPoint = "fcntl")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Fcntl(int fd, int command, int argument);
}
