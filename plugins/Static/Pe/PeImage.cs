using System.Buffers.Binary;

namespace Microkernel.Plugins.Static.Pe;

/// <summary>The file is not a PE image at all (no MZ/PE signature, headers cut short).</summary>
public sealed class PeFormatException(string message) : Exception(message);

/// <summary>One section header.</summary>
public sealed record PeSection(
    byte[] RawName,
    uint VirtualSize,
    uint VirtualAddress,
    uint SizeOfRawData,
    uint PointerToRawData
);

/// <summary>
/// Headers, section table and RVA mapping of a PE32/PE32+ image, read with every offset checked
/// against the file. Hand-written rather than <c>System.Reflection.PortableExecutable.PEReader</c>
/// because Cuckoo's numbers come from pefile's lenient mapping rules (aligned-down raw pointers,
/// sections clipped by the next section, header reads for RVAs outside any section), which
/// malformed packers depend on and PEReader rejects outright.
/// </summary>
public sealed class PeImage
{
    /// <summary>pefile's MAX_SECTIONS.</summary>
    public const int MaxSections = 0x800;

    private const uint FileAlignmentHardcoded = 0x200;

    private readonly ReadOnlyMemory<byte> _data;
    private readonly int _headerLength;
    private readonly (uint Start, uint End)[] _sectionRanges;

    /// <summary>Parses the headers; throws <see cref="PeFormatException"/> when the file is not a PE.</summary>
    public PeImage(ReadOnlyMemory<byte> data, List<string> errors)
    {
        _data = data;
        Errors = errors;
        var span = data.Span;
        if (span.Length < 0x40 || span[0] != (byte)'M' || span[1] != (byte)'Z')
        {
            throw new PeFormatException("DOS header magic not found");
        }
        var peOffset = BinaryPrimitives.ReadUInt32LittleEndian(span[0x3c..]);
        if (peOffset > span.Length - 24L)
        {
            throw new PeFormatException(
                $"e_lfanew 0x{peOffset:x} points beyond the end of the file"
            );
        }
        var pe = (int)peOffset;
        if (!span.Slice(pe, 4).SequenceEqual("PE\0\0"u8))
        {
            throw new PeFormatException($"NT headers signature not found at offset 0x{pe:x}");
        }
        Machine = ReadUInt16(pe + 4);
        var numberOfSections = ReadUInt16(pe + 6);
        TimeDateStamp = ReadUInt32(pe + 8);
        var sizeOfOptionalHeader = ReadUInt16(pe + 20);
        var optional = pe + 24;
        Magic = ReadUInt16(optional);
        if (Magic != 0x10b && Magic != 0x20b)
        {
            throw new PeFormatException(
                $"optional header magic 0x{Magic:x} at offset 0x{optional:x} is neither PE32 nor PE32+"
            );
        }
        IsPe32Plus = Magic == 0x20b;
        ImageBase = IsPe32Plus ? ReadUInt64(optional + 24) : ReadUInt32(optional + 28);
        AddressOfEntryPoint = ReadUInt32(optional + 16);
        SectionAlignment = ReadUInt32(optional + 32);
        FileAlignment = ReadUInt32(optional + 36);
        var directoriesOffset = optional + (IsPe32Plus ? 112 : 96);
        var directoryCount = Math.Min(ReadUInt32(optional + (IsPe32Plus ? 108 : 92)), 16u);
        Directories = new (uint, uint)[16];
        for (var i = 0; i < directoryCount; i++)
        {
            var at = directoriesOffset + i * 8;
            if (at + 8 > span.Length)
            {
                errors.Add($"data directory {i} at offset 0x{at:x} is beyond the end of the file");
                break;
            }
            Directories[i] = (ReadUInt32(at), ReadUInt32(at + 4));
        }

        var sectionTable = optional + sizeOfOptionalHeader;
        if (numberOfSections > MaxSections)
        {
            errors.Add(
                $"NumberOfSections {numberOfSections} exceeds {MaxSections}; only the first {MaxSections} are read"
            );
        }
        var sections = new List<PeSection>();
        for (var i = 0; i < Math.Min((int)numberOfSections, MaxSections); i++)
        {
            var at = sectionTable + i * 40;
            if (at + 40 > span.Length)
            {
                errors.Add(
                    $"section header {i} at offset 0x{at:x} is cut off by the end of the file"
                );
                break;
            }
            sections.Add(
                new PeSection(
                    span.Slice(at, 8).ToArray(),
                    ReadUInt32(at + 8),
                    ReadUInt32(at + 12),
                    ReadUInt32(at + 16),
                    ReadUInt32(at + 20)
                )
            );
        }
        // pefile sorts sections by address (stable), and Cuckoo lists pefile's order.
        Sections = sections.OrderBy(s => s.VirtualAddress).ToList();
        var tableEnd = (int)Math.Min(span.Length, sectionTable + 40L * sections.Count);
        var lowestRaw = sections
            .Where(s => s.PointerToRawData > 0)
            .Select(s => AdjustFileAlignment(s.PointerToRawData))
            .DefaultIfEmpty(0u)
            .Min();
        _headerLength =
            lowestRaw == 0 || lowestRaw < tableEnd
                ? tableEnd
                : (int)Math.Min(lowestRaw, span.Length);
        _sectionRanges = Sections.Select(ContainedRange).ToArray();
    }

