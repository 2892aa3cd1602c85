#!/usr/bin/env bash
# Build sparse from unstable's source package into build/tools/sparse and
# print the binary's path.  Debian 12's sparse (0.6.4) is too old for the
# newest kernels' headers; a newer one checks every kernel the driver
# builds on.  Built once; later runs only print the path.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=${DMALAB_BUILD:-$top/build}/tools/sparse
if [ -x "$out/bin/sparse" ]; then
    echo "$out/bin/sparse"
    exit 0
fi
echo "build-sparse: fetching and building unstable's sparse" >&2
rm -rf "$out"
mkdir -p "$out/src"
(cd "$out/src" && "$top/scripts/apt-suite.sh" unstable apt-get source -q sparse) \
    >"$out/fetch.log" 2>&1 || { cat "$out/fetch.log" >&2; exit 1; }
dir=$(find "$out/src" -mindepth 1 -maxdepth 1 -type d -name 'sparse-*' | head -n 1)
[ -n "$dir" ] || { echo "build-sparse: no source tree unpacked" >&2; exit 1; }
# Only the checker: no LLVM back end, no GTK or libxml2 tools.
make -C "$dir" -j"$(nproc)" HAVE_LLVM=no HAVE_GTK=no HAVE_LIBXML=no \
    CC=gcc PREFIX="$out" sparse install >"$out/build.log" 2>&1 ||
    { tail -n 30 "$out/build.log" >&2; exit 1; }
echo "$out/bin/sparse"
