using Microkernel.Host.Cli;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Microkernel.Host.Tests.Cli;

public sealed class HostFactoryTests
{
    [Fact]
    public void Appsettings_is_read_next_to_the_executable_and_never_watched()
    {
        using var host = HostFactory.Build(new HostSettings(null, null, [], false, false));

        var environment = host.Services.GetRequiredService<IHostEnvironment>();
        Assert.Equal(
            Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory),
            Path.TrimEndingDirectorySeparator(environment.ContentRootPath)
        );
        var configuration = (IConfigurationRoot)host.Services.GetRequiredService<IConfiguration>();
        var files = configuration.Providers.OfType<FileConfigurationProvider>().ToList();
        // appsettings.json, appsettings.{environment}.json and the application's own settings files.
        Assert.Contains(files, f => f.Source.Path == "appsettings.json");
        // A watched file means a recursive watch on the content root (one inotify watch per folder).
        Assert.All(files, f => Assert.False(f.Source.ReloadOnChange, f.Source.Path));
    }
}
