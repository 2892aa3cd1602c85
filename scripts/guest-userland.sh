#!/usr/bin/env bash
# The user space of another architecture's guest: Debian 12's static
# busybox and the static io_uring and libaio libraries the test programs
# link, from the architecture's packages (scripts/apt-suite.sh; nothing is
# installed), unpacked under build/guest-<arch>/root, and a meson cross
# file that builds the test programs with Debian's cross compiler
# (scripts/install-deps.sh aarch64) against those libraries.
#
# usage: guest-userland.sh aarch64
# Prints shell assignments for eval:
#   GUEST_BUSYBOX   the static busybox for the initramfs
#   GUEST_CROSS     the meson cross file
#   GUEST_CROSS_COMPILE  the prefix of the cross tools (Kbuild's CROSS_COMPILE)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${DMALAB_BUILD:-$top/build}
arch=${1:?usage: guest-userland.sh aarch64}

case "$arch" in
aarch64) debarch=arm64 triplet=aarch64-linux-gnu ;;
*) echo "guest-userland: no cross user space for '$arch'" >&2; exit 2 ;;
esac
dir=$build/guest-$arch
root=$dir/root
packages=(busybox-static liburing-dev libaio-dev)

command -v "$triplet-gcc" >/dev/null ||
    { echo "guest-userland: no $triplet-gcc (scripts/install-deps.sh $arch)" >&2; exit 1; }

if [ ! -f "$dir/stamp" ] || [ "$(cat "$dir/stamp")" != "${packages[*]}" ]; then
    echo "guest-userland: downloading ${packages[*]} for $debarch" >&2
    rm -rf "$dir"
    mkdir -p "$dir/debs" "$root"
    (cd "$dir/debs" &&
        "$top/scripts/apt-suite.sh" "bookworm:$debarch" apt-get download -q "${packages[@]}") \
        >"$dir/download.log" 2>&1 || {
        cat "$dir/download.log" >&2
        exit 1
    }
    for deb in "$dir"/debs/*.deb; do
        dpkg-deb -x "$deb" "$root"
    done
    rm -rf "$dir/debs"
    echo "${packages[*]}" >"$dir/stamp"
fi

# The libraries' headers are the same on every architecture, but they are
# taken from the same packages as the libraries all the same.
cat >"$dir/cross.ini.tmp" <<EOF
[binaries]
c = '$triplet-gcc'
ar = '$triplet-ar'
strip = '$triplet-strip'

[built-in options]
c_args = ['-isystem', '$root/usr/include']
c_link_args = ['-L$root/usr/lib/$triplet']

[host_machine]
system = 'linux'
cpu_family = '$arch'
cpu = '$arch'
endian = 'little'
EOF
if cmp -s "$dir/cross.ini.tmp" "$dir/cross.ini"; then
    rm "$dir/cross.ini.tmp"
else
    mv "$dir/cross.ini.tmp" "$dir/cross.ini"
fi
printf 'GUEST_BUSYBOX=%q\nGUEST_CROSS=%q\nGUEST_CROSS_COMPILE=%q\n' \
    "$root/bin/busybox" "$dir/cross.ini" "$triplet-"
