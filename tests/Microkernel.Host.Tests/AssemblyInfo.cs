// Unload checks force full GCs and read process-wide telemetry: run test classes one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
