#!/usr/bin/env bash
# Install the Debian packages that building and booting dmalab needs.
#
# usage: install-deps.sh [fuzz] [aarch64]   (fuzz: also what ./run-vm.sh fuzz
#        needs; aarch64: the cross compiler an arm64 guest needs)
#
# Idempotent: when every package is already present it only runs dpkg-query
# and returns in well under a second.  It also enables source packages
# (needed for `apt-get source qemu` and linux-source) by deriving deb-src
# entries from the machine's own apt sources, so no mirror is ever named here.
set -euo pipefail

PACKAGES=(
    # toolchain and build systems
    build-essential dpkg-dev pkg-config python3 meson ninja-build flex bison
    # the check's own tests read the CI workflows (YAML)
    python3-yaml
    # QEMU build dependencies for an x86_64-softmmu build (QEMU 8.1 and
    # later configure inside a Python venv)
    libglib2.0-dev libpixman-1-dev zlib1g-dev libfdt-dev python3-venv
    # guest: firmware, option ROMs, userland, initramfs tools
    seabios qemu-system-data busybox-static cpio xz-utils
    # guest tests: static libraries for io_uring and libaio
    liburing-dev libaio-dev
    # the docs' diagrams (docs/diagrams/*.dot, rendered by scripts/diagrams.sh)
    graphviz
    # the benchmark's plots (./run-vm.sh bench, scripts/bench.py)
    python3-matplotlib
    # kernel tooling: sparse for `make C=1`
    sparse kmod
    # drivers/dma/dmatest.c and scripts/checkpatch.pl come from here
    linux-source-6.1
    # the 6.12 LTS headers give modules BTF (pahole); building a kernel
    # from source (objtool, certificates, timeconst) and its config merge
    dwarves libelf-dev libssl-dev bc python3
)

# ./run-vm.sh fuzz: QEMU's fuzzers build with clang and libFuzzer, whose
# runtime (and the sanitizers') is clang's compiler-rt.
for want in "$@"; do
    case "$want" in
    fuzz) PACKAGES+=(clang libclang-rt-dev) ;;
    # an arm64 guest: the cross compiler for the driver, dmatest and the
    # static test programs (the guest's own packages, its kernel among
    # them, come through scripts/apt-suite.sh, never installed)
    aarch64) PACKAGES+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross) ;;
    x86_64) ;;
    *) echo "install-deps: unknown extra '$want' (fuzz, aarch64)" >&2; exit 2 ;;
    esac
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done

need_update=0

# deb-src: copy every "deb" entry of the machine's own sources as "deb-src".
srcfile=/etc/apt/sources.list.d/dmalab-deb-src.sources
srclist=/etc/apt/sources.list.d/dmalab-deb-src.list
if ! grep -rqsE '^(deb-src|Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "install-deps: enabling source packages from this machine's apt sources"
    tmp=$(mktemp)
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -e "$f" ] || continue
        # Keep whole deb822 stanzas whose Types include "deb", as deb-src.
        awk 'BEGIN { RS=""; ORS="\n\n" }
             /(^|\n)Types:[^\n]*deb([ \t\n]|$)/ {
                 sub(/Types:[^\n]*/, "Types: deb-src"); print }' "$f" >>"$tmp"
    done
    if [ -s "$tmp" ]; then
        $SUDO install -m 0644 "$tmp" "$srcfile"
    fi
    : >"$tmp"
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -e "$f" ] || continue
        sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$f" >>"$tmp"
    done
    if [ -s "$tmp" ]; then
        $SUDO install -m 0644 "$tmp" "$srclist"
    fi
    rm -f "$tmp"
    need_update=1
fi

# The guest kernel's headers: resolve the current ABI through linux-image-amd64.
if ! apt-cache show linux-image-amd64 >/dev/null 2>&1; then
    need_update=1
fi
if [ "$need_update" = 1 ] || [ ${#missing[@]} -gt 0 ]; then
    $SUDO apt-get update -q
fi
kimage=$("$(dirname "$0")/kernel-version.sh")
kheaders=${kimage/linux-image-/linux-headers-}
if ! dpkg-query -W -f='${Status}' "$kheaders" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$kheaders")
fi

if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
