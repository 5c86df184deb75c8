using System.IO.Pipes;
using Microkernel.Plugins.Memory.Volatility;

namespace Microkernel.Plugins.Memory.Tests;

public sealed class PipeCapacityTests
{
    [SkippableFact]
    public async Task A_pipe_is_raised_to_1_MiB_and_then_holds_1_MiB_without_a_reader()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "F_SETPIPE_SZ is Linux only");
        using var writer = new AnonymousPipeServerStream(PipeDirection.Out);
        using var reader = new AnonymousPipeClientStream(
            PipeDirection.In,
            writer.ClientSafePipeHandle
        );

        var capacity = PipeCapacity.TryRaise(reader);

        Assert.NotNull(capacity);
        Assert.True(capacity >= PipeCapacity.Preferred, $"capacity {capacity}");
        // With the default 64 KiB this write would block until someone reads.
        var write = Task.Run(() => writer.Write(new byte[PipeCapacity.Preferred]));
        var finished = await Task.WhenAny(write, Task.Delay(TimeSpan.FromSeconds(10)));
        if (finished != write)
        {
            reader.Dispose(); // unblocks the writer (EPIPE) so the test ends
        }
        Assert.Same(write, finished);
        await write;
        var first = new byte[4096];
        Assert.Equal(first.Length, reader.Read(first));
    }

    [Fact]
    public void A_stream_that_is_not_a_pipe_is_left_alone()
    {
        using var file = new MemoryStream();
        Assert.Null(PipeCapacity.TryRaise(file));
    }

    [SkippableFact]
    public void A_closed_pipe_is_reported_unknown_not_thrown()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "F_SETPIPE_SZ is Linux only");
        var writer = new AnonymousPipeServerStream(PipeDirection.Out);
        var reader = new AnonymousPipeClientStream(PipeDirection.In, writer.ClientSafePipeHandle);
        reader.Dispose();
        writer.Dispose();
        Assert.Null(PipeCapacity.TryRaise(reader));
    }
}