    /// <summary>Problems met while reading, each naming an offset.</summary>
    public List<string> Errors { get; }

    /// <summary>IMAGE_FILE_HEADER.Machine.</summary>
    public ushort Machine { get; }

    /// <summary>IMAGE_FILE_HEADER.TimeDateStamp.</summary>
    public uint TimeDateStamp { get; }

    /// <summary>0x10b (PE32) or 0x20b (PE32+).</summary>
    public ushort Magic { get; }

    /// <summary>True for PE32+.</summary>
    public bool IsPe32Plus { get; }

    /// <summary>OptionalHeader.ImageBase.</summary>
    public ulong ImageBase { get; }

    /// <summary>OptionalHeader.AddressOfEntryPoint.</summary>
    public uint AddressOfEntryPoint { get; }

    /// <summary>OptionalHeader.SectionAlignment.</summary>
    public uint SectionAlignment { get; }

    /// <summary>OptionalHeader.FileAlignment.</summary>
    public uint FileAlignment { get; }

    /// <summary>The 16 data directories (RVA, size); missing ones are zero.</summary>
    public (uint VirtualAddress, uint Size)[] Directories { get; }

    /// <summary>Section headers in table order.</summary>
    public IReadOnlyList<PeSection> Sections { get; }

    /// <summary>The whole file.</summary>
    public ReadOnlySpan<byte> Data => _data.Span;

    /// <summary>pefile's adjust_FileAlignment: raw pointers round down to 0x200 when FileAlignment is at least that.</summary>
    public uint AdjustFileAlignment(uint value) =>
        FileAlignment < FileAlignmentHardcoded ? value : value / 0x200 * 0x200;

    /// <summary>pefile's adjust_SectionAlignment.</summary>
    public uint AdjustSectionAlignment(uint value)
    {
        var alignment = SectionAlignment < 0x1000 ? FileAlignment : SectionAlignment;
        return alignment != 0 && value % alignment != 0 ? alignment * (value / alignment) : value;
    }

    /// <summary>The raw bytes of a section as pefile's <c>section.get_data()</c> gives them (clipped to the file).</summary>
    public ReadOnlySpan<byte> SectionData(PeSection section)
    {
        long offset = AdjustFileAlignment(section.PointerToRawData);
        var end = Math.Min(
            offset + section.SizeOfRawData,
            (long)section.PointerToRawData + section.SizeOfRawData
        );
        return Slice(offset, end);
    }

