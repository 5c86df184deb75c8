// Unload checks force full collections and one fixture leaks its context on purpose: one test class at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
