#!/usr/bin/env bash
# Build the driver with Kbuild, out of the source tree.
#
# Kbuild builds external modules in their own directory, so the sources are
# mirrored (with their timestamps) into the build directory first; Kbuild
# then rebuilds only what changed.  W=1, and any warning fails the build.
#
# usage: build-module.sh <kernel-headers-dir> <repo-dir> <build-dir> <output.ko>
# (dmalab_isa.ko, where the kernel allows it, lands beside <output.ko>)
set -euo pipefail

kdir=$1
top=$2
out=$3

# Nothing changed since the last clean build for this kernel: even a
# Kbuild that finds nothing to do costs seconds (modpost, every .cmd file
# read), which a warm ./run-vm.sh should not spend.
stamp=$out/.built
if [ -f "$4" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$kdir" ] &&
    [ ! "$0" -nt "$stamp" ] && [ ! "$kdir/Module.symvers" -nt "$stamp" ] &&
    ! find "$top/linux-driver" "$top/include" -maxdepth 1 -type f \
        -newer "$stamp" -print -quit | grep -q .; then
    exit 0
fi
rm -f "$stamp"
# dated when the build starts: a source saved during it counts as newer
mkdir -p "$out"
: >"$stamp.start"
mkdir -p "$out/linux-driver" "$out/include"
# Only sources: object files from an in-tree build must not leak in.
find "$top/linux-driver" -maxdepth 1 -type f \
    \( -name '*.[ch]' -o -name Kbuild -o -name Kconfig -o -name Makefile \) \
    -exec cp -p --update {} "$out/linux-driver/" \;
cp -p --update "$top"/include/*.h "$out/include/"
log=$out/kbuild.log
make -s -C "$kdir" M="$out/linux-driver" W=1 modules >"$log" 2>&1 || {
    cat "$log" >&2
    exit 1
}
if grep -E 'warning:' "$log" >&2; then
    echo "build-module: the driver must build without warnings" >&2
    exit 1
fi
# Publish the modules only when they changed, so later steps stay
# incremental.  dmalab_isa.ko, a side product beside the output, exists
# only for kernels with the ISA bus API (linux-driver/Kbuild).
publish() {
    if [ ! -f "$1" ]; then
        rm -f "$2"
    elif ! cmp -s "$1" "$2"; then
        cp "$1" "$2"
    fi
}
publish "$out/linux-driver/dmalab.ko" "$4"
publish "$out/linux-driver/dmalab_isa.ko" "$(dirname "$4")/dmalab_isa.ko"
echo "$kdir" >"$stamp"
touch -r "$stamp.start" "$stamp"
rm -f "$stamp.start"
