namespace Microkernel.Plugins.Behavior.Reconstruction;

/// <summary>
/// Cuckoo's <c>defaultdict(set)</c> of summary values: category to unique values. Values are kept
/// as compact JSON text (their identity) in first-seen order, so the output is deterministic.
/// </summary>
internal sealed class SummarySet
{
    private readonly Dictionary<string, (List<string> Order, HashSet<string> Seen)> _categories =
        new(StringComparer.Ordinal);
    private readonly List<string> _categoryOrder = [];

    public bool IsEmpty => _categoryOrder.Count == 0;

    public void Add(string category, string jsonValue)
    {
        if (!_categories.TryGetValue(category, out var entry))
        {
            entry = ([], new HashSet<string>(StringComparer.Ordinal));
            _categories[category] = entry;
            _categoryOrder.Add(category);
        }
        if (entry.Seen.Add(jsonValue))
        {
            entry.Order.Add(jsonValue);
        }
    }

    public IEnumerable<(string Category, IReadOnlyList<string> Values)> Categories =>
        _categoryOrder.Select(c => (c, (IReadOnlyList<string>)_categories[c].Order));
}
