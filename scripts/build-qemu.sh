#!/usr/bin/env bash
# Find a QEMU source (scripts/qemu-source.sh: Debian 12's by default),
# overlay the dmalab device and its qtests onto it, and build one flavour
# of it:
#
#   build-qemu.sh [--qemu Q] [--arch A] [plain]
#                                     qemu-system-A (x86_64, the default,
#                                     with the qtests; or aarch64)
#   build-qemu.sh [--qemu Q] asan     the same, with AddressSanitizer and
#                                     UBSan, for the sanitizer qtests
#   build-qemu.sh [--qemu Q] fuzz     qemu-fuzz-x86_64 with clang, libFuzzer
#                                     and the sanitizers (./run-vm.sh fuzz)
#
# Q is debian (7.2, the default), stable (10.0), latest (the newest source
# Debian packages), series (latest's source as a git repository, with the
# device added by scripts/qemu-patches.sh's series through git am, and
# built with -Werror as a git checkout is) or the path of a QEMU tree.
# Each QEMU has a directory of its own under build/ (build/qemu for Debian's), and each flavour a
# build directory in it (build, build-asan, build-fuzz, and build-aarch64
# for the arm64 target, built only when asked for), so switching between
# them rebuilds nothing.  Incremental: the source is fetched and
# each flavour configured once; later runs only check the overlay
# (symlinks into this repository, and a few lines in QEMU's build files,
# rewritten only when they change, so that meson does not regenerate) and
# let ninja rebuild what changed.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${DMALAB_BUILD:-$top/build}
qemu_name=debian
if [ "${1:-}" = --qemu ]; then
    qemu_name=${2:?--qemu needs debian, stable, latest or a path}
    shift 2
fi
arch=x86_64
if [ "${1:-}" = --arch ]; then
    arch=${2:?--arch needs x86_64 or aarch64}
    shift 2
fi
flavour=${1:-plain}
[ "$qemu_name" != series ] || [ "$flavour" != fuzz ] ||
    { echo "build-qemu: the series carries no fuzzing configuration" >&2; exit 2; }
case "$arch" in
x86_64) ;;
aarch64)
    [ "$flavour" = plain ] ||
        { echo "build-qemu: the $flavour flavour is x86_64 only" >&2; exit 2; } ;;
*) echo "build-qemu: unknown architecture '$arch' (x86_64, aarch64)" >&2; exit 2 ;;
esac
# The device's qtests: qemu-device/tests/<name>.c
QTESTS="dmalab-test dmalab-migration-test dmalab-isa-test"
eval "$("$top/scripts/qemu-source.sh" "$qemu_name")"
out=$QEMU_OUT
src=$QEMU_SRC

case "$flavour" in
plain) bld=$out/build ;;
asan)  bld=$out/build-asan ;;
fuzz)  bld=$out/build-fuzz ;;
*) echo "build-qemu: unknown flavour '$flavour' (plain, asan, fuzz)" >&2; exit 2 ;;
esac
# Another architecture's target builds beside the x86_64 one.  $kind
# names this build's logs and lock.
kind=$flavour
if [ "$arch" != x86_64 ]; then
    bld=$out/build-$arch
    kind=$flavour-$arch
fi

