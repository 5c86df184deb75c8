#!/usr/bin/env python3
"""Rewrites a loopback capture (Ethernet, 127.0.0.1 <-> 127.0.0.1) so that the client looks
like a Cuckoo guest (192.168.56.101) and each server like a public host on its usual port."""
import struct
import sys

GUEST = bytes([192, 168, 56, 101])
SERVERS = {  # loopback port -> (public address, well-known port)
    10053: (bytes([8, 8, 8, 8]), 53),
    18080: (bytes([93, 184, 216, 34]), 80),
    12525: (bytes([94, 100, 180, 70]), 25),
    16667: (bytes([185, 30, 166, 37]), 6667),
}


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def rewrite(frame):
    if len(frame) < 34 or frame[12:14] != b"\x08\x00":
        return frame
    ip = bytearray(frame[14:])
    ihl = (ip[0] & 0xF) * 4
    proto = ip[9]
    if proto not in (6, 17):
        return frame
    l4 = ip[ihl:]
    sport, dport = struct.unpack("!HH", l4[:4])
    if sport in SERVERS:
        addr, port = SERVERS[sport]
        ip[12:16], ip[16:20] = addr, GUEST
        struct.pack_into("!H", ip, ihl, port)
    elif dport in SERVERS:
        addr, port = SERVERS[dport]
        ip[12:16], ip[16:20] = GUEST, addr
        struct.pack_into("!H", ip, ihl + 2, port)
    else:
        return frame
    struct.pack_into("!H", ip, 10, 0)
    struct.pack_into("!H", ip, 10, checksum(bytes(ip[:ihl])))
    total = struct.unpack("!H", ip[2:4])[0]
    seg = bytearray(ip[ihl:total])
    at = 16 if proto == 6 else 6
    struct.pack_into("!H", seg, at, 0)
    pseudo = bytes(ip[12:20]) + struct.pack("!BBH", 0, proto, len(seg))
    struct.pack_into("!H", seg, at, checksum(pseudo + bytes(seg)))
    ip[ihl:total] = seg
    return frame[:14] + bytes(ip)


def main(src, dst):
    data = open(src, "rb").read()
    out = [data[:24]]
    off = 24
    base = None
    while off + 16 <= len(data):
        sec, usec, caplen, wirelen = struct.unpack("<IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + caplen]
        off += 16 + caplen
        # Fixed epoch so reruns differ only in traffic timing, not in the date.
        if base is None:
            base = sec
        out.append(struct.pack("<IIII", 1700000000 + sec - base, usec, caplen, wirelen) + rewrite(frame))
    open(dst, "wb").write(b"".join(out))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
