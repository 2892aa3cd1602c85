#!/usr/bin/env bash
# Make a guest kernel ready, and say where its parts are.
#
#   kernel.sh debian           Debian 12's binary kernel (the default)
#   kernel.sh lts              the 6.12 LTS binary kernel Debian 12 offers
#                              in bookworm-backports, with its headers
#   kernel.sh --arch aarch64 debian|lts
#                              the same kernels for an arm64 guest: the
#                              arm64 image and headers, and the amd64
#                              half of Kbuild (its host programs), all
#                              downloaded and unpacked under build/kernels/
#   kernel.sh latest [--debug] the newest kernel source Debian packages
#                              (unstable's linux-source), built here
#   kernel.sh PATH [--debug]   a kernel tree on disk (a mainline checkout,
#                              your own tree), built here
#
# A kernel built here starts from defconfig and kvm_guest.config, plus
# kernel/dmalab.config (what the driver and the suite need) and, with
# --debug, kernel/debug.config (DMA-API debug, KASAN, lockdep, kmemleak,
# fault injection).  A tree that has its own .config keeps it as the base,
# merged with the fragments.  The build goes out of tree, under
# build/kernels/<name>-<key>/obj, where <key> hashes the source version and
# the configuration: a warm run rebuilds nothing, and changing either builds
# anew beside the old one.
#
# Other suites' packages come through scripts/apt-suite.sh (a private apt
# state under build/apt/): only kernel images, headers and sources are
# downloaded, and unpacked under build/kernels/.  Nothing is installed.
#
# Prints shell assignments for eval, on stdout:
#   KERNEL_LABEL    the kernel's name in the results table
#   KERNEL_ID       its directory key (build/meson-<id>, build/results/...)
#   KERNEL_IMAGE    the image to boot
#   KERNEL_KBUILD   the directory external modules build against (make -C)
#   KERNEL_SRC      its sources: drivers/dma/dmatest.c, scripts/checkpatch.pl
#   KERNEL_VMLINUX  vmlinux with symbols (built kernels only)
#   KERNEL_RELEASE  its release string (uname -r)
#   KERNEL_DEBUG    1 if built with kernel/debug.config
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${DMALAB_BUILD:-$top/build}
kroot=$build/kernels
arch=x86_64
if [ "${1:-}" = --arch ]; then
    arch=${2:?--arch needs x86_64 or aarch64}
    shift 2
fi
name=${1:?usage: kernel.sh [--arch A] debian|lts|latest|PATH [--debug]}
debug=0
[ "${2:-}" = --debug ] && debug=1
case "$arch" in
x86_64) ;;
aarch64)
    case "$name" in
    debian|lts) ;;
    *) echo "kernel: on aarch64 the guest kernel is Debian's (debian or lts)" >&2
       exit 2 ;;
    esac ;;
*) echo "kernel: unknown architecture '$arch' (x86_64, aarch64)" >&2; exit 2 ;;
esac

say() { echo "kernel: $*" >&2; }
die() { echo "kernel: $*" >&2; exit 1; }

emit() {
    printf 'KERNEL_LABEL=%q\nKERNEL_ID=%q\nKERNEL_IMAGE=%q\nKERNEL_KBUILD=%q\n' \
        "$1" "$2" "$3" "$4"
    printf 'KERNEL_SRC=%q\nKERNEL_VMLINUX=%q\nKERNEL_RELEASE=%q\nKERNEL_DEBUG=%q\n' \
        "$5" "$6" "$7" "$debug"
}

# The members of a kernel source tarball that dmalab uses from a binary
# kernel's source: the upstream dmatest module and checkpatch.
SRC_MEMBERS=(
    drivers/dma/dmatest.c
    scripts/checkpatch.pl
    scripts/spelling.txt
    scripts/const_structs.checkpatch
)

# ---- Binary kernels ---------------------------------------------------------

