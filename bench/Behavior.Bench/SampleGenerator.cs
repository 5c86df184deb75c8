namespace Microkernel.Plugins.Behavior.Bench;

internal static class SampleGenerator
{
    public static void Write(string a) { }
}
