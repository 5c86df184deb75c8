using System.Text.RegularExpressions;

namespace Microkernel.Plugins.VirusTotal;

/// <summary>
/// Cuckoo 2.0's <c>VirusTotalAPI.normalize</c>: extracts the family-like words of an engine's
/// detection name (CVE ids first, then the words that are not boilerplate, hashes or too short),
/// so signatures can match families across engines. The word list is Cuckoo's
/// <c>VARIANT_BLOCKLIST</c> (cuckoo/common/virustotal.py), kept as data for identical output.
/// </summary>
internal static partial class VariantNormalizer
{
    private static readonly HashSet<string> Blocklist = new(StringComparer.Ordinal)
    {
        "a variant of msil",
        "a variant of pp97m",
        "a variant of w97m",
        "a variant of win32",
        "a variant of win64",
        "adclicker",
        "adload",
        "adplugin",
        "adware",
        "agent",
        "application",
        "applicunwnt",
        "autorun",
        "avkill",
        "backdoor",
        "badmacro",
        "banker",
        "behaveslike",
        "bkdr",
        "clicker",
        "corrupt",
        "crypt",
        "crypter",
        "cryptor",
        "damaged",
        "dangerousobject",
        "ddos",
        "dldr",
        "dldrop",
        "dload",
        "dloader",
        "docdl",
        "docdrop",
        "docdrp",
        "downagent",
        "download",
        "download3",
        "downldexe",
        "downldr",
        "downloader",
        "downloader11",
        "downware",
        "drop",
        "dropped",
        "dropper",
        "dwnldr",
        "encodefeature",
        "encoder",
        "excel",
        "exedown",
        "exedrop",
        "expl",
        "exploit",
        "file",
        "gen",
        "generic",
        "generic backdoor",
        "generic downloader",
        "generic malware",
        "generic suspicious",
        "generic trojan",
        "genmalicious",
        "hack",
        "heur",
        "heur2",
        "heuristic",
        "html",
        "infostealer",
        "inject",
        "inject2",
        "injcrypt",
        "injector",
        "keygen",
        "keylogger",
        "lookslike",
        "macosx",
        "macro",
        "macrodown",
        "mailer",
        "malagent",
        "malcrypt",
        "malicious website",
        "maliciousmacro",
        "malpack",
        "malware",
        "mdropper",
        "mo97",
        "msexcel",
        "msil",
        "msil4",
        "msil7",
        "msilobfuscator",
        "msoffice",
        "msword",
        "multi",
        "mw97",
        "normal",
        "not a virus",
        "o97m",
        "obfus",
        "obfuscator",
        "office",
        "optional",
        "osx32",
        "other",
        "packed",
        "packer",
        "password",
        "patched",
        "patchfile",
        "pepatch",
        "pp97m",
        "program",
        "ransom",
        "ransomcrypt",
        "ransomlock",
        "reputation",
        "risk",
        "riskware",
        "rogue",
        "rootkit",
        "script",
        "servstart",
        "shellcode",
        "shellkode",
        "spyware",
        "stealer",
        "susp",
        "suspectcrc",
        "suspected of trojan",
        "suspicious",
        "suspicious file",
        "text",
        "toolbar",
        "trj",
        "trjndwnlder",
        "troj",
        "trojan",
        "trojan horse",
        "trojanapt",
        "trojanclicker",
        "trojandownloader",
        "trojandropper",
        "trojandwnldr",
        "trojanhorse",
        "trojanransom",
        "trojanspy",
        "trojware",
        "undef",
        "unknown",
        "unwanted",
        "unclassifiedmalware",
        "variant",
        "vbcrypt",
        "vbinject",
        "virtool",
        "virus",
        "w2km_dload",
        "w2km_dloade",
        "w2km_dloader",
        "w32",
        "w97m",
        "w97m_dloadr",
        "webtoolbar",
        "win",
        "win32",
        "win64",
        "word",
        "worm",
        "x2km_dloadr",
        "x2km_droppr",
        "x97m",
    };

    [GeneratedRegex(@"CVE[-_]?(\d{4})[-_](\d{4})")]
    private static partial Regex LongCve();

    [GeneratedRegex(@"CVE(\d{2})(\d{4})")]
    private static partial Regex ShortCve();

    [GeneratedRegex(@"[.,\-()\[\]/!:_]")]
    private static partial Regex Separators();

    [GeneratedRegex(@"^[a-fA-F0-9]+$")]
    private static partial Regex HexWord();

    [GeneratedRegex(@"^[a-zA-Z]{1,2} potentially unwanted")]
    private static partial Regex PotentiallyUnwanted();

    /// <summary>The useful words of <paramref name="variant"/>; empty for null or empty input.</summary>
    public static List<string> Normalize(string? variant)
    {
        var words = new List<string>();
        if (string.IsNullOrEmpty(variant))
        {
            return words;
        }
        if (LongCve().Match(variant) is { Success: true } cve)
        {
            words.Add($"CVE-{cve.Groups[1].Value}-{cve.Groups[2].Value}");
        }
        if (ShortCve().Match(variant) is { Success: true } shortCve)
        {
            words.Add($"CVE-20{shortCve.Groups[1].Value}-{shortCve.Groups[2].Value}");
        }
        foreach (var part in Separators().Split(variant))
        {
            // Python's str.strip(): whitespace only.
            var word = part.Trim();
            if (word.Length < 4)
            {
                continue;
            }
            var lower = word.ToLowerInvariant();
            if (
                Blocklist.Contains(lower)
                || HexWord().IsMatch(word)
                || PotentiallyUnwanted().IsMatch(lower)
            )
            {
                continue;
            }
            words.Add(word);
        }
        return words;
    }
}
