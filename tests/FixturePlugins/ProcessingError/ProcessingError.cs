using Microkernel.Contracts;

namespace Fixture.ProcessingError;

public sealed class ProcessingError : Processing
{
    public override string Key => "processing_error";

    public override async Task<object?> RunAsync(CancellationToken cancellationToken)
    {
        await Task.Yield();
        throw new ProcessingException("the input is not what this module expected");
    }
}
