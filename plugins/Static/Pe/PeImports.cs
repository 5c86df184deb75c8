using System.Text;

namespace Microkernel.Plugins.Static.Pe;

/// <summary>One imported symbol: IAT slot VA, name (null for an unresolved ordinal), ordinal.</summary>
public sealed record PeImport(ulong Address, string? Name, int? Ordinal);

/// <summary>The imports of one DLL.</summary>
public sealed record PeImportedDll(string Dll, IReadOnlyList<PeImport> Imports);

/// <summary>The import directory, walked with pefile's stop rules and caps.</summary>
public static class PeImports
{
    private const int MaxImportSymbols = 0x2000;
    private const uint MaxNameLength = 0x200;
    private const int MaxDescriptors = 0x10000;

    /// <summary>Null when the image has no import directory (imphash is then "").</summary>
    public static List<PeImportedDll>? Read(PeImage image)
    {
        var (rva, size) = image.Directories[1];
        if (rva == 0)
        {
            return null;
        }
        var dlls = new List<PeImportedDll>();
        var errorCount = 0;
        var totalSymbols = 0;
        for (var n = 0; n < MaxDescriptors; n++)
        {
            var descriptor = image.GetData(rva, 20, out var mapped);
            if (!mapped || descriptor.Length < 20)
            {
                if (n == 0)
                {
                    image.Errors.Add($"import directory at RVA 0x{rva:x} cannot be read");
                    return null;
                }
                image.Errors.Add($"import descriptor at RVA 0x{rva:x} cannot be read");
                break;
            }
            if (descriptor.IndexOfAnyExcept((byte)0) < 0)
            {
                break;
            }
            var originalFirstThunk = BitConverter.ToUInt32(descriptor[..4]);
            var nameRva = BitConverter.ToUInt32(descriptor[12..16]);
            var firstThunk = BitConverter.ToUInt32(descriptor[16..20]);
            var descriptorOffset = image.OffsetOf(rva) ?? 0;
            rva += 20;
            long maxLength = image.Data.Length - descriptorOffset;
            if (rva > originalFirstThunk || rva > firstThunk)
            {
                maxLength = Math.Max((long)rva - originalFirstThunk, (long)rva - firstThunk);
            }
            var symbols = ReadThunks(
                image,
                originalFirstThunk,
                firstThunk,
                maxLength,
                ref totalSymbols
            );
            if (errorCount > 5)
            {
                image.Errors.Add($"too many errors in the import directory near RVA 0x{rva:x}");
                break;
            }
            if (symbols is null || symbols.Count == 0)
            {
                errorCount++;
                continue;
            }
            var dllBytes = image.GetStringAt(nameRva, MaxNameLength, out _);
            var dll = IsValidDosFileName(dllBytes)
                ? Encoding.Latin1.GetString(dllBytes)
                : "*invalid*";
            if (dll.Length == 0)
            {
                continue;
            }
            var lower = dll.ToLowerInvariant();
            var resolved = symbols
                .Select(s =>
                    s.Name is null && s.Ordinal is { } ordinal
                        ? s with
                        {
                            Name = OrdinalName(lower, ordinal),
                        }
                        : s
                )
                .ToList();
            dlls.Add(new PeImportedDll(dll, resolved));
        }
        return dlls;
    }

    /// <summary>pefile's ordlookup: names only for ws2_32, wsock32 and oleaut32.</summary>
    public static string? OrdinalName(string lowerDll, int ordinal, bool makeName = false)
    {
        var table = lowerDll switch
        {
            "ws2_32.dll" or "wsock32.dll" => PeNames.Ws2_32Ordinals,
            "oleaut32.dll" => PeNames.Oleaut32Ordinals,
            _ => null,
        };
        if (table is null)
        {
            return makeName ? $"ord{ordinal}" : null;
        }
        return table.TryGetValue(ordinal, out var name) ? name : $"ord{ordinal}";
    }

    private static List<PeImport>? ReadThunks(
        PeImage image,
        uint originalFirstThunk,
        uint firstThunk,
        long maxLength,
        ref int totalSymbols
    )
    {
        var ilt = ReadTable(image, originalFirstThunk, maxLength, ref totalSymbols);
        var iat = ReadTable(image, firstThunk, maxLength, ref totalSymbols);
        var table =
            ilt is { Count: > 0 } ? ilt
            : iat is { Count: > 0 } ? iat
            : null;
        if (table is null)
        {
            return [];
        }
        var entrySize = image.IsPe32Plus ? 8u : 4u;
        var ordinalFlag = image.IsPe32Plus ? 0x8000000000000000UL : 0x80000000UL;
        var addressMask = image.IsPe32Plus ? 0x7FFFFFFFFFFFFFFFUL : 0x7FFFFFFFUL;
        var symbols = new List<PeImport>();
        for (var i = 0; i < table.Count; i++)
        {
            var entry = table[i];
            if (entry == 0)
            {
                continue;
            }
            var address = firstThunk + image.ImageBase + (ulong)i * entrySize;
            if ((entry & ordinalFlag) != 0)
            {
                var ordinal = (int)(entry & 0xFFFF);
                if (ordinal != 0)
                {
                    symbols.Add(new PeImport(address, null, ordinal));
                }
                continue;
            }
            var hintName = (uint)(entry & addressMask);
            var name = image.GetStringAt(hintName + 2, MaxNameLength, out var mapped);
            if (!mapped)
            {
                image.Errors.Add($"import name at RVA 0x{hintName + 2:x} cannot be read");
                return symbols;
            }
            if (!IsValidFunctionName(name))
            {
                continue;
            }
            symbols.Add(new PeImport(address, Encoding.Latin1.GetString(name), null));
        }
        return symbols;
    }

    private static List<ulong>? ReadTable(
        PeImage image,
        uint rva,
        long maxLength,
        ref int totalSymbols
    )
    {
        if (rva == 0)
        {
            return null;
        }
        var size = image.IsPe32Plus ? 8u : 4u;
        var table = new List<ulong>();
        var start = rva;
        while (true)
        {
            if (rva >= start + maxLength)
            {
                break;
            }
            if (++totalSymbols > MaxImportSymbols)
            {
                image.Errors.Add(
                    $"more than {MaxImportSymbols} import symbols; the rest is ignored"
                );
                break;
            }
            var data = image.GetData(rva, size, out var mapped);
            if (!mapped || data.Length != size)
            {
                return null;
            }
            var value = size == 8 ? BitConverter.ToUInt64(data) : BitConverter.ToUInt32(data);
            if (value >= start && value <= rva)
            {
                break;
            }
            if (value == 0)
            {
                break;
            }
            table.Add(value);
            rva += size;
        }
        return table;
    }

    private static bool IsValidDosFileName(ReadOnlySpan<byte> name)
    {
        foreach (var c in name)
        {
            if (
                !(
                    char.IsAsciiLetterOrDigit((char)c)
                    || "!#$%&'()-@^_`{}~+,.;=[]\\/".Contains((char)c)
                )
            )
            {
                return false;
            }
        }
        return true;
    }

    private static bool IsValidFunctionName(ReadOnlySpan<byte> name)
    {
        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit((char)c) || "._?@$()<>".Contains((char)c)))
            {
                return false;
            }
        }
        return true;
    }
}
