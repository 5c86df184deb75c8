using System.Globalization;
using System.Net;
using System.Text.Json;
using Microkernel.Host.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Microkernel.Host.Daemon;

/// <summary>
/// <c>GET /health/live</c> (the process answers and its workers run) and <c>GET /health/ready</c>
/// (also: the queue answered recently and the plugins loaded) on 127.0.0.1 only. HttpListener
/// because the host is not a web application and two fixed routes do not justify ASP.NET Core.
/// </summary>
internal sealed class HealthEndpoint(
    MicrokernelOptions options,
    DaemonHealth health,
    PluginSnapshots snapshots,
    ILogger<HealthEndpoint> logger
) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.HealthPort <= 0)
        {
            return;
        }
        using var listener = new HttpListener();
        listener.Prefixes.Add(
            string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{options.HealthPort}/")
        );
        try
        {
            listener.Start();
        }
        catch (HttpListenerException ex)
        {
            logger.LogError(
                "Health endpoint not started on 127.0.0.1:{Port}: {Error}",
                options.HealthPort,
                ex.Message
            );
            return;
        }
        await using var registration = stoppingToken.Register(listener.Stop);
        while (!stoppingToken.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException)
            {
                break;
            }
            try
            {
                Respond(context);
            }
            catch (Exception ex) when (ex is HttpListenerException or IOException)
            {
                logger.LogDebug("Health request failed: {Error}", ex.Message);
            }
        }
    }

    private void Respond(HttpListenerContext context)
    {
        var path = context.Request.Url?.AbsolutePath.TrimEnd('/') ?? "";
        var workersOk = health.WorkersAlive >= health.WorkersExpected && !health.Stopping;
        var queueOk = health.QueueHealthy(
            TimeSpan.FromSeconds(Math.Max(10, options.PollIntervalSeconds * 5))
        );
        var snapshot = snapshots.Current;
        var pluginsOk = snapshot.Modules.Count > 0;
        int status;
        switch (path)
        {
            case "/health/live":
                status = workersOk ? 200 : 503;
                break;
            case "/health/ready" or "/health":
                status = workersOk && queueOk && pluginsOk ? 200 : 503;
                break;
            default:
                context.Response.StatusCode = 404;
                context.Response.Close();
                return;
        }
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("status", status == 200 ? "ok" : "unhealthy");
            json.WriteStartObject("workers");
            json.WriteNumber("alive", health.WorkersAlive);
            json.WriteNumber("expected", health.WorkersExpected);
            json.WriteBoolean("stopping", health.Stopping);
            json.WriteEndObject();
            json.WriteStartObject("queue");
            json.WriteBoolean("reachable", queueOk);
            if (health.QueueOkAt is { } at)
            {
                json.WriteString("last_ok", at);
            }
            if (health.QueueError is { } error)
            {
                json.WriteString("error", error);
            }
            json.WriteEndObject();
            json.WriteStartObject("plugins");
            json.WriteNumber("snapshot", snapshot.Number);
            json.WriteNumber("reloads", snapshots.Reloads);
            json.WriteStartArray("modules");
            foreach (var module in snapshot.Modules)
            {
                json.WriteStringValue(module);
            }
            json.WriteEndArray();
            json.WriteStartArray("failures");
            foreach (var failure in snapshot.Failures)
            {
                json.WriteStringValue(failure);
            }
            json.WriteEndArray();
            if (snapshots.LastRejection is { } rejection)
            {
                json.WriteString("last_rejected_reload", rejection);
            }
            json.WriteEndObject();
            json.WriteEndObject();
        }
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength64 = buffer.Length;
        context.Response.OutputStream.Write(buffer.GetBuffer(), 0, (int)buffer.Length);
        context.Response.Close();
    }
}
