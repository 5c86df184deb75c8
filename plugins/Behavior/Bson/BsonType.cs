using System.Runtime.CompilerServices;

namespace Microkernel.Plugins.Behavior.Bson;

/// <summary>BSON element type bytes (bsonspec.org) that the monitor stream can carry.</summary>
internal static class BsonType
{
    public const byte Double = 0x01;
    public const byte String = 0x02;
    public const byte Document = 0x03;
    public const byte Array = 0x04;
    public const byte Binary = 0x05;
    public const byte Undefined = 0x06;
    public const byte ObjectId = 0x07;
    public const byte Boolean = 0x08;
    public const byte DateTime = 0x09;
    public const byte Null = 0x0A;
    public const byte Int32 = 0x10;
    public const byte Timestamp = 0x11;
    public const byte Int64 = 0x12;
    public const byte Decimal128 = 0x13;
    public const byte MinKey = 0xFF;
    public const byte MaxKey = 0x7F;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsInteger(byte type) => type is Int32 or Int64 or Boolean;
}
