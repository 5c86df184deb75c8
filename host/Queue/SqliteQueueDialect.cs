using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace Microkernel.Host.Queue;

/// <summary>The embedded queue: one SQLite file in WAL mode, shared by the processes of one machine.</summary>
internal sealed class SqliteQueueDialect : QueueDialect
{
    private readonly string _connectionString;
    private readonly string _path;

    public SqliteQueueDialect(string connectionString)
    {
        var builder = new SqliteConnectionStringBuilder(connectionString)
        {
            Pooling = true,
            DefaultTimeout = 30,
        };
        _path = Path.GetFullPath(builder.DataSource);
        builder.DataSource = _path;
        _connectionString = builder.ToString();
        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
    }

    public override string Provider => "sqlite";

    public override string Description => _path;

    public override string Now => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)";

    public override string SkipLocked => "";

    public override IReadOnlyList<IReadOnlyList<string>> Migrations { get; } =
    [
        [
            """
                CREATE TABLE tasks (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    analysis_path TEXT NOT NULL,
                    priority INTEGER NOT NULL DEFAULT 1,
                    status TEXT NOT NULL,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    node TEXT NULL,
                    lease_expires INTEGER NULL,
                    created_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL,
                    started_at INTEGER NULL,
                    finished_at INTEGER NULL,
                    last_error TEXT NULL)
                """,
            "CREATE INDEX tasks_claim ON tasks (status, priority DESC, id)",
            """
                CREATE TABLE task_events (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    task_id INTEGER NOT NULL,
                    event TEXT NOT NULL,
                    node TEXT NULL,
                    attempt INTEGER NOT NULL,
                    at INTEGER NOT NULL,
                    detail TEXT NULL)
                """,
            "CREATE INDEX task_events_task ON task_events (task_id)",
        ],
    ];

    public override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            // Per connection: WAL makes NORMAL durable against process crashes (not power loss).
            await using var pragma = Command(
                connection,
                null,
                "PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 30000;"
            );
            await pragma.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public override async Task PrepareAsync(DbConnection connection)
    {
        // Readers never block the writer and vice versa: submit/tasks run while workers claim.
        await using var wal = Command(connection, null, "PRAGMA journal_mode = WAL;");
        await wal.ExecuteNonQueryAsync().ConfigureAwait(false);
    }

    public override Task DisposeAsync()
    {
        // Pooled connections keep the file open (and WAL files around) otherwise.
        SqliteConnection.ClearAllPools();
        return Task.CompletedTask;
    }
}
