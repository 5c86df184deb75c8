using Microsoft.Extensions.Logging.Abstractions;

namespace Microkernel.Contracts.Tests;

public sealed class ProcessingContextTests
{
    [Fact]
    public void The_scratch_folder_is_created_when_a_module_first_asks_for_it()
    {
        var root = Path.Combine(Path.GetTempPath(), $"contracts-tests-{Guid.NewGuid():N}");
        var scratch = Path.Combine(root, "Module");
        try
        {
            var context = new ProcessingContext(
                root,
                new TaskInfo(),
                ModuleOptions.Empty("module"),
                NullLogger.Instance,
                new NoSections(),
                scratch,
                root,
                ModuleOptions.Empty("processing")
            );
            Assert.False(Directory.Exists(scratch));

            Assert.Equal(scratch, context.ScratchPath);
            Assert.True(Directory.Exists(scratch));
            File.WriteAllText(Path.Combine(context.ScratchPath, "section.json"), "{}");
        }
        finally
        {
            if (Directory.Exists(root))
            {
                Directory.Delete(root, recursive: true);
            }
        }
    }
}
