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
# With --patches, the patches of scripts/qemu-patches.sh are checked
# instead, one by one, as the list's reviewers would: the header's two
# warnings are expected there too, and so is the reminder about MAINTAINERS
# on the patches after the first, whose entry covers their files.
#
# usage: lint-device.sh [--patches DIR] [QEMU-SOURCE]
#                       (default: Debian's, build/qemu/src, after
#                       scripts/build-qemu.sh)
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${DMALAB_BUILD:-$top/build}
patches=
if [ "${1:-}" = --patches ]; then
    patches=${2:?--patches needs a directory}
    shift 2
fi
src=${1:-$build/qemu/src}
[ -f "$src/scripts/checkpatch.pl" ] || {
    echo "lint-device: no QEMU source in $src (run scripts/build-qemu.sh)" >&2
    exit 1
}

# Keep the problems of checkpatch's output $1 that nothing above expects.
unexpected() {
    grep -E '^(ERROR|WARNING):' <<<"$1" |
        grep -v -e '^WARNING: architecture specific defines should be avoided' \
            -e "^WARNING: Saw acceptable license '(GPL-2.0-only OR MIT) '" \
            -e "${2:-^$}"
}

# One TAP line for check $1 named $2, from checkpatch's output $3 and the
# problems $4 left of it.
report() {
    if [ -z "$4" ]; then
        echo "ok $1 - QEMU checkpatch $2"
    else
        echo "not ok $1 - QEMU checkpatch $2"
        grep -E -A2 '^(ERROR|WARNING):' <<<"$3" | head -n 20 | sed 's/^/# /'
    fi
}

if [ -n "$patches" ]; then
    shopt -s nullglob
    list=("$patches"/*.patch)
    [ ${#list[@]} -gt 0 ] || { echo "lint-device: no patches in $patches" >&2; exit 1; }
    echo "1..${#list[@]}"
    n=0
    for p in "${list[@]}"; do
        n=$((n + 1))
        out=$(cd "$src" && perl scripts/checkpatch.pl --no-tree "$p" 2>&1)
        maint='^$'
        [ "$n" = 1 ] || maint='^WARNING: added, moved or deleted file(s)'
        report "$n" "${p##*/}" "$out" "$(unexpected "$out" "$maint")"
    done
    exit 0
fi

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
    if [ "$f" = include/hw/misc/dmalab_hw.h ]; then
        problems=$(unexpected "$out")
    else
        problems=$(grep -E '^(ERROR|WARNING):' <<<"$out")
    fi
    report "$n" "$f" "$out" "$problems"
done