kernel_debian() {
    local pkg kver
    [ "$debug" = 0 ] || die "--debug needs a kernel built from source (latest or PATH)"
    "$top/scripts/fetch-kernel.sh" >&2
    pkg=$("$top/scripts/kernel-version.sh")
    kver=${pkg#linux-image-}
    "$top/scripts/fetch-ksrc.sh" >&2
    [ -d "/usr/src/linux-headers-$kver" ] ||
        die "linux-headers-$kver is not installed (scripts/install-deps.sh)"
    emit "debian-${kver%-amd64}" debian "$build/kernel/vmlinuz-$kver" \
        "/usr/src/linux-headers-$kver" "$build/ksrc" "" "$kver"
}

# Download packages from a suite into $1 and unpack them into $1/root.
fetch_debs() {
    local dir=$1 suite=$2
    shift 2
    mkdir -p "$dir/debs" "$dir/root"
    (cd "$dir/debs" && "$top/scripts/apt-suite.sh" "$suite" apt-get download -q "$@") \
        >"$dir/download.log" 2>&1 || {
        cat "$dir/download.log" >&2
        die "cannot download $* from $suite"
    }
    local deb
    for deb in "$dir"/debs/*.deb; do
        dpkg-deb -x "$deb" "$dir/root"
    done
}

# Extract SRC_MEMBERS of a kernel source tarball into $2.
extract_members() {
    local tarball=$1 dest=$2
    mkdir -p "$dest"
    tar -xf "$tarball" -C "$dest" --strip-components=1 --wildcards \
        "${SRC_MEMBERS[@]/#/*/}"
}

kernel_lts() {
    local abi dir hdr major
    [ "$debug" = 0 ] || die "--debug needs a kernel built from source (latest or PATH)"
    # The ABI and the point release move: resolve them through the
    # backports meta-package.
    abi=$("$top/scripts/apt-suite.sh" bookworm-backports apt-cache depends \
              linux-image-amd64 2>/dev/null |
          sed -n 's/^ *Depends: linux-image-\([0-9][^ ]*\)-amd64$/\1/p' | head -n 1)
    [ -n "$abi" ] || die "cannot resolve bookworm-backports' linux-image-amd64"
    major=$(echo "$abi" | cut -d. -f1-2)
    dir=$kroot/lts-$abi
    hdr=$dir/root/usr/src/linux-headers-$abi-amd64
    if [ ! -f "$dir/stamp" ]; then
        say "downloading the $abi kernel and headers from bookworm-backports"
        rm -rf "$dir"
        fetch_debs "$dir" bookworm-backports "linux-image-$abi-amd64" \
            "linux-headers-$abi-amd64" "linux-headers-$abi-common" \
            "linux-kbuild-$abi"
        # The headers include their common half by absolute path.
        sed -i "s|^include /usr/src/|include $dir/root/usr/src/|" "$hdr/Makefile"
        rm -rf "$dir/debs"
        touch "$dir/stamp"
    fi
    emit "lts-${abi%%+*}" "lts-$abi" "$dir/root/boot/vmlinuz-$abi-amd64" "$hdr" \
        "$(source_members "$major")" "" "$abi-amd64"
}

# An arm64 kernel from $1 (bookworm or bookworm-backports), named $2 (debian
# or lts): its image, headers and modules from the suite's arm64 packages,
# and the host programs its headers run (fixdep, modpost: linux-kbuild-*)
# from the same version's amd64 package, so that the driver cross-builds
# against it.  The headers name their Kbuild by a relative link, which
# resolves inside the unpacked tree.
kernel_arm64() {
    local suite=$1 base=$2 abi ver dir hdr major kbuild
    [ "$debug" = 0 ] || die "--debug needs a kernel built from source (x86_64 only)"
    abi=$("$top/scripts/apt-suite.sh" "$suite:arm64" apt-cache depends \
              linux-image-arm64 2>/dev/null |
          sed -n 's/^ *Depends: linux-image-\([0-9][^ ]*\)-arm64$/\1/p' | head -n 1)
    [ -n "$abi" ] || die "cannot resolve $suite's arm64 linux-image-arm64"
    dir=$kroot/$base-arm64-$abi
    hdr=$dir/root/usr/src/linux-headers-$abi-arm64
    major=$(echo "$abi" | cut -d. -f1-2)
    if [ ! -f "$dir/stamp" ]; then
        say "downloading the arm64 $abi kernel and headers from $suite"
        rm -rf "$dir"
        ver=$("$top/scripts/apt-suite.sh" "$suite:arm64" apt-cache show \
                  "linux-image-$abi-arm64" 2>/dev/null |
              sed -n 's/^Version: //p' | sort -rV | head -n 1)
        kbuild=linux-kbuild-$major
        fetch_debs "$dir" "$suite:arm64" "linux-image-$abi-arm64" \
            "linux-headers-$abi-arm64" "linux-headers-$abi-common"
        fetch_debs "$dir" "$suite" "$kbuild=$ver"
        sed -i "s|^include /usr/src/|include $dir/root/usr/src/|" "$hdr/Makefile"
        [ -x "$hdr/scripts/basic/fixdep" ] ||
            die "$kbuild $ver did not provide the headers' host programs"
        rm -rf "$dir/debs"
        touch "$dir/stamp"
    fi
    emit "$base-${abi%%+*}" "$base-arm64-$abi" "$dir/root/boot/vmlinuz-$abi-arm64" \
        "$hdr" "$(source_members "$major")" "" "$abi-arm64"
}

