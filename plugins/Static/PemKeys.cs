using System.Buffers;
using System.Text;

namespace Microkernel.Plugins.Static;

/// <summary>
/// Cuckoo's <c>File.get_keys</c>: PEM public and RSA private keys whose body matches
/// <c>[a-zA-Z0-9\n+/]+</c>. That class has no <c>=</c>, so padded keys are missed, as in Cuckoo.
/// </summary>
public static class PemKeys
{
    private static readonly SearchValues<byte> Body = SearchValues.Create(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789\n+/"u8
    );

    private static readonly (byte[] Begin, byte[] End)[] Kinds =
    [
        ("-----BEGIN PUBLIC KEY-----"u8.ToArray(), "-----END PUBLIC KEY-----"u8.ToArray()),
        (
            "-----BEGIN RSA PRIVATE KEY-----"u8.ToArray(),
            "-----END RSA PRIVATE KEY-----"u8.ToArray()
        ),
    ];

    /// <summary>Distinct keys in first-seen order.</summary>
    public static List<string> Find(ReadOnlySpan<byte> data)
    {
        var keys = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var position = 0;
        while (position < data.Length)
        {
            var hit = data[position..].IndexOf("-----BEGIN "u8);
            if (hit < 0)
            {
                break;
            }
            var start = position + hit;
            var matched = 0;
            foreach (var (begin, end) in Kinds)
            {
                if (!data[start..].StartsWith(begin))
                {
                    continue;
                }
                var bodyStart = start + begin.Length;
                var body = data[bodyStart..].IndexOfAnyExcept(Body);
                if (body > 0 && data[(bodyStart + body)..].StartsWith(end))
                {
                    matched = begin.Length + body + end.Length;
                    var key = Encoding.ASCII.GetString(data.Slice(start, matched));
                    if (seen.Add(key))
                    {
                        keys.Add(key);
                    }
                }
                break;
            }
            position = start + Math.Max(matched, 1);
        }
        return keys;
    }
}
