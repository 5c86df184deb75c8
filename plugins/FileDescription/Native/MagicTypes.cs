using System.Runtime.InteropServices;

namespace Microkernel.Plugins.FileDescription.Native;

/// <summary>
/// One libmagic cookie. A cookie is not thread-safe: use one instance per thread of work and
/// dispose it when done.
/// </summary>
public sealed class MagicTypes : IDisposable
{
    private IntPtr _cookie;

    private MagicTypes(IntPtr cookie) => _cookie = cookie;

    /// <summary>Opens libmagic with its default database; null (and a reason) when it is not installed.</summary>
    public static MagicTypes? TryOpen(out string? failure)
    {
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

    /// <inheritdoc />
    public void Dispose()
    {
        if (_cookie != IntPtr.Zero)
        {
            LibMagic.Close(_cookie);
            _cookie = IntPtr.Zero;
        }
    }
}