# QEMU 8.1 and later name the meson they need in pythondeps.toml (the
# first entry; a later one is for Rust, which these builds leave out); Debian
# 12's is older (1.0), bookworm-backports has one that will do.  It is
# unpacked under build/tools (nothing is installed) and found through
# PYTHONPATH by QEMU's configure and by ninja's regeneration alike.
use_meson() {
    local want have deb dir=$build/tools/meson-backports
    want=$(sed -n 's/^meson = { accepted = ">=\([0-9.]*\)".*/\1/p' \
        "$src/pythondeps.toml" 2>/dev/null | head -n 1 || true)
    [ -n "$want" ] || return 0
    have=$(meson --version 2>/dev/null || echo 0)
    dpkg --compare-versions "$have" ge "$want" && return 0
    if [ ! -d "$dir/root/usr/lib/python3/dist-packages/mesonbuild" ]; then
        echo "build-qemu: QEMU $(cat "$src/VERSION") needs meson >= $want (Debian 12 has $have):" \
            "unpacking bookworm-backports' meson into $dir"
        rm -rf "$dir"
        mkdir -p "$dir"
        (cd "$dir" && "$top/scripts/apt-suite.sh" bookworm-backports \
            apt-get download -q meson) >"$dir/fetch.log" 2>&1 || {
            cat "$dir/fetch.log" >&2
            exit 1
        }
        deb=$(ls "$dir"/meson_*.deb)
        dpkg-deb -x "$deb" "$dir/root"
    fi
    have=$(PYTHONPATH=$dir/root/usr/lib/python3/dist-packages \
        python3 -c 'import mesonbuild.coredata as c; print(c.version)')
    dpkg --compare-versions "$have" ge "$want" || {
        echo "build-qemu: backports' meson is $have, QEMU needs >= $want" >&2
        exit 1
    }
    export PYTHONPATH=$dir/root/usr/lib/python3/dist-packages${PYTHONPATH:+:$PYTHONPATH}
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
    ln -sfn "$top/qemu-device/tests/dmalab-fuzz-config.h" \
        "$src/tests/qtest/fuzz/dmalab-fuzz-config.h"
    # Included by the qtests, so beside them (a symlinked test finds its
    # headers where the link is).
    ln -sfn "$top/qemu-device/tests/dmalab-qtest-compat.h" \
        "$src/tests/qtest/dmalab-qtest-compat.h"
    # The device adds itself to system_ss, the name QEMU 8.1 gave the
    # system emulators' source set; older trees call it softmmu_ss.
    if ! grep -q '^system_ss = ' "$src/meson.build"; then
        if ! grep -qxF "system_ss = softmmu_ss" "$src/hw/misc/meson.build"; then
            sed -i "/^subdir('dmalab')$/d" "$src/hw/misc/meson.build"
            echo "system_ss = softmmu_ss" >>"$src/hw/misc/meson.build"
        fi
    fi
    grep -qxF "subdir('dmalab')" "$src/hw/misc/meson.build" ||
        echo "subdir('dmalab')" >>"$src/hw/misc/meson.build"
    grep -qxF "source dmalab/Kconfig" "$src/hw/misc/Kconfig" ||
        echo "source dmalab/Kconfig" >>"$src/hw/misc/Kconfig"
    add_line_after "$src/meson.build" "^    'hw/misc/macio',$" "    'hw/misc/dmalab',"
    # generic-fuzz's predefined configurations gain dmalab's.
    add_line_after "$src/tests/qtest/fuzz/generic_fuzz_configs.h" \
        "^const generic_fuzz_config predefined_configs\\[\\] = {$" \
        '#include "dmalab-fuzz-config.h"'
    local list line qmeson=$src/tests/qtest/meson.build
    list=$(printf "'%s', " $QTESTS)
    line="qtests_x86_64 += [${list%, }]"
    # Replace a list written by an older overlay; touch nothing otherwise.
    if ! grep -qxF "$line" "$qmeson"; then
        sed -i "/^qtests_x86_64 += \['dmalab-/d" "$qmeson"
        add_line_after "$qmeson" "^qtests_x86_64 = qtests_i386$" "$line"
    fi
}

# The series on the pristine source, applied with git am as upstream would
# take it.  It is made afresh each time and applied again only when it
# differs from the one applied (the commits' hashes and dates aside), so
# that an unchanged series touches no file.
apply_series() {
    local new=$out/patches.new
    rm -rf "$new"
    "$top/scripts/qemu-patches.sh" "$src" "$new" pristine >/dev/null
    if [ -d "$out/patches" ] &&
        cmp -s <(series_text "$out/patches") <(series_text "$new"); then
        rm -rf "$new"
        return
    fi
    echo "build-qemu: applying the patch series to $src with git am"
    rm -rf "$out/patches"
    git -C "$src" am --abort >/dev/null 2>&1 || true
    git -C "$src" reset -q --hard pristine
    git -C "$src" -c user.name=dmalab -c user.email=dmalab@localhost \
        am -q "$new"/*.patch || {
        echo "build-qemu: the series does not apply to $src" >&2
        exit 1
    }
    mv "$new" "$out/patches"
}

series_text() {
    cat "$1"/*.patch | sed '/^From [0-9a-f]\{40\} /d; /^Date: /d'
}

configure() {
    [ -f "$bld/build.ninja" ] && return
    local -a opts=(
        --target-list=$arch-softmmu
        --disable-docs --disable-user
        --disable-gtk --disable-sdl --disable-vnc --disable-opengl
        --disable-spice --disable-xen --disable-curses --disable-libusb
        --disable-brlapi --disable-capstone --disable-slirp
        --disable-guest-agent --disable-tools
        --enable-trace-backends=log
    )
    case "$flavour" in
    plain) opts+=(--enable-kvm --enable-tcg) ;;
    # QEMU 7.2's configure drops UBSan with gcc 12 (its probe program
    # warns under -Werror): ask for it explicitly as well.
    asan)  opts+=(--enable-kvm --enable-tcg --enable-sanitizers
                  --extra-cflags=-fsanitize=undefined
                  --extra-ldflags=-fsanitize=undefined) ;;
    # libFuzzer's own main(); the fuzzer drives the device through qtest
    fuzz)  opts+=(--cc=clang --cxx=clang++ --enable-fuzzing
                  --enable-sanitizers --disable-kvm --enable-tcg) ;;
    esac
    # Debian's source ships no firmware (it comes from the seabios and
    # qemu-system-data packages); QEMU 10 would install its absence.
    [ "$qemu_name" = debian ] || opts+=(--disable-install-blobs)
    # A git checkout builds with -Werror by default: the series must too.
    [ "$qemu_name" = series ] || opts+=(--disable-werror)
    echo "build-qemu: configuring the $flavour build of QEMU $(cat "$src/VERSION") ($arch-softmmu only)"
    mkdir -p "$bld"
    (cd "$bld" && "$src/configure" "${opts[@]}") >"$out/configure-$kind.log" 2>&1 || {
        tail -n 30 "$out/configure-$kind.log" >&2
        rm -f "$bld/build.ninja"
        exit 1
    }
}

# The dfsg source ships no firmware: the wrapper points QEMU at Debian's
# seabios and qemu-system-data packages, so the qtests and run-vm.sh find
# the BIOS and option ROMs without further options.
# (libqtest takes the target from the binary's name: each flavour's wrapper
# is called qemu-system-x86_64, in a directory of its own.)
write_wrapper() {
    local dir=$1 binary=$2 name=${2##*/}
    mkdir -p "$dir"
    cat >"$dir/$name.tmp" <<WRAPPER
