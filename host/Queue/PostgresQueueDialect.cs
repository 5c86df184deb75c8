using System.Data.Common;
using Npgsql;

namespace Microkernel.Host.Queue;

/// <summary>The shared queue: many nodes claim from one PostgreSQL table with <c>FOR UPDATE SKIP LOCKED</c>.</summary>
internal sealed class PostgresQueueDialect : QueueDialect
{
    /// <summary>Arbitrary, fixed: the advisory lock that serialises schema migration across nodes.</summary>
    private const long MigrationLockKey = 0x4D6B5175;

    private readonly NpgsqlDataSource _dataSource;

    public PostgresQueueDialect(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        Description = $"postgresql://{builder.Host}:{builder.Port}/{builder.Database}";
        _dataSource = NpgsqlDataSource.Create(builder.ConnectionString);
    }

    public override string Provider => "postgresql";

    public override string Description { get; }

    public override string Now => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)";

    public override string SkipLocked => "FOR UPDATE SKIP LOCKED";

    public override IReadOnlyList<IReadOnlyList<string>> Migrations { get; } =
    [
        [
            """
                CREATE TABLE tasks (
                    id BIGSERIAL PRIMARY KEY,
                    analysis_path TEXT NOT NULL,
                    priority INTEGER NOT NULL DEFAULT 1,
                    status TEXT NOT NULL,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    node TEXT NULL,
                    lease_expires BIGINT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    started_at BIGINT NULL,
                    finished_at BIGINT NULL,
                    last_error TEXT NULL)
                """,
            "CREATE INDEX tasks_claim ON tasks (status, priority DESC, id)",
            """
                CREATE TABLE task_events (
                    id BIGSERIAL PRIMARY KEY,
                    task_id BIGINT NOT NULL,
                    event TEXT NOT NULL,
                    node TEXT NULL,
                    attempt INTEGER NOT NULL,
                    at BIGINT NOT NULL,
                    detail TEXT NULL)
                """,
            "CREATE INDEX task_events_task ON task_events (task_id)",
        ],
    ];

    public override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

    public override async Task LockForMigrationAsync(
        DbConnection connection,
        DbTransaction transaction
    )
    {
        await using var command = Command(
            connection,
            transaction,
            "SELECT pg_advisory_xact_lock(@key)",
            ("key", MigrationLockKey)
        );
        await command.ExecuteNonQueryAsync().ConfigureAwait(false);
    }

    public override async Task DisposeAsync() =>
        await _dataSource.DisposeAsync().ConfigureAwait(false);
}
