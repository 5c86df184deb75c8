using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Microkernel.Plugins.VirusTotal.Tests;

/// <summary>One canned HTTP reply.</summary>
internal sealed record Reply(
    int Status,
    string Body,
    TimeSpan Delay = default,
    string? RetryAfter = null
)
{
    public static Reply FromFile(int status, string path) => new(status, File.ReadAllText(path));
}

/// <summary>A request as the server saw it.</summary>
internal sealed record SeenRequest(string Method, string Path, string? ApiKey);

/// <summary>
/// A real HTTP server on 127.0.0.1 (HttpListener) that answers each request with the next reply
/// the test chose, so the plugin's HttpClient, resilience pipeline and timeouts run for real.
/// </summary>
internal sealed class FakeVirusTotalServer : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Func<SeenRequest, int, Reply> _answer;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _count;

    public FakeVirusTotalServer(Func<SeenRequest, int, Reply> answer)
    {
        _answer = answer;
        var port = FreePort();
        BaseUrl = $"http://127.0.0.1:{port}/";
        _listener.Prefixes.Add(BaseUrl);
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public string BaseUrl { get; }

    public ConcurrentQueue<SeenRequest> Requests { get; } = new();

    private async Task LoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception) when (_stop.IsCancellationRequested || !_listener.IsListening)
            {
                return;
            }
            _ = Task.Run(() => AnswerAsync(context));
        }
    }

    private async Task AnswerAsync(HttpListenerContext context)
    {
        var seen = new SeenRequest(
            context.Request.HttpMethod,
            context.Request.Url!.AbsolutePath,
            context.Request.Headers["x-apikey"]
        );
        Requests.Enqueue(seen);
        var reply = _answer(seen, Interlocked.Increment(ref _count) - 1);
        try
        {
            if (reply.Delay > TimeSpan.Zero)
            {
                await Task.Delay(reply.Delay, _stop.Token);
            }
            context.Response.StatusCode = reply.Status;
            context.Response.ContentType = "application/json";
            if (reply.RetryAfter is not null)
            {
                context.Response.Headers["Retry-After"] = reply.RetryAfter;
            }
            var body = Encoding.UTF8.GetBytes(reply.Body);
            context.Response.ContentLength64 = body.Length;
            await context.Response.OutputStream.WriteAsync(body, _stop.Token);
            context.Response.Close();
        }
        catch (Exception) when (_stop.IsCancellationRequested) { }
        catch (HttpListenerException) { }
        catch (IOException) { }
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Close();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException) { }
        _stop.Dispose();
    }
}
