#!/usr/bin/env bash
# Download Debian's current amd64 kernel (resolved through linux-image-amd64)
# and unpack its vmlinuz into build/kernel/.  Prints nothing when the kernel
# is already there.  The matching headers come from install-deps.sh.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=${DMALAB_BUILD:-$top/build}/kernel
pkg=$("$top/scripts/kernel-version.sh")
kver=${pkg#linux-image-}

if [ -f "$out/vmlinuz-$kver" ]; then
    exit 0
fi
echo "fetch-kernel: downloading $pkg"
rm -rf "$out/tmp"
mkdir -p "$out/tmp"
(cd "$out/tmp" && apt-get download -q "$pkg" >/dev/null 2>&1) || {
    echo "fetch-kernel: 'apt-get download $pkg' failed" >&2
    exit 1
}
dpkg-deb -x "$out"/tmp/*.deb "$out/tmp/root"
cp "$out/tmp/root/boot/vmlinuz-$kver" "$out/vmlinuz-$kver"
rm -rf "$out/tmp"
