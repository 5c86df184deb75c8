// Daemons are real processes and the machine has two cores: one test class at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
