#!/usr/bin/env bash
# Find a QEMU source tree, fetching it when needed, and say where it is.
#
#   qemu-source.sh debian   Debian 12's QEMU (7.2) with Debian's patches, from
#                           this machine's own deb-src entries (the default)
#   qemu-source.sh stable   QEMU 10.0, Debian 13's source (which also serves
#                           Debian 12's backports), with Debian's patches
#   qemu-source.sh latest   the newest QEMU source Debian packages
#                           (unstable's), with Debian's patches
#   qemu-source.sh PATH     a QEMU source tree on disk, such as an upstream
#                           git checkout (the device is overlaid into it)
#
# stable and latest come through scripts/apt-suite.sh (a private apt state
# under build/apt/): only source packages are downloaded, and unpacked with
# dpkg-source under build/.  The index can list a version whose files are
# not on the mirror yet: each is tried, newest first, until one downloads.
# Each source has a directory of its own, named by its version, where its
# builds go too, so switching between QEMUs rebuilds nothing.
#
# Prints shell assignments for eval, on stdout:
#   QEMU_LABEL    the QEMU's name in the results table (stable-10.0.13)
#   QEMU_OUT      the directory of its builds (src/, build/, bin/, ...)
#   QEMU_SRC      its source tree
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${DMALAB_BUILD:-$top/build}
name=${1:?usage: qemu-source.sh debian|stable|latest|PATH}

say() { echo "qemu-source: $*" >&2; }
die() { echo "qemu-source: $*" >&2; exit 1; }

emit() {
    printf 'QEMU_LABEL=%q\nQEMU_OUT=%q\nQEMU_SRC=%q\n' "$1" "$2" "$3"
}

# Debian's version of a source tree, from its changelog; else its VERSION.
tree_version() {
    if [ -f "$1/debian/changelog" ]; then
        sed -n '1s/^qemu (\([^)]*\)).*/\1/p' "$1/debian/changelog" | sed 's/^[0-9]*://'
    else
        cat "$1/VERSION"
    fi
}

source_debian() {
    local out=$build/qemu
    if [ ! -f "$out/src/VERSION" ]; then
        say "fetching Debian's QEMU source package"
        rm -rf "$out/fetch"
        mkdir -p "$out/fetch"
        (cd "$out/fetch" && apt-get source -q qemu >/dev/null 2>&1) ||
            die "'apt-get source qemu' failed (are deb-src entries enabled?)"
        mv "$out"/fetch/qemu-*/ "$out/src"
        rm -rf "$out/fetch"
    fi
    emit "debian-$(cat "$out/src/VERSION")" "$out" "$out/src"
}

# $1: the name (stable, latest), $2: the suite.  The newest version of the
# suite's qemu source package whose files download.
source_suite() {
    local label=$1 suite=$2 v out dir
    local -a versions
    mapfile -t versions < <("$top/scripts/apt-suite.sh" "$suite" apt-cache showsrc qemu |
        sed -n 's/^Version: //p' | sort -rV | uniq)
    [ ${#versions[@]} -gt 0 ] || die "the $suite index lists no qemu source"
    for v in "${versions[@]}"; do
        out=$build/qemu-$label-${v#*:}
        if [ -f "$out/src/VERSION" ]; then
            emit "$label-$(cat "$out/src/VERSION")" "$out" "$out/src"
            return
        fi
    done
    for v in "${versions[@]}"; do
        out=$build/qemu-$label-${v#*:}
        dir=$out/fetch
        rm -rf "$dir"
        mkdir -p "$dir"
        say "fetching qemu $v from $suite"
        if ! (cd "$dir" && "$top/scripts/apt-suite.sh" "$suite" apt-get source \
                --download-only -q "qemu=$v") >"$dir/fetch.log" 2>&1; then
            say "qemu $v is listed in $suite but does not download; trying an older one"
            rm -rf "$out"
            continue
        fi
        (cd "$dir" && dpkg-source --no-check -x ./*.dsc src) >"$dir/unpack.log" 2>&1 ||
            die "dpkg-source could not unpack qemu $v (see $dir/unpack.log)"
        mv "$dir/src" "$out/src"
        rm -rf "$dir"
        emit "$label-$(cat "$out/src/VERSION")" "$out" "$out/src"
        return
    done
    die "no qemu source listed in $suite downloads"
}

source_tree() {
    local src ver tag
    src=$(realpath "$1")
    [ -f "$src/VERSION" ] && [ -f "$src/hw/misc/meson.build" ] ||
        die "$1 is not a QEMU source tree (no VERSION or hw/misc/meson.build)"
    ver=$(tree_version "$src")
    tag=$(basename "$src" | tr -c 'A-Za-z0-9._\n-' -)
    emit "tree-$ver" "$build/qemu-tree-$tag-$ver" "$src"
}

case "$name" in
debian) source_debian ;;
stable) source_suite stable trixie ;;
latest) source_suite latest unstable ;;
*) source_tree "$name" ;;
esac
