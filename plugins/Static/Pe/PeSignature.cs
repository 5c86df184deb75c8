using System.Security.Cryptography;
using System.Security.Cryptography.Pkcs;
using System.Security.Cryptography.X509Certificates;

namespace Microkernel.Plugins.Static.Pe;

/// <summary>Authenticode signers from the WIN_CERTIFICATE blob (security directory), shaped like Cuckoo's M2Crypto output.</summary>
public static class PeSignature
{
    /// <summary>One entry per signer certificate; empty when the file is unsigned.</summary>
    public static List<Dictionary<string, object?>> Read(PeImage image)
    {
        var signers = new List<Dictionary<string, object?>>();
        var (offset, size) = image.Directories[4];
        if (offset == 0 || size == 0)
        {
            return signers;
        }
        // The security directory holds a file offset, not an RVA.
        if (offset >= image.Data.Length)
        {
            image.Errors.Add(
                $"security directory at file offset 0x{offset:x} is beyond the end of the file"
            );
            return signers;
        }
        var certificate = image.Data[(int)offset..];
        var length = image.ReadUInt32(offset);
        if (length < 8)
        {
            image.Errors.Add($"WIN_CERTIFICATE at file offset 0x{offset:x} claims {length} bytes");
            return signers;
        }
        var blob = certificate[8..(int)Math.Min(length, certificate.Length)];
        var cms = new SignedCms();
        try
        {
            cms.Decode(blob);
        }
        catch (CryptographicException e)
        {
            image.Errors.Add(
                $"Authenticode blob at file offset 0x{offset + 8:x} is not PKCS#7: {e.Message}"
            );
            return signers;
        }
        foreach (var signer in cms.SignerInfos)
        {
            if (signer.Certificate is { } cert)
            {
                signers.Add(Describe(cert));
            }
        }
        return signers;
    }

    private static Dictionary<string, object?> Describe(X509Certificate2 cert)
    {
        var subject = cert.SubjectName;
        var entry = new Dictionary<string, object?>
        {
            // M2Crypto's "%032x" of the serial number as an integer.
            ["serial_number"] = cert
                .SerialNumber.TrimStart('0')
                .ToLowerInvariant()
                .PadLeft(32, '0'),
            ["common_name"] = Rdn(subject, "2.5.4.3"),
            ["country"] = Rdn(subject, "2.5.4.6"),
            ["locality"] = Rdn(subject, "2.5.4.7"),
            ["organization"] = Rdn(subject, "2.5.4.10"),
            ["email"] = Rdn(subject, "1.2.840.113549.1.9.1"),
            ["sha1"] = Convert.ToHexStringLower(cert.GetCertHash(HashAlgorithmName.SHA1)),
#pragma warning disable CA5351 // MD5 is a reported fingerprint, not a security decision.
            ["md5"] = Convert.ToHexStringLower(MD5.HashData(cert.RawData)),
#pragma warning restore CA5351
        };
        var given = Rdn(subject, "2.5.4.42");
        var surname = Rdn(subject, "2.5.4.4");
        if (given is not null || surname is not null)
        {
            entry["full_name"] = string.Join(
                ' ',
                new[] { given, surname }.Where(s => s is not null)
            );
        }
        return entry;
    }

    private static string? Rdn(X500DistinguishedName name, string oid)
    {
        foreach (var rdn in name.EnumerateRelativeDistinguishedNames())
        {
            if (rdn.GetSingleElementType().Value == oid)
            {
                return rdn.GetSingleElementValue();
            }
        }
        return null;
    }
}
