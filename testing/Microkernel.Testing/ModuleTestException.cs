namespace Microkernel.Testing;

/// <summary>The module could not be tested as asked: the plugin is not built, was refused by the host, stored nothing where a section was expected...</summary>
public class ModuleTestException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ModuleTestException() { }

    /// <summary>Creates the exception with a message saying what is wrong.</summary>
    public ModuleTestException(string message)
        : base(message) { }

    /// <summary>Creates the exception with a message and its cause.</summary>
    public ModuleTestException(string message, Exception innerException)
        : base(message, innerException) { }
}

/// <summary>
/// The plugin's load context was still alive after the host's bounded garbage-collection loop:
/// something outside the plugin still references its code (an event subscription on a static or
/// host object, a timer or thread still running, a static cache holding the plugin's types).
/// The run itself completed; its result is in <see cref="Result"/>.
/// </summary>
public sealed class PluginLeakException : ModuleTestException
{
    /// <summary>Creates the exception.</summary>
    public PluginLeakException() { }

    /// <summary>Creates the exception with a message.</summary>
    public PluginLeakException(string message)
        : base(message) { }

    /// <summary>Creates the exception with a message and its cause.</summary>
    public PluginLeakException(string message, Exception innerException)
        : base(message, innerException) { }

    /// <summary>Creates the exception for a run whose plugin did not unload.</summary>
    public PluginLeakException(string message, ModuleTestResult result)
        : base(message) => Result = result;

    /// <summary>The run whose plugin leaked, for tests that want to look at it anyway.</summary>
    public ModuleTestResult? Result { get; }
}
