using System.Data.Common;

namespace Microkernel.Host.Queue;

/// <summary>
/// The queue on an SQL database. Each change is one short transaction that updates the task row
/// and appends to <c>task_events</c>, so the history always matches the row. After a claim, every
/// write is fenced by <c>status = 'processing' AND node = @node AND attempts = @attempt</c>: once a
/// lease was taken back, the old claimer's writes match no row and are refused.
/// </summary>
internal sealed class SqlTaskQueue(QueueDialect dialect) : ITaskQueue
{
    private const string Columns =
        "id, analysis_path, priority, status, attempts, node, lease_expires, created_at, updated_at, started_at, finished_at, last_error";

    private const string Fence =
        "id = @id AND status = 'processing' AND node = @node AND attempts = @attempt";

    private readonly string _now = dialect.Now;

    public string Description => $"{dialect.Provider} {dialect.Description}";

    public async Task MigrateAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await dialect.PrepareAsync(connection).ConfigureAwait(false);
        await using var transaction = await connection
            .BeginTransactionAsync(cancellationToken)
            .ConfigureAwait(false);
        await dialect.LockForMigrationAsync(connection, transaction).ConfigureAwait(false);
        await ExecuteAsync(
                connection,
                transaction,
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
                cancellationToken
            )
            .ConfigureAwait(false);
        await using var read = QueueDialect.Command(
            connection,
            transaction,
            "SELECT COALESCE(MAX(version), 0) FROM schema_version"
        );
        var current = Convert.ToInt32(
            await read.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false),
            System.Globalization.CultureInfo.InvariantCulture
        );
        var known = dialect.Migrations.Count;
        if (current > known)
        {
            throw new QueueUnavailableException(
                $"{Description}: the queue schema is version {current}, newer than this microkernel knows ({known}); upgrade microkernel."
            );
        }
        for (var version = current + 1; version <= known; version++)
        {
            foreach (var statement in dialect.Migrations[version - 1])
            {
                await ExecuteAsync(connection, transaction, statement, cancellationToken)
                    .ConfigureAwait(false);
            }
            await using var record = QueueDialect.Command(
                connection,
                transaction,
                "INSERT INTO schema_version (version) VALUES (@version)",
                ("version", version)
            );
            await record.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<long> SubmitAsync(
        string analysisPath,
        int priority,
        CancellationToken cancellationToken = default
    )
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection
            .BeginTransactionAsync(cancellationToken)
            .ConfigureAwait(false);
        await using var insert = QueueDialect.Command(
            connection,
            transaction,
            $"INSERT INTO tasks (analysis_path, priority, status, attempts, created_at, updated_at) VALUES (@path, @priority, 'pending', 0, {_now}, {_now}) RETURNING id",
            ("path", analysisPath),
            ("priority", priority)
        );
        var id = Convert.ToInt64(
            await insert.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false),
            System.Globalization.CultureInfo.InvariantCulture
        );
        await AddEventAsync(connection, transaction, id, "submitted", null, 0, null)
            .ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return id;
    }

    public async Task<QueueTask?> ClaimAsync(
        string node,
        TimeSpan lease,
        CancellationToken cancellationToken = default
    )
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection
            .BeginTransactionAsync(cancellationToken)
            .ConfigureAwait(false);
        await using var claim = QueueDialect.Command(
            connection,
            transaction,
            $"""
            UPDATE tasks SET status = 'processing', node = @node, attempts = attempts + 1,
                lease_expires = {_now} + @lease, started_at = {_now}, updated_at = {_now}
            WHERE id = (SELECT id FROM tasks WHERE status = 'pending'
                        ORDER BY priority DESC, id LIMIT 1 {dialect.SkipLocked})
            RETURNING {Columns}
            """,
            ("node", node),
            ("lease", (long)lease.TotalMilliseconds)
        );
        QueueTask? task;
        await using (
            var reader = await claim.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false)
        )
        {
            task = await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
                ? Read(reader)
                : null;
        }
        if (task is null)
        {
            await transaction.RollbackAsync(cancellationToken).ConfigureAwait(false);
            return null;
        }
        await AddEventAsync(connection, transaction, task.Id, "claimed", node, task.Attempts, null)
            .ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return task;
    }

    public async Task<bool> RenewAsync(
        QueueTask claimed,
        TimeSpan lease,
        CancellationToken cancellationToken = default
    )
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var renew = QueueDialect.Command(
            connection,
            null,
            $"UPDATE tasks SET lease_expires = {_now} + @lease, updated_at = {_now} WHERE {Fence}",
            ("lease", (long)lease.TotalMilliseconds),
            ("id", claimed.Id),
            ("node", claimed.Node),
            ("attempt", claimed.Attempts)
        );
        return await renew.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    public Task<bool> FinishAsync(
        QueueTask claimed,
        string status,
        string? error,
        CancellationToken cancellationToken = default
    )
    {
        if (status is not (QueueStatus.Reported or QueueStatus.FailedProcessing))
        {
            throw new ArgumentException($"'{status}' is not a final status.", nameof(status));
        }
        return TransitionAsync(
            claimed,
            $"status = @status, lease_expires = NULL, finished_at = {_now}, updated_at = {_now}, last_error = @error",
            status,
            error,
            [("status", status), ("error", error)],
            cancellationToken
        );
    }

    public Task<bool> RetryAsync(
        QueueTask claimed,
        string error,
        CancellationToken cancellationToken = default
    ) =>
        TransitionAsync(
            claimed,
            $"status = 'pending', node = NULL, lease_expires = NULL, updated_at = {_now}, last_error = @error",
            "retry",
            error,
            [("error", error)],
            cancellationToken
        );

    public Task<bool> ReleaseAsync(
        QueueTask claimed,
        CancellationToken cancellationToken = default
    ) =>
        TransitionAsync(
            claimed,
            $"status = 'pending', node = NULL, lease_expires = NULL, attempts = attempts - 1, updated_at = {_now}",
            "released",
            null,
            [],
            cancellationToken
        );

    private async Task<bool> TransitionAsync(
        QueueTask claimed,
        string set,
        string @event,
        string? detail,
        (string, object?)[] parameters,
        CancellationToken cancellationToken
    )
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection
            .BeginTransactionAsync(cancellationToken)
            .ConfigureAwait(false);
        await using var update = QueueDialect.Command(
            connection,
            transaction,
            $"UPDATE tasks SET {set} WHERE {Fence}",
            [
                .. parameters,
                ("id", claimed.Id),
                ("node", claimed.Node),
                ("attempt", claimed.Attempts),
            ]
        );
        if (await update.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) != 1)
        {
            await transaction.RollbackAsync(cancellationToken).ConfigureAwait(false);
            return false;
        }
        await AddEventAsync(
                connection,
                transaction,
                claimed.Id,
                @event,
                claimed.Node,
                claimed.Attempts,
                detail
            )
            .ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    public async Task<IReadOnlyList<ReclaimedTask>> ReclaimExpiredAsync(
        int maxAttempts,
        CancellationToken cancellationToken = default
    )
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection
            .BeginTransactionAsync(cancellationToken)
            .ConfigureAwait(false);
        // SET sees the old row: the reason names the node that stopped renewing.
        await using var reclaim = QueueDialect.Command(
            connection,
            transaction,
            $"""
            UPDATE tasks SET
                status = CASE WHEN attempts >= @max THEN 'failed_processing' ELSE 'pending' END,
                finished_at = CASE WHEN attempts >= @max THEN {_now} ELSE NULL END,
                last_error = 'lease expired on node ' || node || ' during attempt ' || attempts
                    || CASE WHEN attempts >= @max THEN ' of ' || @max || '; giving up' ELSE '; reclaimed' END,
                node = NULL, lease_expires = NULL, updated_at = {_now}
            WHERE status = 'processing' AND lease_expires < {_now}
            RETURNING id, status, attempts, last_error
            """,
            ("max", maxAttempts)
        );
        var reclaimed = new List<ReclaimedTask>();
        await using (
            var reader = await reclaim.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false)
        )
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                reclaimed.Add(
                    new ReclaimedTask(
                        reader.GetInt64(0),
                        reader.GetString(1),
                        reader.GetInt32(2),
                        reader.IsDBNull(3) ? null : reader.GetString(3)
                    )
                );
            }
        }
        foreach (var task in reclaimed)
        {
            await AddEventAsync(
                    connection,
                    transaction,
                    task.Id,
                    task.Status == QueueStatus.FailedProcessing ? "failed_processing" : "reclaimed",
                    null,
                    task.Attempts,
                    task.Reason
                )
                .ConfigureAwait(false);
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return reclaimed;
    }

    public async Task<QueueTask?> GetAsync(long id, CancellationToken cancellationToken = default)
    {
        var rows = await QueryAsync(
                $"SELECT {Columns} FROM tasks WHERE id = @id",
                [("id", id)],
                cancellationToken
            )
            .ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    public Task<IReadOnlyList<QueueTask>> ListAsync(
        string? status,
        int limit,
        CancellationToken cancellationToken = default
    ) =>
        status is null
            ? QueryAsync(
                $"SELECT {Columns} FROM tasks ORDER BY id LIMIT @limit",
                [("limit", limit)],
                cancellationToken
            )
            : QueryAsync(
                $"SELECT {Columns} FROM tasks WHERE status = @status ORDER BY id LIMIT @limit",
                [("status", status), ("limit", limit)],
                cancellationToken
            );

    public async Task<IReadOnlyDictionary<string, long>> CountAsync(
        CancellationToken cancellationToken = default
    )
    {
        var counts = QueueStatus.All.ToDictionary(s => s, _ => 0L, StringComparer.Ordinal);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = QueueDialect.Command(
            connection,
            null,
            "SELECT status, COUNT(*) FROM tasks GROUP BY status"
        );
        await using var reader = await command
            .ExecuteReaderAsync(cancellationToken)
            .ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            counts[reader.GetString(0)] = reader.GetInt64(1);
        }
        return counts;
    }

    public async Task<IReadOnlyList<QueueEvent>> HistoryAsync(
        long? taskId,
        CancellationToken cancellationToken = default
    )
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = QueueDialect.Command(
            connection,
            null,
            taskId is null
                ? "SELECT task_id, event, node, attempt, at, detail FROM task_events ORDER BY id"
                : "SELECT task_id, event, node, attempt, at, detail FROM task_events WHERE task_id = @id ORDER BY id",
            taskId is null ? [] : [("id", taskId)]
        );
        await using var reader = await command
            .ExecuteReaderAsync(cancellationToken)
            .ConfigureAwait(false);
        var events = new List<QueueEvent>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            events.Add(
                new QueueEvent(
                    reader.GetInt64(0),
                    reader.GetString(1),
                    reader.IsDBNull(2) ? null : reader.GetString(2),
                    reader.GetInt32(3),
                    Time(reader.GetInt64(4)),
                    reader.IsDBNull(5) ? null : reader.GetString(5)
                )
            );
        }
        return events;
    }

    public Task<int> RequeueAsync(long id, CancellationToken cancellationToken = default) =>
        RequeueWhereAsync(
            "id = @id AND status IN ('reported', 'failed_processing')",
            ("id", id),
            cancellationToken
        );

    public Task<int> RequeueFailedAsync(CancellationToken cancellationToken = default) =>
        RequeueWhereAsync("status = 'failed_processing'", null, cancellationToken);

    private async Task<int> RequeueWhereAsync(
        string where,
        (string, object?)? parameter,
        CancellationToken cancellationToken
    )
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection
            .BeginTransactionAsync(cancellationToken)
            .ConfigureAwait(false);
        await using var update = QueueDialect.Command(
            connection,
            transaction,
            $"""
            UPDATE tasks SET status = 'pending', attempts = 0, node = NULL, lease_expires = NULL,
                started_at = NULL, finished_at = NULL, updated_at = {_now}
            WHERE {where} RETURNING id
            """,
            parameter is { } p ? [p] : []
        );
        var ids = new List<long>();
        await using (
            var reader = await update.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false)
        )
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                ids.Add(reader.GetInt64(0));
            }
        }
        foreach (var id in ids)
        {
            await AddEventAsync(connection, transaction, id, "requeued", null, 0, null)
                .ConfigureAwait(false);
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return ids.Count;
    }

    private async Task<IReadOnlyList<QueueTask>> QueryAsync(
        string sql,
        (string, object?)[] parameters,
        CancellationToken cancellationToken
    )
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = QueueDialect.Command(connection, null, sql, parameters);
        await using var reader = await command
            .ExecuteReaderAsync(cancellationToken)
            .ConfigureAwait(false);
        var tasks = new List<QueueTask>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            tasks.Add(Read(reader));
        }
        return tasks;
    }

    private async Task AddEventAsync(
        DbConnection connection,
        DbTransaction transaction,
        long taskId,
        string @event,
        string? node,
        int attempt,
        string? detail
    )
    {
        await using var insert = QueueDialect.Command(
            connection,
            transaction,
            $"INSERT INTO task_events (task_id, event, node, attempt, at, detail) VALUES (@task, @event, @node, @attempt, {_now}, @detail)",
            ("task", taskId),
            ("event", @event),
            ("node", node),
            ("attempt", attempt),
            ("detail", detail)
        );
        await insert.ExecuteNonQueryAsync().ConfigureAwait(false);
    }

    private static async Task ExecuteAsync(
        DbConnection connection,
        DbTransaction transaction,
        string sql,
        CancellationToken cancellationToken
    )
    {
        await using var command = QueueDialect.Command(connection, transaction, sql);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await dialect.OpenAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (DbException ex)
        {
            throw new QueueUnavailableException($"{Description}: {ex.Message}", ex);
        }
    }

    private static QueueTask Read(DbDataReader r) =>
        new(
            r.GetInt64(0),
            r.GetString(1),
            r.GetInt32(2),
            r.GetString(3),
            r.GetInt32(4),
            r.IsDBNull(5) ? null : r.GetString(5),
            r.IsDBNull(6) ? null : Time(r.GetInt64(6)),
            Time(r.GetInt64(7)),
            Time(r.GetInt64(8)),
            r.IsDBNull(9) ? null : Time(r.GetInt64(9)),
            r.IsDBNull(10) ? null : Time(r.GetInt64(10)),
            r.IsDBNull(11) ? null : r.GetString(11)
        );

    private static DateTimeOffset Time(long unixMilliseconds) =>
        DateTimeOffset.FromUnixTimeMilliseconds(unixMilliseconds);

    public async ValueTask DisposeAsync() => await dialect.DisposeAsync().ConfigureAwait(false);
}
