#!/bin/sh
# Regenerates the project's own captures (needs root, tcpdump and python3):
#   loopback.pcap                      DNS, HTTP (keep-alive, chunked, gzip), SMTP and IRC between
#                                      a "guest" 192.168.56.101 and public-looking servers
#   ../../../../samples/analyses/1/dump.pcap   the same capture, for the README's main command
# Usage: tests/plugins/Network.Tests/captures/make-captures.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tcpdump -i lo -U -w "$work/raw.pcap" 'port 10053 or port 18080 or port 12525 or port 16667' 2>/dev/null &
dump=$!
sleep 1
python3 "$here/traffic.py"
sleep 1
kill "$dump"
wait "$dump" || true
python3 "$here/rewrite.py" "$work/raw.pcap" "$here/loopback.pcap"
cp "$here/loopback.pcap" "$here/../../../../samples/analyses/1/dump.pcap"
echo "wrote $here/loopback.pcap"
