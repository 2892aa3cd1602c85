#!/usr/bin/env bash
# Print a cache key for build/ that names the versions built in it: the
# QEMU source's Debian version and every kernel directory (each named by its
# version and a hash of its configuration, as scripts/kernel.sh makes them).
# CI saves build/ under this key after a run, and restores the newest cache
# of its shard before the next; a key that did not change saves nothing.
#
# usage: cache-key.sh [PREFIX]
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${DMALAB_BUILD:-$top/build}
parts=()
if [ -f "$build/qemu/src/debian/changelog" ]; then
    parts+=("qemu-$(sed -n '1s/^qemu (\([^)]*\)).*/\1/p' "$build/qemu/src/debian/changelog")")
fi
for k in "$build"/kernel/vmlinuz-* "$build"/kernels/*/; do
    [ -e "$k" ] || continue
    k=$(basename "$k")
    [ "$k" = src ] || parts+=("$k")
done
[ ${#parts[@]} -gt 0 ] || parts=(empty)
sum=$(printf '%s\n' "${parts[@]}" | sort | sha256sum | cut -c1-16)
echo "${1:+$1-}$(printf '%s\n' "${parts[@]}" | sort | tr '\n:+~' '_.._' | cut -c1-300)$sum"