# The source files dmalab takes from a binary kernel's version
# (SRC_MEMBERS): Debian 12's linux-source-6.1 for 6.1, backports'
# linux-source for another series.  Prints their directory.
source_members() {
    local major=$1 dir
    if [ "$major" = 6.1 ]; then
        "$top/scripts/fetch-ksrc.sh" >&2
        echo "$build/ksrc"
        return
    fi
    dir=$kroot/src-$major
    if [ ! -f "$dir/stamp" ]; then
        rm -rf "$dir"
        fetch_debs "$dir" bookworm-backports "linux-source-$major"
        extract_members "$dir/root/usr/src/linux-source-$major.tar.xz" "$dir/src"
        rm -rf "$dir/debs" "$dir/root"
        touch "$dir/stamp"
    fi
    echo "$dir/src"
}

# ---- Kernels built from source -------------------------------------------

# Fetch a URL with python3 (no curl or wget needed); fails on 404.
fetch_url() {
    python3 - "$1" "$2" <<'EOF'
import shutil, sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=60) as r, open(sys.argv[2], "wb") as f:
    shutil.copyfileobj(r, f, 1 << 20)
EOF
}

# The newest linux-source of unstable whose .deb downloads: the index can
# name a version before its files reach the mirror.  Prints the tree's path.
latest_source() {
    local pkg uri versions v url deb dir
    # One run at a time downloads and unpacks (a check builds ahead of
    # its tiers in the background).
    mkdir -p "$kroot/src"
    exec 5>"$kroot/src/.lock"
    flock 5
    pkg=$("$top/scripts/apt-suite.sh" unstable apt-cache depends linux-source 2>/dev/null |
          sed -n 's/^ *Depends: \(linux-source-[0-9][0-9.]*\)$/\1/p' | head -n 1)
    [ -n "$pkg" ] || die "cannot resolve unstable's linux-source"
    uri=$("$top/scripts/apt-suite.sh" unstable apt-get download --print-uris "$pkg" 2>/dev/null |
          sed -n "s/^'\([^']*\)'.*/\1/p" | head -n 1)
    [ -n "$uri" ] || die "no download address for $pkg"
    # The version the index names first, then older ones of the same
    # series, newest first, from the source index.
    versions=$(
        echo "$uri" | sed 's/.*_\([^_]*\)_all\.deb$/\1/'
        "$top/scripts/apt-suite.sh" unstable apt-cache madison linux 2>/dev/null |
            awk -F'|' '/Sources/ { gsub(/ /, "", $2); print $2 }' |
            grep "^${pkg#linux-source-}\." | sort -rV)
    for v in $(echo "$versions" | awk '!seen[$0]++'); do
        dir=$kroot/src/linux-$v
        if [ -f "$dir/.dmalab-stamp" ]; then
            echo "$dir"
            return
        fi
        url=$(echo "$uri" | sed "s/_[^_]*_all\.deb$/_${v}_all.deb/")
        deb=$kroot/src/${pkg}_${v}_all.deb
        mkdir -p "$kroot/src"
        say "downloading $pkg $v"
        if ! fetch_url "$url" "$deb.part" 2>/dev/null; then
            say "$pkg $v is listed but does not download; trying an older one"
            rm -f "$deb.part"
            continue
        fi
        mv "$deb.part" "$deb"
        say "unpacking $pkg $v"
        rm -rf "$dir" "$kroot/src/unpack"
        mkdir -p "$kroot/src/unpack"
        dpkg-deb --fsys-tarfile "$deb" |
            tar -x -C "$kroot/src/unpack" --wildcards './usr/src/linux-source-*.tar.xz'
        mkdir -p "$dir"
        tar -xf "$kroot"/src/unpack/usr/src/linux-source-*.tar.xz -C "$dir" \
            --strip-components=1
        rm -rf "$kroot/src/unpack" "$deb"
        touch "$dir/.dmalab-stamp"
        echo "$dir"
        return
    done
    die "no version of $pkg downloads from unstable"
}

