using System.Runtime.InteropServices;

namespace Microkernel.Plugins.FileDescription.Native;

/// <summary>
/// libmagic (Debian <c>libmagic1</c> + <c>libmagic-mgc</c>), the library behind <c>file -b</c>
/// and Cuckoo's <c>magic.from_file</c>. No managed port of its magic database exists, so we bind
/// the system library: the type strings then equal <c>file -b</c> on the same machine.
/// </summary>
internal static partial class LibMagic
{
    private const string Library = "libmagic.so.1";

    [LibraryImport(Library, EntryPoint = "magic_open")]
    internal static partial IntPtr Open(int flags);

    [LibraryImport(Library, EntryPoint = "magic_close")]
    internal static partial void Close(IntPtr cookie);

    [LibraryImport(Library, EntryPoint = "magic_load", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Load(IntPtr cookie, string? fileName);

    [LibraryImport(Library, EntryPoint = "magic_file", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial IntPtr File(IntPtr cookie, string path);

    [LibraryImport(Library, EntryPoint = "magic_buffer")]
    internal static unsafe partial IntPtr Buffer(IntPtr cookie, byte* buffer, nuint length);

    [LibraryImport(Library, EntryPoint = "magic_error")]
    internal static partial IntPtr Error(IntPtr cookie);
}
