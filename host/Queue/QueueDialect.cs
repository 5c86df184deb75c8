using System.Data.Common;

namespace Microkernel.Host.Queue;

/// <summary>What differs between the SQL databases the queue runs on; the statements themselves are shared.</summary>
internal abstract class QueueDialect
{
    public abstract string Provider { get; }

    public abstract string Description { get; }

    /// <summary>An SQL expression for the database's current time in Unix milliseconds (one clock for every node).</summary>
    public abstract string Now { get; }

    /// <summary>Appended to the claim's row pick so concurrent claimers skip each other's rows instead of waiting.</summary>
    public abstract string SkipLocked { get; }

    /// <summary>Schema versions in order: index 0 is version 1. Never edit a shipped version; append one.</summary>
    public abstract IReadOnlyList<IReadOnlyList<string>> Migrations { get; }

    public abstract Task<DbConnection> OpenAsync(CancellationToken cancellationToken);

    /// <summary>Runs first inside the migration transaction, serialising nodes that start together.</summary>
    public virtual Task LockForMigrationAsync(DbConnection connection, DbTransaction transaction) =>
        Task.CompletedTask;

    /// <summary>Once per database before migrating (outside any transaction).</summary>
    public virtual Task PrepareAsync(DbConnection connection) => Task.CompletedTask;

    public abstract Task DisposeAsync();

    public static DbCommand Command(
        DbConnection connection,
        DbTransaction? transaction,
        string sql,
        params (string Name, object? Value)[] parameters
    )
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
#pragma warning disable CA2100 // Statements are the queue's own constants; values are always parameters.
        command.CommandText = sql;
#pragma warning restore CA2100
        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value ?? DBNull.Value;
            command.Parameters.Add(parameter);
        }
        return command;
    }
}
