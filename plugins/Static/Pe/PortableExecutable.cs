using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microkernel.Plugins.FileDescription.Native;

namespace Microkernel.Plugins.Static.Pe;

/// <summary>Cuckoo's <c>PortableExecutable.run()</c>: the <c>pe_*</c> keys of <c>static</c>.</summary>
public static class PortableExecutable
{
    /// <summary>
    /// The PE part of <c>static</c>, in Cuckoo's key order; null when the file is not a PE.
    /// Damage yields what could be read plus <c>pe_errors</c> (Microkernel's addition).
    /// </summary>
    public static Dictionary<string, object?>? Analyse(
        ReadOnlyMemory<byte> file,
        MagicTypes? magic,
        CancellationToken cancellationToken
    )
    {
        var errors = new List<string>();
        PeImage image;
        try
        {
            image = new PeImage(file, errors);
        }
        catch (PeFormatException)
        {
            return null;
        }
        var result = new Dictionary<string, object?>
        {
            // No PEiD database ships with Microkernel (Cuckoo's UserDB.TXT is not ours to copy).
            ["peid_signatures"] = null,
        };
        var imports = Guard(errors, "imports", () => PeImports.Read(image));
        cancellationToken.ThrowIfCancellationRequested();
        result["pe_imports"] = (imports ?? [])
            .Select(dll => new Dictionary<string, object?>
            {
                ["dll"] = ConvertToPrintable(dll.Dll),
                ["imports"] = dll
                    .Imports.Select(i => new Dictionary<string, object?>
                    {
                        ["address"] = Hex(i.Address),
                        ["name"] = i.Name,
                    })
                    .ToList(),
            })
            .ToList();
        result["pe_exports"] = (Guard(errors, "exports", () => PeExports.Read(image)) ?? [])
            .Select(e => new Dictionary<string, object?>
            {
                ["address"] = Hex(image.ImageBase + e.Address),
                ["name"] = e.Name,
                ["ordinal"] = e.Ordinal,
            })
            .ToList();
        cancellationToken.ThrowIfCancellationRequested();
        result["pe_sections"] = image
            .Sections.Select(s => new Dictionary<string, object?>
            {
                ["name"] = ConvertToPrintable(Encoding.Latin1.GetString(s.RawName).Trim('\0')),
                ["virtual_address"] = Hex8(s.VirtualAddress),
                ["virtual_size"] = Hex8(s.VirtualSize),
                ["size_of_data"] = Hex8(s.SizeOfRawData),
                ["entropy"] = Entropy(image.SectionData(s)),
            })
            .ToList();
        var resources = Guard(errors, "resources", () => PeResources.Read(image)) ?? [];
        cancellationToken.ThrowIfCancellationRequested();
        result["pe_resources"] = resources
            .Select(r => new Dictionary<string, object?>
            {
                ["name"] = r.TypeName,
                ["offset"] = Hex8(r.DataRva),
                ["size"] = Hex8(r.Size),
                ["filetype"] = magic?.OfBuffer(image.GetData(r.DataRva, r.Size, out _)),
                ["language"] = PeNames.Languages.TryGetValue(r.Language, out var language)
                    ? language
                    : null,
                ["sublanguage"] = SubLanguageName(r.Language, r.SubLanguage),
            })
            .ToList();
        result["pe_versioninfo"] = (
            Guard(errors, "version info", () => VersionInfo(image, resources)) ?? []
        )
            .Select(v => new Dictionary<string, object?>
            {
                ["name"] = ConvertToPrintable(v.Name),
                ["value"] = ConvertToPrintable(v.Value),
            })
            .ToList();
        result["pe_imphash"] = imports is null
            ? ""
            : Guard(errors, "imphash", () => ImpHash(imports));
        // Cuckoo prints local time (its Q4); Microkernel works in UTC throughout.
        result["pe_timestamp"] = DateTimeOffset
            .FromUnixTimeSeconds(image.TimeDateStamp)
            .UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
        result["pdb_path"] = Guard(errors, "debug directory", () => PdbPath(image));
        result["signature"] = Guard(errors, "signature", () => PeSignature.Read(image)) ?? [];
        result["imported_dll_count"] = (imports ?? []).Count(d => d.Dll.Length > 0);
        if (errors.Count > 0)
        {
            result["pe_errors"] = errors;
        }
        return result;
    }

