#!/usr/bin/env bash
# Find a QEMU source tree, fetching it when needed, and say where it is.
#
#   qemu-source.sh debian   Debian 12's QEMU (7.2) with Debian's patches, from
#                           this machine's own deb-src entries (the default)
#   qemu-source.sh stable   QEMU 10.0, Debian 13's source (which also serves
#                           Debian 12's backports), with Debian's patches
#   qemu-source.sh latest   the newest QEMU source Debian packages
#                           (unstable's), with Debian's patches
#   qemu-source.sh series   latest's source as a git repository, with the
#                           device added by the patch series of
#                           scripts/qemu-patches.sh (build-qemu.sh applies
#                           it with git am): what upstream would build
#   qemu-source.sh PATH     a QEMU source tree on disk, such as an upstream
#                           git checkout (the device is overlaid into it)
#
# stable and latest come through scripts/apt-suite.sh (a private apt state
# under build/apt/): only source packages are downloaded, and unpacked with
# dpkg-source under build/.  The index can list a version whose files are
# not on the mirror yet: each is tried, newest first, until one downloads.
# Each source has a directory of its own, named by its version, where its
# builds go too, so switching between QEMUs rebuilds nothing.  Beside the
# unpacked tree (src/, which the device is overlaid onto) each keeps the
# same files untouched, committed in a git repository (pristine.git/), for
# the series.
#
# Prints shell assignments for eval, on stdout:
#   QEMU_LABEL    the QEMU's name in the results table (stable-10.0.13)
#   QEMU_OUT      the directory of its builds (src/, build/, bin/, ...)
#   QEMU_SRC      its source tree
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${DMALAB_BUILD:-$top/build}
name=${1:?usage: qemu-source.sh debian|stable|latest|series|PATH}

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

# Fetch qemu $2 from suite $1 and unpack it as $3/fetch/src, committing the
# unpacked files to $3/pristine.git.  Fails if the version does not download.
unpack_suite() {
    local suite=$1 v=$2 out=$3 dir=$3/fetch
    rm -rf "$dir"
    mkdir -p "$dir"
    say "fetching qemu $v from $suite"
    if ! (cd "$dir" && "$top/scripts/apt-suite.sh" "$suite" apt-get source \
            --download-only -q "qemu=$v") >"$dir/fetch.log" 2>&1; then
        say "qemu $v is listed in $suite but does not download; trying an older one"
        rm -rf "$dir"
        return 1
    fi
    (cd "$dir" && dpkg-source --no-check -x ./*.dsc src) >"$dir/unpack.log" 2>&1 ||
        die "dpkg-source could not unpack qemu $v (see $dir/unpack.log)"
    # The tree's own .gitignore files apply, as in QEMU's repository: the
    # subprojects a release tarball carries stay out, as they are out of
    # an upstream checkout.
    rm -rf "$out/pristine.git"
    git init -q --bare "$out/pristine.git"
    gitp() {
        git --git-dir="$out/pristine.git" --work-tree="$dir/src" \
            -c user.name=dmalab -c user.email=dmalab@localhost "$@"
    }
    gitp add -A
    gitp commit -q -m "QEMU $v, Debian's source"
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
        rm -rf "$out"
        unpack_suite "$suite" "$v" "$out" || continue
        mv "$out/fetch/src" "$out/src"
        rm -rf "$out/fetch"
        emit "$label-$(cat "$out/src/VERSION")" "$out" "$out/src"
        return
    done
    die "no qemu source listed in $suite downloads"
}

# latest's source with the device added by the patch series: a clone of its
# pristine repository (made again from the source package if an older run
# did not keep one) with the subprojects the tarball carries, as
# `meson subprojects download` leaves an upstream checkout.  build-qemu.sh
# applies the series.
source_series() {
    local vars out sub v
    vars=$(source_suite latest unstable)
    eval "$vars"
    out=$QEMU_OUT
    if [ ! -d "$out/pristine.git" ]; then
        # The directory's name is the version without its epoch.
        v=$("$top/scripts/apt-suite.sh" unstable apt-cache showsrc qemu |
            awk -v dir="${out##*/}" '/^Version: / { v = $2; sub(/^[0-9]+:/, "", v)
                if ("qemu-latest-" v == dir) { print $2; exit } }')
        [ -n "$v" ] || die "${out##*/} is no longer in unstable's index: remove $out"
        unpack_suite unstable "$v" "$out" || die "qemu $v no longer downloads"
        rm -rf "$out/fetch"
    fi
    if [ ! -d "$out/series/src/.git" ]; then
        say "making a git checkout of QEMU $(cat "$out/src/VERSION") for the series"
        rm -rf "$out/series/src"
        mkdir -p "$out/series"
        git clone -q "$out/pristine.git" "$out/series/src"
        git -C "$out/series/src" branch -q pristine
        for sub in "$out"/src/subprojects/*/; do
            sub=$(basename "$sub")
            [ -e "$out/series/src/subprojects/$sub" ] ||
                cp -a "$out/src/subprojects/$sub" "$out/series/src/subprojects/$sub"
        done
    fi
    emit "series-$(cat "$out/src/VERSION")" "$out/series" "$out/series/src"
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

# One run at a time fetches and unpacks (a check builds ahead of its tiers
# in the background).
mkdir -p "$build"
exec 4>"$build/.qemu-source.lock"
flock 4
case "$name" in
debian) source_debian ;;
stable) source_suite stable trixie ;;
latest) source_suite latest unstable ;;
series) source_series ;;
*) source_tree "$name" ;;
esac