#!/bin/sh
exec "$binary" -L /usr/share/seabios -L /usr/share/qemu "\$@"
WRAPPER
    chmod +x "$dir/$name.tmp"
    mv "$dir/$name.tmp" "$dir/$name"
}

# The fuzzer takes no -L: it looks for firmware in its data directory,
# which a build tree keeps under qemu-bundle/.
link_firmware() {
    local dir=$1 f
    mkdir -p "$dir"
    for f in /usr/share/seabios/* /usr/share/qemu/*; do
        [ -f "$f" ] && [ ! -e "$dir/$(basename "$f")" ] &&
            ln -s "$f" "$dir/$(basename "$f")"
    done
    return 0
}

# ninja's progress ("[123/2345] Compiling ...") on one line of the terminal.
ninja_with_progress() {
    local log=$1
    shift
    if [ -t 1 ]; then
        ninja "$@" 2>&1 | tee "$log" |
            awk '/^\[[0-9]+\/[0-9]+\]/ { printf "\r  %s", $1; fflush() }
                 END { printf "\r" }'
        return "${PIPESTATUS[0]}"
    fi
    # Not a terminal (CI): a line every 10% of the steps.
    ninja "$@" 2>&1 | tee "$log" |
        awk '/^\[[0-9]+\/[0-9]+\]/ {
                 split(substr($1, 2), a, "/"); pct = int(a[1] * 10 / a[2]);
                 if (pct > last) { printf "  %d%% (%s)\n", pct * 10, $1; fflush(); last = pct }
             }'
    return "${PIPESTATUS[0]}"
}

# The source tree is shared: one run at a time fetches it and checks the
# overlay.  Each flavour's build directory has a lock of its own, so that
# the flavours build side by side (concurrent builds in one directory
# would corrupt ninja's state).
mkdir -p "$out"
exec 8>"$out/.source.lock"
flock 8
use_meson
if [ "$qemu_name" = series ]; then
    apply_series
elif [ -d "$src/hw/misc/dmalab" ] && [ ! -L "$src/hw/misc/dmalab" ]; then
    echo "build-qemu: $src carries the device already (the series applied?): nothing is overlaid"
else
    apply_overlay
fi
flock -u 8
exec 7>"$out/.build-$kind.lock"
if ! flock -n 7; then
    echo "build-qemu: waiting for the $kind build already under way in $bld (its progress: $out/ninja-$kind.log)"
    flock 7
fi
configure
case "$flavour-$arch" in
plain-aarch64)
    # The qtests drive a PC's PCI bus: they build for x86_64.
    targets=(qemu-system-aarch64) ;;
plain-*|asan-*)
    # shellcheck disable=SC2086 # one target per qtest
    targets=(qemu-system-x86_64 ${QTESTS//dmalab-/tests/qtest/dmalab-}) ;;
fuzz-*)
    targets=(qemu-fuzz-x86_64) ;;
esac
echo "build-qemu: building the $flavour flavour: ${targets[*]}"
ninja_with_progress "$out/ninja-$kind.log" -C "$bld" "${targets[@]}" || {
    grep -E 'error|Error|FAILED' "$out/ninja-$kind.log" | head -n 40 >&2
    echo "build-qemu: build failed; full log in $out/ninja-$kind.log" >&2
    exit 1
}
case "$flavour" in
plain) write_wrapper "$out/bin${bld##*/build}" "$bld/qemu-system-$arch" ;;
asan)  write_wrapper "$out/bin-asan" "$bld/qemu-system-x86_64" ;;
fuzz)  link_firmware "$bld/qemu-bundle$(sed -n \
           's/^#define CONFIG_QEMU_DATADIR "\(.*\)"$/\1/p' "$bld/config-host.h")" ;;
esac