    /// <summary>pefile's <c>get_imphash</c>.</summary>
    public static string ImpHash(IReadOnlyList<PeImportedDll> imports)
    {
        var parts = new List<string>();
        foreach (var dll in imports)
        {
            var lower = dll.Dll.ToLowerInvariant();
            var library = lower;
            var dot = lower.LastIndexOf('.');
            if (dot >= 0 && lower[(dot + 1)..] is "ocx" or "sys" or "dll")
            {
                library = lower[..dot];
            }
            foreach (var symbol in dll.Imports)
            {
                var name =
                    symbol.Name
                    ?? PeImports.OrdinalName(lower, symbol.Ordinal ?? 0, makeName: true);
                if (!string.IsNullOrEmpty(name))
                {
                    parts.Add($"{library}.{name.ToLowerInvariant()}");
                }
            }
        }
#pragma warning disable CA5351 // imphash is defined as MD5.
        return Convert.ToHexStringLower(
            MD5.HashData(Encoding.UTF8.GetBytes(string.Join(',', parts)))
        );
#pragma warning restore CA5351
    }

    /// <summary>Cuckoo's <c>convert_to_printable</c>: anything but letters, digits, punctuation, space, \t \r \n becomes <c>\xNN</c>.</summary>
    public static string ConvertToPrintable(string text)
    {
        if (text.All(IsPrintable))
        {
            return text;
        }
        var builder = new StringBuilder(text.Length + 16);
        foreach (var c in text)
        {
            if (IsPrintable(c))
            {
                builder.Append(c);
            }
            else
            {
                builder.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}");
            }
        }
        return builder.ToString();
    }

    /// <summary>Shannon entropy in bits per byte, as pefile's <c>get_entropy</c>.</summary>
    public static double Entropy(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return 0.0;
        }
        // Four interleaved tables break the store-to-load dependency on runs of equal bytes
        // (padding, zero fill), which otherwise makes counting several times slower.
        Span<int> counts = stackalloc int[1024];
        var i = 0;
        for (; i + 4 <= data.Length; i += 4)
        {
            counts[data[i]]++;
            counts[256 + data[i + 1]]++;
            counts[512 + data[i + 2]]++;
            counts[768 + data[i + 3]]++;
        }
        for (; i < data.Length; i++)
        {
            counts[data[i]]++;
        }
        for (var b = 0; b < 256; b++)
        {
            counts[b] += counts[256 + b] + counts[512 + b] + counts[768 + b];
        }
        var entropy = 0.0;
        foreach (var count in counts[..256])
        {
            if (count > 0)
            {
                var p = (double)count / data.Length;
                entropy -= p * Math.Log2(p);
            }
        }
        return entropy;
    }

    private static bool IsPrintable(char c) => c is >= ' ' and <= '~' or '\t' or '\r' or '\n';

    private static string? SubLanguageName(int language, int subLanguage)
    {
        var languageName = PeNames.Languages.TryGetValue(language, out var name)
            ? name
            : "*unknown*";
        if (!PeNames.SubLanguages.TryGetValue(subLanguage, out var candidates))
        {
            return "*unknown*";
        }
        return candidates.FirstOrDefault(c => c.Contains(languageName, StringComparison.Ordinal))
            ?? candidates[0];
    }

    private static List<(string Name, string Value)> VersionInfo(
        PeImage image,
        List<PeResource> resources
    )
    {
        var version = resources.FirstOrDefault(r => r.TypeId == 16);
        if (version is null)
        {
            return [];
        }
        return PeVersionInfo.Read(
            image.GetData(version.DataRva, version.Size, out _),
            image.Errors
        );
    }

    private static string? PdbPath(PeImage image)
    {
        var (rva, size) = image.Directories[6];
        if (rva == 0)
        {
            return null;
        }
        var directory = image.GetData(rva, size, out _);
        for (var at = 0; at + 28 <= directory.Length; at += 28)
        {
            var sizeOfData = BitConverter.ToUInt32(directory[(at + 16)..]);
            var pointer = BitConverter.ToUInt32(directory[(at + 24)..]);
            if (pointer >= image.Data.Length)
            {
                continue;
            }
            var data = image.Data[
                (int)pointer..(int)Math.Min((long)pointer + sizeOfData, image.Data.Length)
            ];
            if (data.StartsWith("RSDS"u8))
            {
                return Encoding.Latin1.GetString(data.Length > 24 ? data[24..] : []).Trim('\0');
            }
        }
        return null;
    }

    private static T? Guard<T>(List<string> errors, string part, Func<T> read)
    {
        try
        {
            return read();
        }
        catch (Exception e)
            when (e
                    is ArgumentException
                        or IndexOutOfRangeException
                        or InvalidOperationException
                        or OverflowException
            )
        {
            // Bounds are checked everywhere; this is the last line so one part's damage never loses the others.
            errors.Add($"{part}: {e.Message}");
            return default;
        }
    }

    private static string Hex(ulong value) =>
        "0x" + value.ToString("x", CultureInfo.InvariantCulture);

    private static string Hex8(uint value) =>
        "0x" + value.ToString("x8", CultureInfo.InvariantCulture);
}
