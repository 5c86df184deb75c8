using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace Microkernel.Plugins.Static.Pe;

/// <summary>
/// VS_VERSIONINFO: the String entries of every StringTable and the first Translation pair, as
/// pefile exposes them. Every block length is checked against its parent, so a damaged block
/// ends that branch instead of reading past it.
/// </summary>
public static class PeVersionInfo
{
    private const int MaxDepth = 4;

    /// <summary>(name, value) pairs in file order.</summary>
    public static List<(string Name, string Value)> Read(
        ReadOnlySpan<byte> block,
        List<string> errors
    )
    {
        var entries = new List<(string, string)>();
        if (
            !TryHeader(
                block,
                out var length,
                out _,
                out _,
                out var key,
                out var childrenAt,
                out var valueAt,
                out var valueLength
            )
        )
        {
            return entries;
        }
        if (key != "VS_VERSION_INFO")
        {
            errors.Add($"version resource starts with key '{key}', not VS_VERSION_INFO");
            return entries;
        }
        _ = valueAt;
        _ = valueLength;
        Children(block[..length], childrenAt, entries, errors, 1);
        return entries;
    }

    private static void Children(
        ReadOnlySpan<byte> parent,
        int offset,
        List<(string, string)> entries,
        List<string> errors,
        int depth
    )
    {
        while (offset + 6 <= parent.Length)
        {
            var child = parent[offset..];
            if (
                !TryHeader(
                    child,
                    out var length,
                    out var valueLength,
                    out var type,
                    out var key,
                    out var childrenAt,
                    out var valueAt,
                    out _
                )
            )
            {
                errors.Add($"version info block at byte {offset} cannot be read");
                return;
            }
            var block = child[..length];
            if (key == "StringFileInfo" && depth == 1)
            {
                Children(block, childrenAt, entries, errors, 2);
            }
            else if (depth == 2 && parent.Length > 0 && IsStringTable(key))
            {
                Children(block, childrenAt, entries, errors, 3);
            }
            else if (depth == 3)
            {
                // A String: value is UTF-16 up to NUL (wValueLength counts characters, often wrongly).
                var value = valueAt < block.Length ? block[valueAt..] : [];
                entries.Add((key, ReadUtf16(value)));
            }
            else if (key == "VarFileInfo" && depth == 1)
            {
                Children(block, childrenAt, entries, errors, 4);
            }
            else if (depth == 4 && key == "Translation")
            {
                var value = valueAt < block.Length ? block[valueAt..] : [];
                if (value.Length >= 4 && valueLength >= 4)
                {
                    entries.Add(
                        (
                            key,
                            string.Create(
                                CultureInfo.InvariantCulture,
                                $"0x{BinaryPrimitives.ReadUInt16LittleEndian(value):x4} 0x{BinaryPrimitives.ReadUInt16LittleEndian(value[2..]):x4}"
                            )
                        )
                    );
                }
            }
            _ = type;
            if (depth > MaxDepth)
            {
                return;
            }
            offset += Align4(length);
        }
    }

    private static bool IsStringTable(string key) =>
        key.Length == 8 && key.All(char.IsAsciiHexDigit);

    private static bool TryHeader(
        ReadOnlySpan<byte> data,
        out int length,
        out int valueLength,
        out int type,
        out string key,
        out int childrenAt,
        out int valueAt,
        out int valueBytes
    )
    {
        length = valueLength = type = childrenAt = valueAt = valueBytes = 0;
        key = "";
        if (data.Length < 6)
        {
            return false;
        }
        length = BinaryPrimitives.ReadUInt16LittleEndian(data);
        valueLength = BinaryPrimitives.ReadUInt16LittleEndian(data[2..]);
        type = BinaryPrimitives.ReadUInt16LittleEndian(data[4..]);
        if (length < 6 || length > data.Length)
        {
            // Tolerate a block that claims more than is left: read what is there.
            if (length < 6)
            {
                return false;
            }
            length = data.Length;
        }
        var block = data[..length];
        var keyEnd = 6;
        while (keyEnd + 1 < block.Length && (block[keyEnd] != 0 || block[keyEnd + 1] != 0))
        {
            keyEnd += 2;
        }
        key = Encoding.Unicode.GetString(block[6..keyEnd]);
        valueAt = Align4(keyEnd + 2);
        // Text values count characters, binary values bytes.
        valueBytes = type == 1 ? valueLength * 2 : valueLength;
        childrenAt = Align4(valueAt + valueBytes);
        return true;
    }

    private static string ReadUtf16(ReadOnlySpan<byte> data)
    {
        var end = 0;
        while (end + 1 < data.Length && (data[end] != 0 || data[end + 1] != 0))
        {
            end += 2;
        }
        return Encoding.Unicode.GetString(data[..end]);
    }

    private static int Align4(int value) => (value + 3) & ~3;
}
