using System.Text.Json;
using Microkernel.Plugins.Network.Output;
using Microkernel.TestSupport;

namespace Microkernel.Plugins.Network.Tests;

public sealed class SpilledJsonListTests
{
    private static List<string> Sorted(
        IEnumerable<(double Key, string Value)> items,
        Action<bool>? spilled = null
    )
    {
        using var scratch = TempDirectory.Create();
        var path = Path.Combine(scratch.Path, "items.jsonl");
        using var list = new SpilledJsonList(path, NetworkReportWriter.WriterOptions);
        foreach (var (key, value) in items)
        {
            list.Begin().WriteStringValue(value);
            list.End(key);
        }
        using var output = new MemoryStream();
        using (var json = new Utf8JsonWriter(output, NetworkReportWriter.WriterOptions))
        {
            json.WriteStartArray();
            list.WriteSortedTo(json);
            json.WriteEndArray();
        }
        spilled?.Invoke(File.Exists(path));
        using var document = JsonDocument.Parse(output.ToArray());
        return document.RootElement.EnumerateArray().Select(e => e.GetString()!).ToList();
    }

    [Fact]
    public void Items_come_back_by_key_and_ties_keep_their_order()
    {
        Assert.Equal(
            ["a", "b1", "b2", "c", "d", "e"],
            Sorted([(3, "c"), (1, "a"), (2, "b1"), (5, "e"), (2, "b2"), (4, "d")])
        );
    }

    [Fact]
    public void Runs_in_order_are_copied_whole_and_split_at_the_run_limit()
    {
        // 3 MiB of items already in key order: several runs of adjacent items, each cut
        // before it passes 1 MiB, plus one item bigger than a run on its own.
        var items = Enumerable
            .Range(0, 3000)
            .Select(i => ((double)i, new string((char)('a' + i % 26), 1000)))
            .ToList();
        items.Insert(1500, (1499.5, new string('z', 1_500_000)));
        Assert.Equal(items.Select(i => i.Item2), Sorted(items));
    }

    [Fact]
    public void An_empty_list_writes_nothing()
    {
        Assert.Empty(Sorted([]));
    }

    [Fact]
    public void A_small_list_stays_in_memory()
    {
        var spilled = true;
        Assert.Equal(["a", "b"], Sorted([(2, "b"), (1, "a")], s => spilled = s));
        Assert.False(spilled);
    }

    [Fact]
    public void Items_held_in_memory_and_items_spilled_after_them_sort_together()
    {
        // Keys descending: the sort interleaves items from before and after the move to the file.
        var items = Enumerable
            .Range(0, 2500)
            .Select(i => ((double)(2500 - i), $"{i:D5}{new string('x', 1000)}"))
            .ToList();
        var spilled = false;

        var sorted = Sorted(items, s => spilled = s);

        Assert.True(spilled);
        Assert.Equal(items.Select(i => i.Item2).Reverse(), sorted);
    }
}
