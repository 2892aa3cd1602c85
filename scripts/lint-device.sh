#!/usr/bin/env bash
# Host-side style check of the device model, as TAP: QEMU's own
# scripts/checkpatch.pl on every file of the overlay, at the path it has in
# the QEMU tree (checkpatch applies its tests/ rules by path).
#
# The shared hardware header is checked too.  Its one "#ifdef __KERNEL__"
# (the kernel's __le types for sparse, plain integers for everyone else) is
# the warning checkpatch gives about architecture-specific defines; that
# warning, in that file, is expected.  So is, from QEMU 10's checkpatch,
# the note that GPL-2.0-or-later is preferred: the header is the Linux
# driver's too, and carries the dual license of the kernel's uapi headers.
#
# usage: lint-device.sh [QEMU-SOURCE]   (default: Debian's, build/qemu/src,
#                                        after scripts/build-qemu.sh)
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${DMALAB_BUILD:-$top/build}
src=${1:-$build/qemu/src}
[ -f "$src/scripts/checkpatch.pl" ] || {
    echo "lint-device: no QEMU source in $src (run scripts/build-qemu.sh)" >&2
    exit 1
}

files=()
for f in "$top"/qemu-device/*.[ch]; do
    files+=("hw/misc/dmalab/$(basename "$f")")
done
for f in "$top"/qemu-device/tests/*.[ch]; do
    files+=("tests/qtest/$(basename "$f")")
done
files+=(include/hw/misc/dmalab_hw.h)

echo "1..${#files[@]}"
n=0
for f in "${files[@]}"; do
    n=$((n + 1))
    out=$(cd "$src" && perl scripts/checkpatch.pl --no-tree -f "$f" 2>&1)
    problems=$(grep -E '^(ERROR|WARNING):' <<<"$out")
    if [ "$f" = include/hw/misc/dmalab_hw.h ]; then
        problems=$(grep -v -e '^WARNING: architecture specific defines should be avoided' \
            -e "^WARNING: Saw acceptable license '(GPL-2.0-only OR MIT) '" <<<"$problems")
    fi
    if [ -z "$problems" ]; then
        echo "ok $n - QEMU checkpatch $f"
    else
        echo "not ok $n - QEMU checkpatch $f"
        grep -E -A2 '^(ERROR|WARNING):' <<<"$out" | head -n 20 | sed 's/^/# /'
    fi
done
