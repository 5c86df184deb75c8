using System.Reflection;
using Microkernel.Plugins.Behavior.Output;

namespace Microkernel.Plugins.Behavior.Tests.Output;

public sealed class CallListWarmUpTests
{
    [Fact]
    public void Compiles_the_call_list_writers_without_failing()
    {
        // Every concrete method of the writers: the hot ones and their helpers.
        var compiled = CallListWarmUp.CompileAll();
        var expected = typeof(CallWriter)
            .GetMethods(
                BindingFlags.DeclaredOnly
                    | BindingFlags.Instance
                    | BindingFlags.Static
                    | BindingFlags.Public
                    | BindingFlags.NonPublic
            )
            .Count(m => !m.IsAbstract && !m.ContainsGenericParameters);
        Assert.True(expected >= 8, $"CallWriter has {expected} methods");
        Assert.True(compiled > expected * 3, $"only {compiled} methods compiled");
    }

    [Fact]
    public void The_warm_up_thread_ends_on_its_own()
    {
        var thread = CallListWarmUp.Start();
        Assert.True(thread.Join(TimeSpan.FromSeconds(30)), "warm-up thread still running");
        Assert.False(thread.IsAlive);
    }
}
