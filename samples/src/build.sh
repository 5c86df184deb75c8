#!/bin/sh
# Rebuilds samples/analyses/1/binary (a PE32 console EXE) and its dropped files from hello.c.
# Needs: gcc-mingw-w64-i686 and binutils-mingw-w64-i686 (Debian 12: gcc 12.2.0, binutils 2.40).
# Reproducible: --no-insert-timestamp gives TimeDateStamp 0, -s strips symbols, the build-id
# derived PDB GUID depends only on the image, and SOURCE_DATE_EPOCH pins anything dated.
set -eu
export SOURCE_DATE_EPOCH=0
SRC=$(cd "$(dirname "$0")" && pwd)
OUT="$SRC/../analyses/1"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"
cp "$SRC/hello.c" "$SRC/hello.rc" .
i686-w64-mingw32-windres -i hello.rc -O coff -o hello.res.o
i686-w64-mingw32-gcc -O1 -o hello.exe hello.c hello.res.o -luser32 \
    -s -Wl,--no-insert-timestamp "-Wl,--pdb=C:\\microkernel\\build\\hello.pdb" \
    -fno-ident -ffile-prefix-map="$TMP"=.
cp hello.exe "$OUT/binary"

# Dropped files, named like Cuckoo names them: <first 16 hex digits of sha256>_<basename>.
printf 'http://sample.microkernel.invalid/gate.php?id=1' > note.txt
printf '[config]\nserver = sample.microkernel.invalid\ninterval = 60\n' > config.ini
rm -rf "$OUT/files"
mkdir -p "$OUT/files"
: > "$OUT/files.json"
for f in note.txt config.ini; do
    name="$(sha256sum "$f" | cut -c1-16)_$f"
    cp "$f" "$OUT/files/$name"
    printf '{"path": "files/%s", "pids": [1234], "filepath": "C:\\\\Users\\\\cuckoo\\\\AppData\\\\Local\\\\Temp\\\\%s"}\n' "$name" "$f" >> "$OUT/files.json"
done
sha256sum "$OUT/binary" "$OUT"/files/*
