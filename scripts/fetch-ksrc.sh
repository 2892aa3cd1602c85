#!/usr/bin/env bash
# Extract the few files dmalab needs from Debian's linux-source-6.1 tarball
# into build/ksrc/: the upstream dmatest module, used as an outside judge of
# the dmaengine provider, and checkpatch.pl with its data files.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=${DMALAB_BUILD:-$top/build}/ksrc
tarball=$(ls /usr/src/linux-source-6.1.tar.* 2>/dev/null | head -n 1)
[ -n "$tarball" ] || { echo "fetch-ksrc: linux-source-6.1 is not installed" >&2; exit 1; }

members=(
    drivers/dma/dmatest.c
    scripts/checkpatch.pl
    scripts/spelling.txt
    scripts/const_structs.checkpatch
)
if [ -f "$out/stamp" ] && [ "$out/stamp" -nt "$tarball" ]; then
    exit 0
fi
echo "fetch-ksrc: extracting ${members[*]}"
rm -rf "$out"
mkdir -p "$out"
tar -xf "$tarball" -C "$out" --strip-components=1 --wildcards \
    "${members[@]/#/*/}"
touch "$out/stamp"
