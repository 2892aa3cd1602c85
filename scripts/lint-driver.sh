#!/usr/bin/env bash
# Host-side checks of the driver's source on one kernel, as TAP: that
# kernel's checkpatch --strict on every file, sparse over the whole module
# (make C=2, with a sparse new enough for every kernel: build-sparse.sh),
# and a W=1 build with no warnings.  Kernel style is part of the driver's
# definition of done, on every kernel it builds on.
#
# usage: lint-driver.sh <kernel-build-dir> <kernel-source-dir> <W=1 build log>
set -uo pipefail

kdir=$1
ksrc=$2
w1_log=$3
top=$(cd "$(dirname "$0")/.." && pwd)
build=${DMALAB_BUILD:-$top/build}
checkpatch=$ksrc/scripts/checkpatch.pl
[ -f "$checkpatch" ] || { echo "lint-driver: no checkpatch.pl in $ksrc" >&2; exit 1; }
sparse=$("$top/scripts/build-sparse.sh") || exit 1
work=$build/lint/$(echo "$kdir" | sha1sum | cut -c1-8)
rm -rf "$work"
mkdir -p "$work/linux-driver" "$work/include"
cp -p "$top"/linux-driver/*.[ch] "$top"/linux-driver/Kbuild "$top"/linux-driver/Kconfig \
    "$top"/linux-driver/Makefile "$work/linux-driver/"
cp -p "$top"/include/*.h "$work/include/"

# The driver's sources (not Kbuild's generated *.mod.c) and its uapi headers.
mapfile -t files < <(find "$top/linux-driver" -maxdepth 1 -name '*.[ch]' ! -name '*.mod.c' | sort)
files+=("$top/include/dmalab_uapi.h" "$top/include/dmalab_isa_uapi.h")
echo "1..$((${#files[@]} + 2))"
n=0
for f in "${files[@]}"; do
    n=$((n + 1))
    rel=${f#"$top"/}
    ignore=SPDX_LICENSE_TAG,FILE_PATH_CHANGES
    # The one place that may test the kernel's version (see the header).
    [ "$rel" = linux-driver/dmalab_compat.h ] &&
        ignore=$ignore,LINUX_VERSION_CODE,CONSTANT_COMPARISON
    if out=$(cd "$top" && perl "$checkpatch" --strict --no-tree --terse --show-types \
        --ignore "$ignore" -f "$rel" 2>&1) &&
        ! grep -qE '(ERROR|WARNING|CHECK):' <<<"$out"; then
        echo "ok $n - checkpatch --strict $rel"
    else
        echo "not ok $n - checkpatch --strict $rel"
        sed 's/^/# /' <<<"$out" | grep -E '(ERROR|WARNING|CHECK):' | head -n 20
    fi
done

n=$((n + 1))
log=$work/sparse.log
make -C "$kdir" M="$work/linux-driver" C=2 CHECK="$sparse" W=1 modules >"$log" 2>&1
rc=$?
if [ $rc = 0 ] && ! grep -E 'warning:|error:' "$log" >/dev/null; then
    echo "ok $n - sparse (make C=2 W=1) reports nothing"
else
    echo "not ok $n - sparse (make C=2 W=1) reports nothing"
    grep -E 'warning:|error:' "$log" | head -n 20 | sed 's/^/# /'
fi

n=$((n + 1))
if [ ! -f "$w1_log" ] || grep -E 'warning:' "$w1_log" >/dev/null 2>&1; then
    echo "not ok $n - W=1 module build has no warnings"
else
    echo "ok $n - W=1 module build has no warnings"
fi
