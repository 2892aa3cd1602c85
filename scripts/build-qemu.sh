#!/usr/bin/env bash
# Fetch Debian's QEMU source (with Debian's patches applied), overlay the
# dmalab device and its qtest onto it, and build qemu-system-x86_64 plus the
# dmalab qtest.
#
# Incremental: the source is fetched and configured once; later runs only
# refresh the overlay (symlinks into this repository) and let ninja rebuild
# what changed.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
# The device's qtests: qemu-device/tests/<name>.c
QTESTS="dmalab-test dmalab-migration-test"
out=${DMALAB_BUILD:-$top/build}/qemu
src=$out/src
bld=$out/build

fetch_source() {
    [ -f "$src/VERSION" ] && return
    echo "build-qemu: fetching Debian's QEMU source package"
    rm -rf "$out/fetch"
    mkdir -p "$out/fetch"
    (cd "$out/fetch" && apt-get source -q qemu >/dev/null 2>&1) || {
        echo "build-qemu: 'apt-get source qemu' failed (are deb-src entries enabled?)" >&2
        exit 1
    }
    mv "$out"/fetch/qemu-*/ "$src"
    rm -rf "$out/fetch"
}

# Idempotently add a line to a file after the first line matching a pattern.
add_line_after() {
    local file=$1 pattern=$2 line=$3
    grep -qxF "$line" "$file" && return
    sed -i "0,\\|$pattern|s||&\\n$line|" "$file"
    grep -qxF "$line" "$file" || { echo "build-qemu: cannot patch $file" >&2; exit 1; }
}

apply_overlay() {
    ln -sfn "$top/qemu-device" "$src/hw/misc/dmalab"
    ln -sfn "$top/include/dmalab_hw.h" "$src/include/hw/misc/dmalab_hw.h"
    local t
    for t in $QTESTS; do
        ln -sfn "$top/qemu-device/tests/$t.c" "$src/tests/qtest/$t.c"
    done
    grep -qxF "subdir('dmalab')" "$src/hw/misc/meson.build" ||
        echo "subdir('dmalab')" >>"$src/hw/misc/meson.build"
    grep -qxF "source dmalab/Kconfig" "$src/hw/misc/Kconfig" ||
        echo "source dmalab/Kconfig" >>"$src/hw/misc/Kconfig"
    add_line_after "$src/meson.build" "^    'hw/misc/macio',$" "    'hw/misc/dmalab',"
    local list
    list=$(printf "'%s', " $QTESTS)
    # Drop a list written by an older overlay, then add the current one.
    sed -i "/^qtests_x86_64 += \['dmalab-/d" "$src/tests/qtest/meson.build"
    add_line_after "$src/tests/qtest/meson.build" "^qtests_x86_64 = qtests_i386$" \
        "qtests_x86_64 += [${list%, }]"
}

configure() {
    [ -f "$bld/build.ninja" ] && return
    echo "build-qemu: configuring (x86_64-softmmu only)"
    mkdir -p "$bld"
    (cd "$bld" && "$src/configure" \
        --target-list=x86_64-softmmu \
        --enable-kvm --enable-tcg \
        --disable-docs --disable-werror --disable-user \
        --disable-gtk --disable-sdl --disable-vnc --disable-opengl \
        --disable-spice --disable-xen --disable-curses --disable-libusb \
        --disable-brlapi --disable-capstone --disable-slirp \
        --disable-guest-agent --disable-tools \
        --enable-trace-backends=log) >"$out/configure.log" 2>&1 || {
        tail -n 30 "$out/configure.log" >&2
        rm -f "$bld/build.ninja"
        exit 1
    }
}

# The dfsg source ships no firmware: the wrapper points QEMU at Debian's
# seabios and qemu-system-data packages, so the qtests and run-vm.sh find
# the BIOS and option ROMs without further options.
write_wrapper() {
    mkdir -p "$out/bin"
    cat >"$out/bin/qemu-system-x86_64.tmp" <<WRAPPER
#!/bin/sh
exec "$bld/qemu-system-x86_64" -L /usr/share/seabios -L /usr/share/qemu "\$@"
WRAPPER
    chmod +x "$out/bin/qemu-system-x86_64.tmp"
    mv "$out/bin/qemu-system-x86_64.tmp" "$out/bin/qemu-system-x86_64"
}

# Concurrent builds in one tree would corrupt ninja's state: take turns.
mkdir -p "$out"
exec 8>"$out/.build.lock"
flock 8

fetch_source
apply_overlay
configure
echo "build-qemu: building qemu-system-x86_64 and the dmalab qtests"
# shellcheck disable=SC2086 # one target per qtest
ninja -C "$bld" qemu-system-x86_64 ${QTESTS//dmalab-/tests/qtest/dmalab-} >"$out/ninja.log" 2>&1 || {
    grep -E 'error|Error|FAILED' "$out/ninja.log" | head -n 40 >&2
    echo "build-qemu: build failed; full log in $out/ninja.log" >&2
    exit 1
}
write_wrapper
