namespace Microkernel.Testing;

/// <summary>Where the host runs the module: the <c>isolation</c> key of its <c>processing.conf</c> section.</summary>
public enum ModuleIsolation
{
    /// <summary>
    /// <c>isolation = in-process</c>: in the host process, in the plugin's own collectible load
    /// context. The unload check then covers this very process.
    /// </summary>
    InProcess,

    /// <summary>
    /// <c>isolation = process</c>: in a worker process that loads the plugin into its own
    /// collectible context; crashes, exits and runaway memory only cost that worker.
    /// </summary>
    Process,
}
