using Microkernel.Host.Configuration;
using Microkernel.Host.Queue;

namespace Microkernel.Daemon.Tests.Queue;

[Collection(PostgresCollection.Name)]
public sealed class PostgresTaskQueueTests(PostgresServer server) : TaskQueueContract
{
    private string? _connectionString;

    protected override string? Unavailable => server.Unavailable;

    private protected override async Task<ITaskQueue> CreateQueueAsync()
    {
        _connectionString = await server.CreateDatabaseAsync();
        return TaskQueueFactory.Create(
            new MicrokernelOptions { QueueConnectionString = _connectionString }
        );
    }

    private protected override ITaskQueue OpenAgain() =>
        TaskQueueFactory.Create(
            new MicrokernelOptions { QueueConnectionString = _connectionString }
        );

    [SkippableFact]
    public void A_postgres_url_is_understood()
    {
        Assert.StartsWith("postgresql postgresql://127.0.0.1:", Queue.Description);
        var fromUrl = TaskQueueFactory.Create(
            new MicrokernelOptions
            {
                QueueConnectionString = "postgres://u:p%40ss@db.example:6543/tasks",
            }
        );
        Assert.Equal("postgresql postgresql://db.example:6543/tasks", fromUrl.Description);
    }
}
