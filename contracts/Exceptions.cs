namespace Microkernel.Contracts;

/// <summary>
/// A module failed in a way worth reporting (Cuckoo's <c>CuckooProcessingError</c>). The host
/// records the message in <c>debug.errors</c>, stores nothing under the module's key and goes on.
/// </summary>
public class ProcessingException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ProcessingException() { }

    /// <summary>Creates the exception.</summary>
    public ProcessingException(string message)
        : base(message) { }

    /// <summary>Creates the exception.</summary>
    public ProcessingException(string message, Exception innerException)
        : base(message, innerException) { }
}

/// <summary>
/// Something the module needs (a tool, a library, a setting) is missing (Cuckoo's
/// <c>CuckooDependencyError</c>). Recorded like <see cref="ProcessingException"/>, with outcome
/// <c>missing_dependency</c>.
/// </summary>
public class MissingDependencyException : ProcessingException
{
    /// <summary>Creates the exception.</summary>
    public MissingDependencyException() { }

    /// <summary>Creates the exception.</summary>
    public MissingDependencyException(string message)
        : base(message) { }

    /// <summary>Creates the exception.</summary>
    public MissingDependencyException(string message, Exception innerException)
        : base(message, innerException) { }
}