# ninja-style progress of a kernel build: one updating line on a terminal,
# a line every 200 objects otherwise (a CI log), with the time so far.
make_with_progress() {
    local log=$1
    shift
    make "$@" 2>&1 | tee "$log" | awk -v tty="$([ -t 2 ] && echo 1 || echo 0)" -v t0="$(date +%s)" '
        function elapsed(  s) { s = systime() - t0; return sprintf("%dm%02ds", s / 60, s % 60) }
        /^  (CC|AS|LD|AR)/ {
            n++
            if (tty) { printf "\r  %d objects, %s", n, elapsed() > "/dev/stderr"; fflush("/dev/stderr") }
            else if (n % 200 == 0) { printf "  %d objects, %s\n", n, elapsed() > "/dev/stderr"; fflush("/dev/stderr") }
        }
        END { if (tty) printf "\r" > "/dev/stderr"; printf "  %d objects in all, %s\n", n, elapsed() > "/dev/stderr" }'
    return "${PIPESTATUS[0]}"
}

# A tree with build products of its own (an in-tree build) cannot be built
# out of tree: mirror its sources with hard links, without those products.
clean_view_of() {
    local tree=$1 view=$2
    if [ ! -f "$tree/.config" ] && [ ! -d "$tree/include/config" ]; then
        echo "$tree"
        return
    fi
    say "$tree was configured in place: building from a hard-linked view in $view"
    rm -rf "$view"
    mkdir -p "$(dirname "$view")"
    cp -al "$tree" "$view"
    rm -rf "$view/.config" "$view/include/config" "$view/include/generated" \
        "$view/arch/x86/include/generated"
    echo "$view"
}

