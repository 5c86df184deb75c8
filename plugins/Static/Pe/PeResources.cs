using System.Buffers.Binary;
using System.Text;

namespace Microkernel.Plugins.Static.Pe;

/// <summary>One resource leaf (type / name-or-id / language).</summary>
public sealed record PeResource(
    string TypeName,
    int? TypeId,
    uint DataRva,
    uint Size,
    int Language,
    int SubLanguage
);

/// <summary>
/// The three-level resource tree. Directory offsets come from the file, so every directory is
/// visited at most once (loops end), the depth is fixed at three, and the total number of
/// entries is capped like pefile's MAX_RESOURCE_ENTRIES.
/// </summary>
public static class PeResources
{
    /// <summary>pefile's MAX_RESOURCE_ENTRIES.</summary>
    public const int MaxEntries = 0x8000;

    /// <summary>The leaves in directory order (named entries before id entries, as stored).</summary>
    public static List<PeResource> Read(PeImage image)
    {
        var leaves = new List<PeResource>();
        var (baseRva, _) = image.Directories[2];
        if (baseRva == 0)
        {
            return leaves;
        }
        var visited = new HashSet<uint>();
        var budget = MaxEntries;
        foreach (var type in Entries(image, baseRva, 0, visited, ref budget))
        {
            if (type.Directory is not { } idDirectory)
            {
                continue;
            }
            var typeName =
                type.Name
                ?? (PeNames.ResourceTypes.TryGetValue(type.Id, out var known) ? known : "None");
            foreach (var id in Entries(image, baseRva, idDirectory, visited, ref budget))
            {
                if (id.Directory is not { } languageDirectory)
                {
                    continue;
                }
                foreach (
                    var language in Entries(image, baseRva, languageDirectory, visited, ref budget)
                )
                {
                    if (language.Directory is not null)
                    {
                        image.Errors.Add(
                            $"resource language entry under type {typeName} points to a directory (offset 0x{language.Directory:x}); skipped"
                        );
                        continue;
                    }
                    var entry = image.GetData(baseRva + language.DataOffset, 16, out var mapped);
                    if (!mapped || entry.Length < 16)
                    {
                        image.Errors.Add(
                            $"resource data entry at RVA 0x{baseRva + language.DataOffset:x} cannot be read"
                        );
                        continue;
                    }
                    leaves.Add(
                        new PeResource(
                            typeName,
                            type.Name is null ? type.Id : null,
                            BinaryPrimitives.ReadUInt32LittleEndian(entry),
                            BinaryPrimitives.ReadUInt32LittleEndian(entry[4..]),
                            (int)(language.RawName & 0x3ff),
                            (int)((language.RawName >> 10) & 0x3f)
                        )
                    );
                }
            }
        }
        return leaves;
    }

    private readonly record struct Entry(
        uint RawName,
        string? Name,
        int Id,
        uint? Directory,
        uint DataOffset
    );

    private static List<Entry> Entries(
        PeImage image,
        uint baseRva,
        uint directoryOffset,
        HashSet<uint> visited,
        ref int budget
    )
    {
        var entries = new List<Entry>();
        if (!visited.Add(directoryOffset))
        {
            image.Errors.Add(
                $"resource directory at RVA 0x{baseRva + directoryOffset:x} is visited twice (a loop); skipped"
            );
            return entries;
        }
        var header = image.GetData(baseRva + directoryOffset, 16, out var mapped);
        if (!mapped || header.Length < 16)
        {
            image.Errors.Add(
                $"resource directory at RVA 0x{baseRva + directoryOffset:x} cannot be read"
            );
            return entries;
        }
        var count =
            BinaryPrimitives.ReadUInt16LittleEndian(header[12..])
            + BinaryPrimitives.ReadUInt16LittleEndian(header[14..]);
        for (var i = 0; i < count; i++)
        {
            if (--budget < 0)
            {
                if (budget == -1)
                {
                    image.Errors.Add(
                        $"more than {MaxEntries} resource entries; the rest is ignored"
                    );
                }
                break;
            }
            var at = baseRva + directoryOffset + 16 + (uint)i * 8;
            var raw = image.GetData(at, 8, out var entryMapped);
            if (!entryMapped || raw.Length < 8)
            {
                image.Errors.Add($"resource directory entry at RVA 0x{at:x} cannot be read");
                break;
            }
            var name = BinaryPrimitives.ReadUInt32LittleEndian(raw);
            var offset = BinaryPrimitives.ReadUInt32LittleEndian(raw[4..]);
            string? text = null;
            if ((name & 0x80000000) != 0)
            {
                text = ReadName(image, baseRva + (name & 0x7fffffff));
            }
            uint? directory = (offset & 0x80000000) != 0 ? offset & 0x7fffffff : null;
            entries.Add(new Entry(name, text, (int)(name & 0xffff), directory, offset));
        }
        return entries;
    }

    private static string ReadName(PeImage image, uint rva)
    {
        var length = image.GetData(rva, 2, out _);
        if (length.Length < 2)
        {
            return "";
        }
        var chars = BinaryPrimitives.ReadUInt16LittleEndian(length);
        var data = image.GetData(rva + 2, chars * 2u, out _);
        return Encoding.Unicode.GetString(data[..(data.Length & ~1)]);
    }
}
