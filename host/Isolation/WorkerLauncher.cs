using System.Diagnostics;

namespace Microkernel.Host.Isolation;

/// <summary>
/// Finds the executable a worker runs: the host itself in worker mode. From the CLI that is the
/// apphost next to the host assembly; from a test runner or the test kit, where the host is a
/// referenced assembly, it is <c>dotnet microkernel.dll</c>.
/// </summary>
internal static class WorkerLauncher
{
    public const string WorkerVerb = "worker";

    public static ProcessStartInfo StartInfo(string pipeName)
    {
        var directory = AppContext.BaseDirectory;
        var hostAssembly = typeof(WorkerLauncher).Assembly.Location;
        if (!string.IsNullOrEmpty(hostAssembly))
        {
            directory = Path.GetDirectoryName(hostAssembly)!;
        }
        var appHost = Path.Combine(
            directory,
            OperatingSystem.IsWindows() ? "microkernel.exe" : "microkernel"
        );
        var dll = Path.Combine(directory, "microkernel.dll");
        ProcessStartInfo info;
        if (File.Exists(appHost))
        {
            info = new ProcessStartInfo(appHost);
        }
        else if (File.Exists(Path.Combine(directory, "microkernel.runtimeconfig.json")))
        {
            info = new ProcessStartInfo(DotnetHost());
            info.ArgumentList.Add(dll);
        }
        else
        {
            throw new FileNotFoundException(
                $"No worker executable next to {dll}: expected {appHost} or microkernel.runtimeconfig.json (build the host project)."
            );
        }
        info.ArgumentList.Add(WorkerVerb);
        info.ArgumentList.Add("--pipe");
        info.ArgumentList.Add(pipeName);
        info.UseShellExecute = false;
        info.RedirectStandardInput = true;
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.WorkingDirectory = directory;
        return info;
    }

    private static string DotnetHost()
    {
        var fromSdk = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(fromSdk) && File.Exists(fromSdk))
        {
            return fromSdk;
        }
        var current = Environment.ProcessPath;
        if (
            current is not null
            && Path.GetFileNameWithoutExtension(current).Equals("dotnet", StringComparison.Ordinal)
        )
        {
            return current;
        }
        var root = Environment.GetEnvironmentVariable("DOTNET_ROOT");
        if (!string.IsNullOrEmpty(root) && File.Exists(Path.Combine(root, "dotnet")))
        {
            return Path.Combine(root, "dotnet");
        }
        return "dotnet";
    }
}
