using Microkernel.Contracts;

namespace Fixture.FaultProcessingError;

/// <summary>Fault matrix: a reportable failure (Cuckoo's CuckooProcessingError).</summary>
public sealed class FaultProcessingError : Processing
{
    public override string Key => "fault_processing_error";

    public override Task<object?> RunAsync(CancellationToken cancellationToken) =>
        throw new ProcessingException("fault fixture: the input is unusable");
}
