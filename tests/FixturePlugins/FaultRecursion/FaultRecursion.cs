using System.Runtime.CompilerServices;
using Microkernel.Contracts;

namespace Fixture.FaultRecursion;

/// <summary>Fault matrix: unbounded recursion, i.e. a stack overflow, which .NET cannot catch.</summary>
public sealed class FaultRecursion : Processing
{
    public override string Key => "fault_recursion";

    public override Task<object?> RunAsync(CancellationToken cancellationToken) =>
        Task.FromResult<object?>(Dive(0));

    // Not inlined, and the addition after the call keeps it from being a tail call, so the JIT
    // cannot turn the recursion into a loop: every level takes a real stack frame.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static long Dive(long depth) => Dive(depth + 1) + depth;
}
