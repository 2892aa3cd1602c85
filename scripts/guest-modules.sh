#!/usr/bin/env bash
# Modules of Debian's kernel package for the guest, with every module they
# depend on, uncompressed (busybox's insmod reads plain .ko files) into a
# directory with a load-order file: one module per line, dependencies
# first.  The benchmark loads nvme.ko this way, from the same kernel's
# package as the guest's kernel.  Nothing is done when the directory is
# already complete.
#
# usage: guest-modules.sh <linux-image package> <out-dir> <module>...
set -euo pipefail

pkg=$1
out=$2
shift 2
[ -f "$out/load-order" ] && exit 0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "guest-modules: unpacking $* from $pkg"
(cd "$work" && apt-get download -q "$pkg" >/dev/null 2>&1) || {
    echo "guest-modules: 'apt-get download $pkg' failed" >&2
    exit 1
}
dpkg-deb -x "$work"/*.deb "$work/root"
moddir=$(echo "$work"/root/lib/modules/*)
[ -d "$moddir" ] || { echo "guest-modules: no modules in $pkg" >&2; exit 1; }

# name -> file (foo-bar and foo_bar are one module)
declare -A file_of=()
while read -r f; do
    base=$(basename "$f")
    base=${base%%.ko*}
    file_of[${base//-/_}]=$f
done < <(find "$moddir" -name '*.ko*')

declare -A placed=()
order=()
# Depth first: a module after everything it depends on.
place() {
    local name=${1//-/_} f dep
    [ -n "${placed[$name]:-}" ] && return
    f=${file_of[$name]:-}
    if [ -z "$f" ]; then
        # built into the kernel: nothing to load
        grep -q "/${1}.ko" "$moddir/modules.builtin" || grep -q "/${name}.ko" "$moddir/modules.builtin" || {
            echo "guest-modules: no module $1 in $pkg" >&2
            exit 1
        }
        placed[$name]=builtin
        return
    fi
    placed[$name]=pending
    for dep in $(/sbin/modinfo -F depends "$f" | tr ',' ' '); do
        place "$dep"
    done
    order+=("$f")
    placed[$name]=done
}
for m in "$@"; do
    place "$m"
done

rm -rf "$out.tmp"
mkdir -p "$out.tmp"
for f in "${order[@]}"; do
    base=$(basename "$f")
    case "$base" in
    *.ko.xz) xz -dc "$f" >"$out.tmp/${base%.xz}" ;;
    *.ko.zst) zstd -qdc "$f" >"$out.tmp/${base%.zst}" ;;
    *.ko.gz) gzip -dc "$f" >"$out.tmp/${base%.gz}" ;;
    *) cp "$f" "$out.tmp/$base" ;;
    esac
    echo "${base%%.ko*}.ko" >>"$out.tmp/load-order"
done
rm -rf "$out"
mv "$out.tmp" "$out"
