#!/usr/bin/env bash
# Build the kernel's own dmatest module (drivers/dma/dmatest.c, which
# Debian's binary kernels do not ship) as an external module against the
# guest kernel, from that kernel's own sources.  It drives dmalab's
# dmaengine channels as an outside judge.
#
# usage: build-dmatest.sh <kernel-build-dir> <kernel-source-dir> <build-dir> <output.ko>
set -euo pipefail

kdir=$1
ksrc=$2
out=$3
ko=$4

[ -f "$ksrc/drivers/dma/dmatest.c" ] ||
    { echo "build-dmatest: no drivers/dma/dmatest.c in $ksrc" >&2; exit 1; }
# Built already for this kernel and source (see build-module.sh).
stamp=$out/.built
if [ -f "$ko" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$kdir $ksrc" ] &&
    [ ! "$0" -nt "$stamp" ] && [ ! "$kdir/Module.symvers" -nt "$stamp" ] &&
    [ ! "$ksrc/drivers/dma/dmatest.c" -nt "$stamp" ]; then
    exit 0
fi
rm -f "$stamp"
# dated when the build starts: a source saved during it counts as newer
mkdir -p "$out"
: >"$stamp.start"
mkdir -p "$out"
cp -p --update "$ksrc/drivers/dma/dmatest.c" "$out/"
echo 'obj-m := dmatest.o' >"$out/Kbuild.tmp"
cmp -s "$out/Kbuild.tmp" "$out/Kbuild" || mv "$out/Kbuild.tmp" "$out/Kbuild"
rm -f "$out/Kbuild.tmp"
make -s -C "$kdir" M="$out" modules >"$out/kbuild.log" 2>&1 || {
    cat "$out/kbuild.log" >&2
    exit 1
}
if ! cmp -s "$out/dmatest.ko" "$ko"; then
    cp "$out/dmatest.ko" "$ko"
fi
echo "$kdir $ksrc" >"$stamp"
touch -r "$stamp.start" "$stamp"
rm -f "$stamp.start"