    /// <summary>
    /// pefile's <c>get_data(rva, length)</c>: bytes at an RVA, possibly fewer than asked (never
    /// more than the file holds); null when the RVA maps nowhere.
    /// </summary>
    public ReadOnlySpan<byte> GetData(uint rva, uint length, out bool mapped)
    {
        mapped = true;
        var index = SectionIndexOf(rva);
        if (index < 0)
        {
            if (rva < _headerLength)
            {
                return Slice(rva, Math.Min((long)rva + length, _headerLength));
            }
            if (rva < Data.Length)
            {
                return Slice(rva, (long)rva + length);
            }
            mapped = false;
            return [];
        }
        var section = Sections[index];
        long offset =
            (long)rva
            - AdjustSectionAlignment(section.VirtualAddress)
            + AdjustFileAlignment(section.PointerToRawData);
        var end = Math.Min(offset + length, (long)section.PointerToRawData + section.SizeOfRawData);
        return Slice(offset, end);
    }

    /// <summary>A NUL-terminated byte string at an RVA, at most <paramref name="maxLength"/> bytes.</summary>
    public ReadOnlySpan<byte> GetStringAt(uint rva, uint maxLength, out bool mapped)
    {
        var data = GetData(rva, maxLength, out mapped);
        var end = data.IndexOf((byte)0);
        return end >= 0 ? data[..end] : data;
    }

    /// <summary>pefile's <c>get_offset_from_rva</c>; null when the RVA maps nowhere.</summary>
    public long? OffsetOf(uint rva)
    {
        var index = SectionIndexOf(rva);
        if (index < 0)
        {
            return rva < Data.Length ? rva : null;
        }
        var section = Sections[index];
        return (long)rva
            - AdjustSectionAlignment(section.VirtualAddress)
            + AdjustFileAlignment(section.PointerToRawData);
    }

    /// <summary>Reads a little-endian value at a file offset; 0 beyond the end.</summary>
    public ushort ReadUInt16(long offset) =>
        offset >= 0 && offset + 2 <= Data.Length
            ? BinaryPrimitives.ReadUInt16LittleEndian(Data[(int)offset..])
            : (ushort)0;

    /// <summary>Reads a little-endian value at a file offset; 0 beyond the end.</summary>
    public uint ReadUInt32(long offset) =>
        offset >= 0 && offset + 4 <= Data.Length
            ? BinaryPrimitives.ReadUInt32LittleEndian(Data[(int)offset..])
            : 0;

    /// <summary>Reads a little-endian value at a file offset; 0 beyond the end.</summary>
    public ulong ReadUInt64(long offset) =>
        offset >= 0 && offset + 8 <= Data.Length
            ? BinaryPrimitives.ReadUInt64LittleEndian(Data[(int)offset..])
            : 0;

    private ReadOnlySpan<byte> Slice(long start, long end)
    {
        if (start < 0 || start >= Data.Length || end <= start)
        {
            return [];
        }
        return Data[(int)start..(int)Math.Min(end, Data.Length)];
    }

    private int SectionIndexOf(uint rva)
    {
        for (var i = 0; i < _sectionRanges.Length; i++)
        {
            if (_sectionRanges[i].Start <= rva && rva < _sectionRanges[i].End)
            {
                return i;
            }
        }
        return -1;
    }

    /// <summary>pefile's <c>contains_rva</c> range of a section.</summary>
    private (uint Start, uint End) ContainedRange(PeSection section)
    {
        var start = AdjustSectionAlignment(section.VirtualAddress);
        long size =
            Data.Length - (long)AdjustFileAlignment(section.PointerToRawData)
            < section.SizeOfRawData
                ? section.VirtualSize
                : Math.Max(section.SizeOfRawData, section.VirtualSize);
        // The next section in address order cuts this one short.
        var next = Sections
            .Where(s => s.VirtualAddress > section.VirtualAddress)
            .Select(s => (uint?)s.VirtualAddress)
            .Min();
        if (next is { } nextAddress && start + size > nextAddress)
        {
            size = nextAddress - (long)start;
        }
        return (start, (uint)Math.Clamp(start + size, 0, uint.MaxValue));
    }
}
