using System.Buffers.Binary;
using System.Text;

namespace Microkernel.Plugins.Static.Pe;

/// <summary>One export: RVA, name (null for ordinal-only), ordinal.</summary>
public sealed record PeExport(uint Address, string? Name, uint Ordinal);

/// <summary>The export directory, read like pefile: named exports in name-table order, then the unnamed ones.</summary>
public static class PeExports
{
    /// <summary>pefile's MAX_SYMBOL_EXPORT_COUNT.</summary>
    public const int MaxExports = 0x2000;

    private const uint MaxNameLength = 0x200;

    /// <summary>The exports; empty when there is no export directory.</summary>
    public static List<PeExport> Read(PeImage image)
    {
        var exports = new List<PeExport>();
        var (rva, size) = image.Directories[0];
        if (rva == 0)
        {
            return exports;
        }
        var directory = image.GetData(rva, 40, out var mapped);
        if (!mapped || directory.Length < 40)
        {
            image.Errors.Add($"export directory at RVA 0x{rva:x} cannot be read");
            return exports;
        }
        var ordinalBase = BinaryPrimitives.ReadUInt32LittleEndian(directory[16..]);
        var numberOfFunctions = BinaryPrimitives.ReadUInt32LittleEndian(directory[20..]);
        var numberOfNames = BinaryPrimitives.ReadUInt32LittleEndian(directory[24..]);
        var addressOfFunctions = BinaryPrimitives.ReadUInt32LittleEndian(directory[28..]);
        var addressOfNames = BinaryPrimitives.ReadUInt32LittleEndian(directory[32..]);
        var addressOfNameOrdinals = BinaryPrimitives.ReadUInt32LittleEndian(directory[36..]);

        // Table lengths come from the file: a claimed count only bounds them.
        var functions = image.GetData(
            addressOfFunctions,
            (uint)Math.Min(numberOfFunctions * 4L, uint.MaxValue),
            out _
        );
        var names = image.GetData(
            addressOfNames,
            (uint)Math.Min(numberOfNames * 4L, uint.MaxValue),
            out _
        );
        var nameOrdinals = image.GetData(
            addressOfNameOrdinals,
            (uint)Math.Min(numberOfNames * 2L, uint.MaxValue),
            out _
        );

        var named = new HashSet<uint>();
        var seen = new HashSet<(string, uint)>();
        var nameCount = Math.Min(
            numberOfNames,
            (uint)Math.Min(names.Length / 4, nameOrdinals.Length / 2)
        );
        if (nameCount < numberOfNames)
        {
            image.Errors.Add(
                $"export name tables at RVA 0x{addressOfNames:x}/0x{addressOfNameOrdinals:x} hold {nameCount} of {numberOfNames} claimed names"
            );
        }
        for (var i = 0; i < nameCount; i++)
        {
            var index = BinaryPrimitives.ReadUInt16LittleEndian(nameOrdinals[(i * 2)..]);
            if ((index + 1) * 4 > functions.Length)
            {
                image.Errors.Add(
                    $"export name {i} refers to function {index}, beyond the address table at RVA 0x{addressOfFunctions:x}"
                );
                break;
            }
            var address = BinaryPrimitives.ReadUInt32LittleEndian(functions[(index * 4)..]);
            if (address == 0)
            {
                continue;
            }
            var nameRva = BinaryPrimitives.ReadUInt32LittleEndian(names[(i * 4)..]);
            var nameBytes = image.GetStringAt(nameRva, MaxNameLength, out var nameMapped);
            if (!nameMapped || !IsValidExportName(nameBytes))
            {
                image.Errors.Add(
                    $"export name {i} at RVA 0x{nameRva:x} is unreadable or invalid; the named exports stop here"
                );
                break;
            }
            var name = Encoding.Latin1.GetString(nameBytes);
            if (!seen.Add((name, address)) && seen.Count > MaxExports)
            {
                break;
            }
            if (exports.Count >= MaxExports)
            {
                image.Errors.Add($"more than {MaxExports} exports; the rest is ignored");
                return exports;
            }
            named.Add(ordinalBase + index);
            exports.Add(new PeExport(address, name, ordinalBase + index));
        }
        var functionCount = Math.Min(numberOfFunctions, (uint)(functions.Length / 4));
        for (var index = 0u; index < functionCount; index++)
        {
            if (named.Contains(index + ordinalBase))
            {
                continue;
            }
            var address = BinaryPrimitives.ReadUInt32LittleEndian(functions[(int)(index * 4)..]);
            if (address == 0)
            {
                continue;
            }
            if (exports.Count >= MaxExports)
            {
                image.Errors.Add($"more than {MaxExports} exports; the rest is ignored");
                break;
            }
            exports.Add(new PeExport(address, null, ordinalBase + index));
        }
        return exports;
    }

    // pefile's relaxed is_valid_function_name alphabet.
    private static readonly System.Buffers.SearchValues<byte> ExportNameBytes =
        System.Buffers.SearchValues.Create(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!\"#$%&'()*+,-./:<>?[\\]^_`{|}~@"u8
        );

    private static bool IsValidExportName(ReadOnlySpan<byte> name) =>
        name.IndexOfAnyExcept(ExportNameBytes) < 0;
}
