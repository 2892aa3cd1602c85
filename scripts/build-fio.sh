#!/usr/bin/env bash
# fio for the guest (./run-vm.sh bench): Debian's own fio source package
# (its patches applied), built static with the engines a character device
# needs (psync, libaio, io_uring, splice).  Debian's binary package links
# librados, glusterfs, RDMA and PMEM libraries that a guest initramfs does
# not carry; this build leaves them out.  Cached under build/fio/ by
# version.
#
# usage: build-fio.sh   (prints the path of the fio binary)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=${DMALAB_BUILD:-$top/build}/fio
ver=$(apt-cache showsrc fio 2>/dev/null | sed -n 's/^Version: //p' | sort -V | tail -n 1)
[ -n "$ver" ] || { echo "build-fio: no fio source package (deb-src)" >&2; exit 1; }
bin=$out/fio-$ver
if [ -x "$bin" ]; then
    echo "$bin"
    exit 0
fi
echo "build-fio: building fio $ver from Debian's source (static, about half a minute)" >&2
rm -rf "$out/src-$ver" "$out/dl" "$out"/fio_*
mkdir -p "$out/dl"
(cd "$out/dl" && apt-get source -q --download-only "fio=$ver") >"$out/fetch.log" 2>&1 || {
    cat "$out/fetch.log" >&2
    exit 1
}
dpkg-source -x --no-check "$out"/dl/fio_*.dsc "$out/src-$ver" >>"$out/fetch.log" 2>&1
(
    cd "$out/src-$ver"
    ./configure --build-static --disable-native --disable-numa --disable-rdma \
        --disable-rados --disable-rbd --disable-http --disable-gfapi \
        --disable-libnfs --disable-pmem --disable-xnvme --disable-libzbc \
        --disable-tcmalloc --disable-dfs --disable-lex
    make -j"$(nproc)" fio
) >"$out/build.log" 2>&1 || {
    tail -n 30 "$out/build.log" >&2
    exit 1
}
strip -o "$bin.tmp" "$out/src-$ver/fio"
mv "$bin.tmp" "$bin"
rm -rf "$out/src-$ver" "$out/dl" "$out"/fio_*
echo "$bin"
