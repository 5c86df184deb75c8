using System.Reflection;
using System.Runtime.CompilerServices;
using Microkernel.Plugins.Behavior.Monitor;

namespace Microkernel.Plugins.Behavior.Output;

/// <summary>
/// Compiles the call-list writers on a second thread while the first pass runs, so the module's
/// thread does not stop to JIT them when the second pass starts. The plugin is loaded into a
/// collectible load context, where the runtime ignores ReadyToRun code, so a one-shot run pays
/// for every method's compilation; this moves the second pass's share off the critical path.
/// The thread only compiles (no module state), and the module joins it before returning.
/// </summary>
internal static class CallListWarmUp
{
    private static readonly Type[] Types =
    [
        typeof(CallWriter),
        typeof(JsonFragments),
        typeof(Utf8Buffer),
        typeof(PipelinedFileStream),
        typeof(FlagResolver),
        typeof(ArgValues),
    ];

    /// <summary>
    /// Below this much BSON the second pass is over in milliseconds: compiling on demand what it
    /// uses is cheaper than waiting for every hot method to be compiled fully optimised.
    /// </summary>
    public const long WorthwhileLogBytes = 4L * 1024 * 1024;

    /// <summary>Starts compiling; join the returned thread before the module returns.</summary>
    public static Thread Start()
    {
        var thread = new Thread(() => CompileAll())
        {
            IsBackground = true,
            Name = "behavior call-list warm-up",
            Priority = ThreadPriority.BelowNormal,
        };
        thread.Start();
        return thread;
    }

    /// <summary>Compiles the hot methods of the call-list writers; returns how many (for the tests).</summary>
    public static int CompileAll()
    {
        var compiled = 0;
        foreach (var type in Types)
        {
            foreach (
                var method in type.GetMethods(
                    BindingFlags.DeclaredOnly
                        | BindingFlags.Instance
                        | BindingFlags.Static
                        | BindingFlags.Public
                        | BindingFlags.NonPublic
                )
            )
            {
                // Only the hot methods, compiled fully optimised at once (a full-opt compile is
                // the expensive kind); the others are quick tier-0 compiles on first call.
                if (
                    method.IsAbstract
                    || method.ContainsGenericParameters
                    || !method.MethodImplementationFlags.HasFlag(
                        MethodImplAttributes.AggressiveOptimization
                    )
                )
                {
                    continue;
                }
                try
                {
                    RuntimeHelpers.PrepareMethod(method.MethodHandle);
                    compiled++;
                }
                catch (Exception e)
                    when (e is ArgumentException or NotSupportedException or TypeLoadException)
                {
                    // Only a head start: the method compiles on first call as it would anyway.
                }
            }
        }
        return compiled;
    }
}
