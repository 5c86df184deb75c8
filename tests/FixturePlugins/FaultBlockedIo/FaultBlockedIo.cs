using System.Net;
using System.Net.Sockets;
using Microkernel.Contracts;

namespace Fixture.FaultBlockedIo;

/// <summary>Fault matrix: blocks forever in a synchronous system call, deaf to its token.</summary>
public sealed class FaultBlockedIo : Processing
{
    public override string Key => "fault_blocked_io";

    public override Task<object?> RunAsync(CancellationToken cancellationToken)
    {
        // Nobody ever connects, and a synchronous Accept cannot be cancelled.
        using var listener = new Socket(
            AddressFamily.InterNetwork,
            SocketType.Stream,
            ProtocolType.Tcp
        );
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        using var peer = listener.Accept();
        return Task.FromResult<object?>(null);
    }
}
