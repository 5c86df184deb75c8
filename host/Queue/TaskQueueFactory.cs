using Microkernel.Host.Configuration;

namespace Microkernel.Host.Queue;

/// <summary>Picks the queue's database from <see cref="MicrokernelOptions.QueueConnectionString"/>.</summary>
internal static class TaskQueueFactory
{
    public static ITaskQueue Create(MicrokernelOptions options)
    {
        var connection = options.QueueConnectionString?.Trim();
        QueueDialect dialect;
        try
        {
            dialect = connection switch
            {
                null or "" => new SqliteQueueDialect(
                    $"Data Source={Path.Combine(options.ResolveStoragePath(), "queue.db")}"
                ),
                _ when IsPostgres(connection) => new PostgresQueueDialect(ToKeywords(connection)),
                _ when connection.Contains('=', StringComparison.Ordinal) => new SqliteQueueDialect(
                    connection
                ),
                _ => new SqliteQueueDialect($"Data Source={connection}"),
            };
        }
        catch (ArgumentException ex)
        {
            throw new QueueUnavailableException(
                $"QueueConnectionString is not usable: {ex.Message}",
                ex
            );
        }
        return new SqlTaskQueue(dialect);
    }

    private static bool IsPostgres(string connection) =>
        connection.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase)
        || connection.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase)
        || connection.Contains("Host=", StringComparison.OrdinalIgnoreCase)
        || connection.Contains("Server=", StringComparison.OrdinalIgnoreCase);

    /// <summary>Npgsql takes keyword strings only; operators often hold URLs.</summary>
    private static string ToKeywords(string connection)
    {
        if (!connection.Contains("://", StringComparison.Ordinal))
        {
            return connection;
        }
        var uri = new Uri(connection);
        var builder = new Npgsql.NpgsqlConnectionStringBuilder
        {
            Host = uri.Host,
            Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port,
            Database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/')),
        };
        if (uri.UserInfo.Length > 0)
        {
            var parts = uri.UserInfo.Split(':', 2);
            builder.Username = Uri.UnescapeDataString(parts[0]);
            if (parts.Length == 2)
            {
                builder.Password = Uri.UnescapeDataString(parts[1]);
            }
        }
        return builder.ConnectionString;
    }
}
