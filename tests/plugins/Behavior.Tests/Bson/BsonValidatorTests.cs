using System.Buffers.Binary;
using Microkernel.Plugins.Behavior.Bson;
using Microkernel.Plugins.Behavior.Monitor;
using Microkernel.TestSupport;

namespace Microkernel.Plugins.Behavior.Tests.Bson;

/// <summary>
/// Validation now happens inside the parser's walk (<see cref="BsonCheckedElements"/>); damaged
/// documents must still be reported with exactly the message and offset of the former standalone
/// validator (<see cref="ReferenceBsonValidator"/>).
/// </summary>
public sealed class BsonValidatorTests
{
    /// <summary>Real-shaped monitor documents: info with nested flag tables, process, calls, buffer.</summary>
    private static List<byte[]> SampleDocuments()
    {
        using var stream = new MemoryStream();
        using (var log = new MonitorLogWriter(stream, ownsStream: false))
        {
            log.WriteProcess(
                100,
                4,
                @"C:\a.exe",
                "a.exe",
                new DateTime(2024, 5, 1, 0, 0, 0, DateTimeKind.Utc)
            );
            MonitorScenario.DeclareApis(log);
            MonitorScenario.WriteFile(log, 101, 5, 0x40, @"C:\x.txt", [1, 2, 3], create: true);
            log.WriteCall(
                log.IndexOf("NtClose"),
                101,
                6,
                [1, 0, 0x40],
                errors: (5, unchecked((int)0xC0000022)),
                stacktrace: ["kernel32+0x10", "ntdll+0x20"]
            );
            log.WriteBuffer([0, 1, 2, 255]);
            log.WriteDebug("hello");
        }
        var bytes = stream.ToArray();
        var documents = new List<byte[]>();
        for (var at = 0; at < bytes.Length; )
        {
            var length = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(at));
            documents.Add(bytes.AsSpan(at, length).ToArray());
            at += length;
        }
        return documents;
    }

    /// <summary>Seeded random damage that keeps the frame length: byte changes, length fields off by a bit.</summary>
    private static IEnumerable<byte[]> Damaged(byte[] document, Random random, int count)
    {
        for (var n = 0; n < count; n++)
        {
            var copy = (byte[])document.Clone();
            var at = random.Next(copy.Length);
            switch (random.Next(4))
            {
                case 0:
                    copy[at] = (byte)random.Next(256);
                    break;
                case 1:
                    copy[at] = 0;
                    break;
                case 2 when at + 4 <= copy.Length:
                    var value = BinaryPrimitives.ReadInt32LittleEndian(copy.AsSpan(at));
                    BinaryPrimitives.WriteInt32LittleEndian(
                        copy.AsSpan(at),
                        value + random.Next(-3, 4)
                    );
                    break;
                default:
                    copy[at] = random.Next(3) switch
                    {
                        0 => BsonType.Document,
                        1 => BsonType.Array,
                        _ => BsonType.String,
                    };
                    break;
            }
            yield return copy;
        }
    }

    [Fact]
    public void Agrees_with_the_former_validator_on_damaged_documents()
    {
        var random = new Random(5);
        var invalid = 0;
        foreach (var document in SampleDocuments())
        {
            Assert.Null(BsonValidator.Validate(document, out _));
            foreach (var damaged in Damaged(document, random, 400))
            {
                var expected = ReferenceBsonValidator.Validate(damaged, out var expectedOffset);
                var actual = BsonValidator.Validate(damaged, out var actualOffset);
                Assert.Equal(expected, actual);
                if (expected is not null)
                {
                    Assert.Equal(expectedOffset, actualOffset);
                    invalid++;
                }
            }
        }
        Assert.True(invalid > 500, $"only {invalid} damaged documents were invalid");
    }

    [Fact]
    public void The_parser_reports_damage_with_the_former_validator_message_and_offset()
    {
        var random = new Random(11);
        var documents = SampleDocuments();
        using var folder = TempDirectory.Create();
        var checkedCount = 0;
        for (var n = 0; n < 300; n++)
        {
            // Damage one of the calls or the buffer; the info and process records stay intact.
            var target = documents.Count - 1 - random.Next(4);
            var damaged = Damaged(documents[target], random, 1).Single();
            var expected = ReferenceBsonValidator.Validate(damaged, out var expectedOffset);
            if (
                expected is null
                || !damaged.AsSpan(0, 4).SequenceEqual(documents[target].AsSpan(0, 4))
            )
            {
                continue; // a changed length prefix is the frame reader's business, not the validator's
            }
            var path = folder.Combine($"{n}.bson");
            long damageAt;
            using (var file = File.Create(path))
            {
                for (var i = 0; i < target; i++)
                {
                    file.Write(documents[i]);
                }
                damageAt = file.Position;
                file.Write(damaged);
            }
            using var parser = new MonitorLogParser(path, "logs/x.bson", null, null);
            while (parser.Next(CancellationToken.None) != MonitorEventKind.End) { }
            Assert.Equal(
                $"logs/x.bson: byte offset {damageAt + expectedOffset}: undecodable BSON document skipped: {expected}",
                parser.Problems.Summary
            );
            checkedCount++;
        }
        Assert.True(checkedCount > 60, $"only {checkedCount} damaged logs were checked");
    }
}
