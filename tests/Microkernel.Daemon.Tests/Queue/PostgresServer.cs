using System.Diagnostics;
using System.Globalization;
using Npgsql;

namespace Microkernel.Daemon.Tests.Queue;

/// <summary>
/// A real throw-away PostgreSQL server (initdb + pg_ctl in a temp folder, 127.0.0.1, a free
/// port), shared by the tests of one collection. PostgreSQL refuses to run as root, so as root
/// it runs as the <c>postgres</c> user through <c>runuser</c>.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    private string? _data;
    private string? _bin;
    private int _databases;

    /// <summary>Why the tests are skipped, or null when the server runs.</summary>
    public string? Unavailable { get; private set; }

    public int Port { get; private set; }

    public async Task InitializeAsync()
    {
        _bin = FindBinaries();
        if (_bin is null)
        {
            Unavailable =
                "PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin or PATH; install the Debian 'postgresql' package";
            return;
        }
        var root = Path.Combine(
            Path.GetTempPath(),
            "microkernel-pg-" + Guid.NewGuid().ToString("N")[..8]
        );
        Directory.CreateDirectory(root);
        _data = Path.Combine(root, "data");
        Port = Daemon.MicrokernelProcess.FreePort();
        var asRoot = Environment.UserName == "root";
        if (asRoot)
        {
            Run("chown", "-R", "postgres:postgres", root);
        }
        Pg("initdb", "-D", _data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8");
        Pg(
            "pg_ctl",
            "-D",
            _data,
            "-l",
            Path.Combine(root, "server.log"),
            "-w",
            "-t",
            "60",
            "-o",
            string.Create(
                CultureInfo.InvariantCulture,
                $"-p {Port} -h 127.0.0.1 -k {root} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            ),
            "start"
        );
        await using var connection = new NpgsqlConnection(ConnectionString("postgres"));
        await connection.OpenAsync();
    }

    /// <summary>A new empty database, so tests never see each other's tasks.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        var name = $"queue{Interlocked.Increment(ref _databases)}";
        await using var connection = new NpgsqlConnection(ConnectionString("postgres"));
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = $"CREATE DATABASE {name}";
        await command.ExecuteNonQueryAsync();
        return ConnectionString(name);
    }

    public string ConnectionString(string database) =>
        string.Create(
            CultureInfo.InvariantCulture,
            $"Host=127.0.0.1;Port={Port};Username=postgres;Database={database};Pooling=true;Maximum Pool Size=20"
        );

    public Task DisposeAsync()
    {
        if (_data is not null && _bin is not null)
        {
            try
            {
                NpgsqlConnection.ClearAllPools();
                Pg("pg_ctl", "-D", _data, "-m", "immediate", "-w", "stop");
            }
            catch (InvalidOperationException) { }
            try
            {
                Directory.Delete(Path.GetDirectoryName(_data)!, recursive: true);
            }
            catch (IOException) { }
        }
        return Task.CompletedTask;
    }

    private static string? FindBinaries()
    {
        if (Directory.Exists("/usr/lib/postgresql"))
        {
            var bin = Directory
                .EnumerateDirectories("/usr/lib/postgresql")
                .Select(d => Path.Combine(d, "bin"))
                .Where(b =>
                    File.Exists(Path.Combine(b, "initdb")) && File.Exists(Path.Combine(b, "pg_ctl"))
                )
                .OrderByDescending(b => b, StringComparer.Ordinal)
                .FirstOrDefault();
            if (bin is not null)
            {
                return bin;
            }
        }
        return (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .FirstOrDefault(d =>
                File.Exists(Path.Combine(d, "initdb")) && File.Exists(Path.Combine(d, "pg_ctl"))
            );
    }

    private void Pg(string tool, params string[] args)
    {
        var path = Path.Combine(_bin!, tool);
        if (Environment.UserName == "root")
        {
            Run("runuser", ["-u", "postgres", "--", path, .. args]);
        }
        else
        {
            Run(path, args);
        }
    }

    private static void Run(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = "/tmp",
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(120_000))
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} did not finish");
        }
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"{file} {string.Join(' ', args)} exited {process.ExitCode}:\n{stdout.Result}\n{stderr.Result}"
            );
        }
    }
}

[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresServer>
{
    public const string Name = "PostgreSQL";
}
