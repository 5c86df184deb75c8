using System.Runtime.InteropServices;

namespace Microkernel.Plugins.TargetInfo.Tests.LibFuzzy;

/// <summary>
/// libfuzzy (Debian <c>libfuzzy2</c>, ssdeep 2.14.1), the library Cuckoo's <c>pydeep</c> wraps:
/// the reference the project's own ssdeep (FileDescription's <c>Hashing.Ssdeep</c>) is compared with.
/// </summary>
internal static partial class LibFuzzy
{
    private const string Library = "libfuzzy.so.2";

    /// <summary>FUZZY_MAX_RESULT: 2 * SPAMSUM_LENGTH + 20.</summary>
    internal const int MaxResult = 2 * 64 + 20;

    [LibraryImport(Library, EntryPoint = "fuzzy_new")]
    internal static partial IntPtr New();

    [LibraryImport(Library, EntryPoint = "fuzzy_free")]
    internal static partial void Free(IntPtr state);

    [LibraryImport(Library, EntryPoint = "fuzzy_set_total_input_length")]
    internal static partial int SetTotalInputLength(IntPtr state, ulong length);

    [LibraryImport(Library, EntryPoint = "fuzzy_update")]
    internal static unsafe partial int Update(IntPtr state, byte* buffer, nuint length);

    [LibraryImport(Library, EntryPoint = "fuzzy_digest")]
    internal static unsafe partial int Digest(IntPtr state, byte* result, uint flags);
}
