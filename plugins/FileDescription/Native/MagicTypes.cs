using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace Microkernel.Plugins.FileDescription.Native;

/// <summary>
/// One libmagic cookie. A cookie is not thread-safe: use one instance per thread of work and
/// dispose it when done. Disposing hands the cookie back to a small pool of idle ones, because a
/// fresh cookie's first lookup costs 2–6 ms more than a warm one's (measured on the shipped
/// sample: libmagic faults in and prepares its 8 MB database on first use), and a daemon that
/// keeps this plugin loaded describes a few files per task. The pool is closed when the plugin's
/// load context unloads.
/// </summary>
public sealed class MagicTypes : IDisposable
{
    /// <summary>More idle cookies than concurrent users never help; each holds native memory.</summary>
    private const int MaxIdle = 8;

    private static readonly Lock Gate = new();
    private static readonly Stack<IntPtr> Idle = new();
    private static bool s_unloading;

    private IntPtr _cookie;

    static MagicTypes()
    {
        // A collectible context cannot free native memory by itself: close idle cookies when it
        // starts unloading, and close (not pool) any cookie returned after that.
        var context = AssemblyLoadContext.GetLoadContext(typeof(MagicTypes).Assembly);
        if (context is { IsCollectible: true })
        {
            context.Unloading += static _ => CloseIdle();
        }
    }

    private MagicTypes(IntPtr cookie) => _cookie = cookie;

    /// <summary>Cookies waiting in the pool (for tests).</summary>
    internal static int IdleCount
    {
        get
        {
            lock (Gate)
            {
                return Idle.Count;
            }
        }
    }

    /// <summary>
    /// A cookie with libmagic's default database loaded (an idle one when there is one); null (and
    /// a reason) when libmagic is not installed.
    /// </summary>
    public static MagicTypes? TryOpen(out string? failure)
    {
        lock (Gate)
        {
            if (Idle.TryPop(out var idle))
            {
                failure = null;
                return new MagicTypes(idle);
            }
        }
        try
        {
            var cookie = LibMagic.Open(0);
            if (cookie == IntPtr.Zero)
            {
                failure = "magic_open failed";
                return null;
            }
            if (LibMagic.Load(cookie, null) != 0)
            {
                failure =
                    $"magic_load failed: {Marshal.PtrToStringUTF8(LibMagic.Error(cookie))} (is libmagic-mgc installed?)";
                LibMagic.Close(cookie);
                return null;
            }
            failure = null;
            return new MagicTypes(cookie);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            failure = $"libmagic.so.1 could not be loaded (install libmagic1): {e.Message}";
            return null;
        }
    }

    /// <summary>The description of a file, as <c>file -b</c> prints it.</summary>
    public string? OfFile(string path)
    {
        ObjectDisposedException.ThrowIf(_cookie == IntPtr.Zero, this);
        return Marshal.PtrToStringUTF8(LibMagic.File(_cookie, path));
    }

    /// <summary>The description of a buffer (Cuckoo's <c>magic.from_buffer</c>); "empty" for no bytes.</summary>
    public unsafe string? OfBuffer(ReadOnlySpan<byte> data)
    {
        ObjectDisposedException.ThrowIf(_cookie == IntPtr.Zero, this);
        fixed (byte* pointer = data)
        {
            // A zero-length span may give a null pointer, which libmagic treats as an error.
            byte empty = 0;
            var start = data.IsEmpty ? &empty : pointer;
            return Marshal.PtrToStringUTF8(LibMagic.Buffer(_cookie, start, (nuint)data.Length));
        }
    }

    /// <summary>Hands the cookie back to the pool (closes it when the pool is full or closed).</summary>
    public void Dispose()
    {
        var cookie = _cookie;
        if (cookie == IntPtr.Zero)
        {
            return;
        }
        _cookie = IntPtr.Zero;
        lock (Gate)
        {
            if (!s_unloading && Idle.Count < MaxIdle)
            {
                Idle.Push(cookie);
                return;
            }
        }
        LibMagic.Close(cookie);
    }

    /// <summary>Closes the idle cookies; later returns are closed too.</summary>
    internal static void CloseIdle()
    {
        IntPtr[] idle;
        lock (Gate)
        {
            s_unloading = true;
            idle = [.. Idle];
            Idle.Clear();
        }
        foreach (var cookie in idle)
        {
            LibMagic.Close(cookie);
        }
    }
}
