#!/usr/bin/env bash
# Pack the guest's initramfs: static busybox, the init script, the driver
# module and the guest test programs.  Rebuilt only when an input is newer
# than the archive.
#
# usage: build-initramfs.sh <output.cpio.gz> <init> <module.ko>...
#                           -- <test>...
# The first module is the driver, loaded by init; the others are put in
# /lib/modules/ for the tests to load.  $BUSYBOX names another static
# busybox (another architecture's) than the host's /bin/busybox.
set -euo pipefail

out=$1
init=$2
shift 2
modules=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
    modules+=("$1")
    shift
done
[ $# -gt 0 ] && shift
tests=("$@")
busybox=${BUSYBOX:-/bin/busybox}

stale=0
[ -f "$out" ] || stale=1
for f in "$init" "${modules[@]}" "${tests[@]}" "$busybox" "$0"; do
    [ "$f" -nt "$out" ] && stale=1
done
[ "$stale" = 1 ] || exit 0

if ! { ldd "$busybox" 2>&1 || true; } | grep -q 'not a dynamic'; then
    echo "build-initramfs: $busybox is not static (install busybox-static)" >&2
    exit 1
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,usr/bin,lib/modules,etc/dmalab,proc,sys,dev,tmp,root}
cp "$busybox" "$root/bin/busybox"
cp "$init" "$root/init"
chmod 0755 "$root/init"
cp "${modules[@]}" "$root/lib/modules/"
: >"$root/etc/dmalab/tests"
for t in "${tests[@]}"; do
    cp "$t" "$root/usr/bin/"
    basename "$t" >>"$root/etc/dmalab/tests"
done
(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 >"$out.tmp"
mv "$out.tmp" "$out"
echo "build-initramfs: $out"
