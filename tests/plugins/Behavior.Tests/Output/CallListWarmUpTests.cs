using System.Reflection;
using Microkernel.Plugins.Behavior.Output;

namespace Microkernel.Plugins.Behavior.Tests.Output;

public sealed class CallListWarmUpTests
{
    [Fact]
    public void Compiles_the_hot_call_list_writers_without_failing()
    {
        // The fully optimised methods of the writers, CallWriter's own among them.
        var compiled = CallListWarmUp.CompileAll();
        var hotInCallWriter = typeof(CallWriter)
            .GetMethods(
                BindingFlags.DeclaredOnly
                    | BindingFlags.Instance
                    | BindingFlags.Static
                    | BindingFlags.Public
                    | BindingFlags.NonPublic
            )
            .Count(m =>
                m.MethodImplementationFlags.HasFlag(MethodImplAttributes.AggressiveOptimization)
            );
        Assert.True(hotInCallWriter >= 3, $"CallWriter has {hotInCallWriter} hot methods");
        Assert.True(compiled >= hotInCallWriter + 8, $"only {compiled} methods compiled");
    }

    [Fact]
    public void The_warm_up_thread_ends_on_its_own()
    {
        var thread = CallListWarmUp.Start();
        Assert.True(thread.Join(TimeSpan.FromSeconds(30)), "warm-up thread still running");
        Assert.False(thread.IsAlive);
    }
}