# Build the tree $1 (named $2) with the fragments; prints its obj dir.
build_tree() {
    local tree=$1 base=$2 key frags obj dir version view src log
    frags=("$top/kernel/dmalab.config")
    [ "$debug" = 1 ] && frags+=("$top/kernel/debug.config")
    version=$(make -s -C "$tree" kernelversion 2>/dev/null | tail -n 1)
    [ -n "$version" ] || die "$tree is not a kernel tree"
    key=$( {
        echo "$version $(realpath "$tree") $(gcc -dumpfullversion)"
        cat "${frags[@]}"
        [ -f "$tree/.config" ] && cat "$tree/.config"
        [ -f "$tree/.git/HEAD" ] && git -C "$tree" rev-parse HEAD 2>/dev/null
        true
    } | sha1sum | cut -c1-10)
    local tag=""
    [ "$debug" = 1 ] && tag=-debug
    dir=$kroot/$base-$version$tag-$key
    obj=$dir/obj
    # One build at a time in one directory (two makes in one tree corrupt
    # it); a second run waits, then finds the build done.
    mkdir -p "$dir"
    exec 6>"$dir/.lock"
    if ! flock -n 6; then
        say "waiting for the build of $version already under way in $dir (its progress: $dir/build.log)"
        flock 6
    fi
    if [ -f "$dir/stamp" ] && [ "$(cat "$dir/stamp")" = "$key" ]; then
        # Nothing to configure; make still picks up edits to a tree.
        if [ "$base" = tree ]; then
            src=$(cat "$dir/source")
            say "$version: bringing the build in $obj up to date"
            make_with_progress "$dir/build.log" -C "$src" O="$obj" \
                -j"$(nproc)" all >&2 || { tail -n 40 "$dir/build.log" >&2; die "build failed"; }
        fi
        echo "$obj"
        return
    fi
    src=$(clean_view_of "$tree" "$dir/view")
    echo "$src" >"$dir/source"
    mkdir -p "$obj"
    log=$dir/build.log
    if [ -f "$tree/.config" ]; then
        say "$version: configuring from the tree's own .config and ${frags[*]##*/}"
        cp "$tree/.config" "$obj/.config"
    else
        say "$version: configuring defconfig, kvm_guest.config and ${frags[*]##*/}"
        make -s -C "$src" O="$obj" defconfig >"$log" 2>&1 ||
            { cat "$log" >&2; die "defconfig failed"; }
        frags=("$src/kernel/configs/kvm_guest.config" "${frags[@]}")
    fi
    (cd "$obj" && "$src/scripts/kconfig/merge_config.sh" -m -O "$obj" \
        "$obj/.config" "${frags[@]}") >>"$log" 2>&1 ||
        { tail -n 30 "$log" >&2; die "merging the config fragments failed"; }
    make -s -C "$src" O="$obj" olddefconfig >>"$log" 2>&1 ||
        { tail -n 30 "$log" >&2; die "olddefconfig failed"; }
    check_fragments "$obj/.config" "$top"/kernel/*.config
    say "$version: building (vmlinux, bzImage, modules) in $obj; the first build takes a while"
    make_with_progress "$log" -C "$src" O="$obj" -j"$(nproc)" all >&2 ||
        { tail -n 40 "$log" >&2; die "build failed (log: $log)"; }
    echo "$key" >"$dir/stamp"
    echo "$obj"
}

# Every option a fragment sets must have survived olddefconfig (an option
# whose dependencies are missing is dropped silently): say which did not.
check_fragments() {
    local config=$1 frag line opt missing=0
    shift
    for frag in "$@"; do
        # debug.config counts only in a debug build
        [ "$debug" = 0 ] && [ "$(basename "$frag")" = debug.config ] && continue
        while IFS= read -r line; do
            case "$line" in
            CONFIG_*=*)
                grep -qxF "$line" "$config" && continue
                opt=$line ;;
            "# CONFIG_"*" is not set")
                opt=${line#\# }
                opt=${opt% is not set}
                grep -q "^$opt=" "$config" || continue
                opt="$opt off" ;;
            *) continue ;;
            esac
            say "warning: $(basename "$frag"): '$opt' did not take effect"
            missing=$((missing + 1))
        done <"$frag"
    done
    [ "$missing" = 0 ] || say "$missing options of the fragments did not take effect (above)"
}

kernel_from_tree() {
    local tree=$1 base=$2 obj release label
    obj=$(build_tree "$tree" "$base")
    release=$(cat "$obj/include/config/kernel.release")
    label="$base-${release%%-*}"
    [ "$debug" = 1 ] && label=$label-debug
    emit "$label" "$(basename "$(dirname "$obj")")" "$obj/arch/x86/boot/bzImage" \
        "$obj" "$(cat "$(dirname "$obj")/source")" "$obj/vmlinux" "$release"
}

case "$arch-$name" in
aarch64-debian) kernel_arm64 bookworm debian ;;
aarch64-lts) kernel_arm64 bookworm-backports lts ;;
*-debian) kernel_debian ;;
*-lts) kernel_lts ;;
*-latest) kernel_from_tree "$(latest_source)" latest ;;
*)
    [ -d "$name" ] || die "'$name' is neither debian, lts, latest nor a kernel tree"
    [ -f "$name/Makefile" ] && [ -f "$name/Kconfig" ] ||
        die "$name does not look like a kernel tree (no Makefile and Kconfig)"
    kernel_from_tree "$(realpath "$name")" tree ;;
esac
