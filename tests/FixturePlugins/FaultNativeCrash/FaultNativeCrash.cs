using System.Runtime.InteropServices;
using Microkernel.Contracts;

namespace Fixture.FaultNativeCrash;

/// <summary>Fault matrix: a crash in native code, as a buggy native parser library would cause.</summary>
public sealed partial class FaultNativeCrash : Processing
{
    public override string Key => "fault_native_crash";

    public override Task<object?> RunAsync(CancellationToken cancellationToken)
    {
        // libc writes through a wild pointer: a genuine SIGSEGV outside managed code, which the
        // runtime cannot turn into an exception.
        Memset(new IntPtr(64), 0, 1);
        return Task.FromResult<object?>(null);
    }

    [LibraryImport("libc", EntryPoint = "memset")]
    private static partial IntPtr Memset(IntPtr destination, int value, nuint count);
}
