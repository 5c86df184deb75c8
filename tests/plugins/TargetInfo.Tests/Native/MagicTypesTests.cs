using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.Loader;
using Microkernel.Plugins.FileDescription.Native;
using Microkernel.TestSupport;

namespace Microkernel.Plugins.TargetInfo.Tests.Native;

/// <summary>
/// The libmagic cookie pool, exercised in its own collectible load context as a plugin's copy of
/// the library is: the pool is per context, and unloading the context must close it and let the
/// context go.
/// </summary>
public sealed class MagicTypesTests
{
    [Fact]
    public void A_returned_cookie_is_reused_and_closed_when_its_context_unloads()
    {
        using var folder = TempDirectory.Create();
        var text = Path.Combine(folder.Path, "note.txt");
        File.WriteAllText(text, "plain words\n");
        var pe = Path.Combine(folder.Path, "tiny.exe");
        File.WriteAllBytes(pe, [(byte)'M', (byte)'Z', .. new byte[62]]);

        var context = PoolInCollectibleContext(text, pe, out var descriptions, out var idle);

        // Fresh cookie, then the pooled one: same answers, one cookie idle between uses (a
        // second Dispose does not return it twice), none after the context started unloading.
        Assert.Equal(descriptions[0], descriptions[1]);
        Assert.StartsWith("ASCII text", descriptions[0]);
        Assert.NotEqual(descriptions[0], descriptions[2]);
        Assert.Equal([1, 0, 1, 1, 0], idle);

        // Unloading takes a varying number of collections; a context held by a reference never goes.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (context.IsAlive && DateTime.UtcNow < deadline)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        Assert.False(context.IsAlive, "the pool's Unloading handler kept the context alive");
    }

    [Fact]
    public void A_disposed_cookie_cannot_be_used()
    {
        // In the default (non-collectible) context, as the tests and `process` use the library.
        using var magic = MagicTypes.TryOpen(out var failure);
        Assert.Null(failure);
        magic!.Dispose();
        magic.Dispose();
        Assert.Throws<ObjectDisposedException>(() => magic.OfFile("/"));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference PoolInCollectibleContext(
        string text,
        string pe,
        out string?[] descriptions,
        out int[] idle
    )
    {
        var context = new AssemblyLoadContext("magic-pool-test", isCollectible: true);
        var assembly = context.LoadFromAssemblyPath(typeof(MagicTypes).Assembly.Location);
        var type = assembly.GetType(typeof(MagicTypes).FullName!, throwOnError: true)!;
        var open = type.GetMethod(nameof(MagicTypes.TryOpen))!;
        var ofFile = type.GetMethod(nameof(MagicTypes.OfFile))!;
        var idleCount = type.GetProperty(
            "IdleCount",
            BindingFlags.NonPublic | BindingFlags.Static
        )!;
        int Idle() => (int)idleCount.GetValue(null)!;

        object Open()
        {
            var arguments = new object?[] { null };
            return open.Invoke(null, arguments)
                ?? throw new InvalidOperationException($"libmagic: {arguments[0]}");
        }

        var seen = new List<int>();
        var first = Open();
        var fresh = (string?)ofFile.Invoke(first, [text]);
        ((IDisposable)first).Dispose();
        seen.Add(Idle());
        var second = Open();
        seen.Add(Idle());
        var pooled = (string?)ofFile.Invoke(second, [text]);
        var other = (string?)ofFile.Invoke(second, [pe]);
        ((IDisposable)second).Dispose();
        seen.Add(Idle());
        ((IDisposable)second).Dispose();
        seen.Add(Idle());
        context.Unload();
        seen.Add(Idle());

        descriptions = [fresh, pooled, other];
        idle = [.. seen];
        return new WeakReference(context);
    }
}
