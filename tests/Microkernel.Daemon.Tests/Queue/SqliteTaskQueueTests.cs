using Microkernel.Host.Configuration;
using Microkernel.Host.Queue;
using Microkernel.TestSupport;
using Microsoft.Data.Sqlite;

namespace Microkernel.Daemon.Tests.Queue;

public sealed class SqliteTaskQueueTests : TaskQueueContract, IDisposable
{
    private readonly TempDirectory _storage = TempDirectory.Create();

    private MicrokernelOptions Options => new() { StoragePath = _storage.Path };

    private protected override Task<ITaskQueue> CreateQueueAsync() =>
        Task.FromResult(TaskQueueFactory.Create(Options));

    private protected override ITaskQueue OpenAgain() => TaskQueueFactory.Create(Options);

    [Fact]
    public void The_default_queue_is_a_file_under_the_storage_folder()
    {
        Assert.Equal($"sqlite {_storage.Combine("queue.db")}", Queue.Description);
        Assert.True(File.Exists(_storage.Combine("queue.db")));
    }

    [Fact]
    public async Task A_database_from_a_newer_microkernel_is_refused_with_a_clear_message()
    {
        using (var connection = new SqliteConnection($"Data Source={_storage.Combine("queue.db")}"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "INSERT INTO schema_version (version) VALUES (99)";
            command.ExecuteNonQuery();
        }

        var ex = await Assert.ThrowsAsync<QueueUnavailableException>(() => Queue.MigrateAsync());

        Assert.Contains("schema is version 99, newer than this microkernel knows (1)", ex.Message);
    }

    public void Dispose() => _storage.Dispose();
}
