#!/usr/bin/env bash
# Make a patch series that adds the dmalab device to a QEMU git tree, ready
# for `git am` and for the qemu-devel list.
#
#   qemu-patches.sh TREE OUTDIR [BASE]
#
# TREE is a QEMU git checkout (it is only read: the series is made in a
# clone of it, on top of BASE, a commit of TREE's, by default its HEAD);
# OUTDIR receives the patches (git format-patch).  Three patches:
#
#   1. hw/misc/dmalab: the device, its Kconfig and meson wiring, its trace
#      events, and the shared hardware header as
#      include/hw/misc/dmalab_hw.h
#   2. tests/qtest: the device's qtests
#   3. docs/specs/dmalab.rst: the specification (docs/spec.md, converted
#      by scripts/md2rst.py), in the specs index
#
# The device is written for QEMU master.  Its compat headers, which map
# master onto older versions, stay out: each compat macro becomes the plain
# expression it wraps, and the qtests include master's headers directly.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
tree=${1:?usage: qemu-patches.sh QEMU-GIT-TREE OUTDIR [BASE]}
outdir=${2:?usage: qemu-patches.sh QEMU-GIT-TREE OUTDIR [BASE]}
base=${3:-HEAD}

die() { echo "qemu-patches: $*" >&2; exit 1; }

git -C "$tree" rev-parse --git-dir >/dev/null 2>&1 || die "$tree is not a git tree"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
base=$(git -C "$tree" rev-parse --verify -q "$base^{commit}") ||
    die "$tree has no commit '${3:-HEAD}'"
git clone -q --no-checkout "$tree" "$work/qemu"
q=$work/qemu
git -C "$q" checkout -q --detach "$base"
[ -f "$q/hw/misc/meson.build" ] || die "$tree is not a QEMU tree"
grep -q '^system_ss = ' "$q/meson.build" ||
    die "$tree predates system_ss (QEMU 8.1): the series is for master"
gitq() {
    git -C "$q" -c user.name="${GIT_AUTHOR_NAME:-dmalab}" \
        -c user.email="${GIT_AUTHOR_EMAIL:-dmalab@localhost}" "$@"
}

# Add line $3 to file $1 after the first line matching $2.
add_after() {
    grep -qxF "$3" "$1" && return
    sed -i "0,\\|$2|s||&\\n$3|" "$1"
    grep -qxF "$3" "$1" || die "cannot place '$3' in $1"
}

# ---- 1. The device ----------------------------------------------------------
mkdir -p "$q/hw/misc/dmalab"
for f in dmalab-pci.c dmalab-core.c dmalab-worker.c dmalab-isa.c dmalab.h dmalab-worker.h trace-events trace.h meson.build Kconfig; do
    cp "$top/qemu-device/$f" "$q/hw/misc/dmalab/$f"
done
# Master's paths of the headers the compat header includes by version (its
# "system/" branch) stand where the glue included the compat header: in
# dmalab-pci.c, the one file that uses them.
master_device_includes=$(grep '^#include "system/' "$top/qemu-device/dmalab-compat.h")
awk -v inc="$master_device_includes" \
    '$0 == "#include \"dmalab-compat.h\"" { print inc; next } { print }' \
    "$top/qemu-device/dmalab-pci.c" >"$q/hw/misc/dmalab/dmalab-pci.c"
sed -i -e '/#include "dmalab-compat.h"/d' \
    -e '/^DMALAB_UNTYPED_RESET_HOLD([a-z_]*)$/d' \
    -e 's/DMALAB_CLASS_INIT(\([a-z_]*\))/\1/' \
    -e 's/DMALAB_RESET_HOLD(\([a-z_]*\))/\1/' \
    "$q/hw/misc/dmalab/dmalab-pci.c" "$q/hw/misc/dmalab/dmalab-isa.c"
if grep -n 'compat\|DMALAB_CLASS_INIT\|DMALAB_RESET_HOLD\|DMALAB_UNTYPED\|DMALAB_QEMU_BEFORE' \
    "$q"/hw/misc/dmalab/*; then
    die "a compat construct is left in the device (above)"
fi
cp "$top/include/dmalab_hw.h" "$q/include/hw/misc/dmalab_hw.h"
echo "subdir('dmalab')" >>"$q/hw/misc/meson.build"
echo "source dmalab/Kconfig" >>"$q/hw/misc/Kconfig"
add_after "$q/meson.build" "^    'hw/misc/macio',$" "    'hw/misc/dmalab',"
cat >>"$q/MAINTAINERS" <<'EOF'

dmalab PCI DMA engine
S: Maintained
F: hw/misc/dmalab/
F: include/hw/misc/dmalab_hw.h
F: tests/qtest/dmalab-*
F: docs/specs/dmalab.rst
EOF
gitq add -A
gitq commit -q -s -F - <<'EOF'
hw/misc/dmalab: a PCI DMA engine for driver development and teaching

dmalab is an emulated PCI DMA engine: descriptor rings with a phase bit,
scatter-gather, per-queue MSI-X with coalescing (MSI and INTx too),
device memory behind a BAR, a debug block for fault injection, FLR and
D3hot resets, and migration of every state a guest can reach.  It lets
driver authors develop DMA drivers without hardware, and teaching labs
show streaming and coherent mappings, bounce buffers and the IOMMU.

Every guest mistake becomes a status code, an error interrupt and a
LOG_GUEST_ERROR line.

dmalab-isa, beside it, is a small ISA device whose transfers the PC's
8237 (the i8257 model) performs through the ISA DMA interface: eight
ports, a channel and an IRQ set by properties, both directions, single,
block and auto-init, and a status code for what ISA cannot do.  It shows
the kernel's ISA DMA API (request_dma, set_dma_mode/addr/count).

include/hw/misc/dmalab_hw.h is the one
description of the hardware, shared with the Linux driver: like the
kernel's uapi headers it is GPL-2.0-only OR MIT, so that both projects
can carry the same file, and its one __KERNEL__ block gives the kernel
its sparse-checked little-endian types.
EOF

# ---- 2. The qtests ----------------------------------------------------------
# Master's headers: the branch of the qtests' compat header for the newest
# QEMU (after its last #else).
master_includes=$(awk '/^#else/ { keep = 1; body = ""; next }
                       /^#endif/ { if (keep) print body; keep = 0; next }
                       keep { body = body $0 "\n" }' \
    "$top/qemu-device/tests/dmalab-qtest-compat.h" | sed '/^$/d')
[ -n "$master_includes" ] || die "no master branch in dmalab-qtest-compat.h"
for t in dmalab-test dmalab-migration-test dmalab-isa-test; do
    awk -v inc="$master_includes" \
        '$0 == "#include \"dmalab-qtest-compat.h\"" { print inc; next } { print }' \
        "$top/qemu-device/tests/$t.c" >"$q/tests/qtest/$t.c"
done
if grep -n 'compat' "$q"/tests/qtest/dmalab-*.c; then
    die "a compat include is left in the qtests (above)"
fi
add_after "$q/tests/qtest/meson.build" "^qtests_x86_64 = qtests_i386$" \
    "qtests_x86_64 += ['dmalab-test', 'dmalab-migration-test', 'dmalab-isa-test']"
gitq add -A
gitq commit -q -s -F - <<'EOF'
tests/qtest: dmalab tests

One test per behaviour of the dmalab device: registers, every opcode with
guard bytes, scatter-gather, chains, interrupts and coalescing, every
fault-injection knob, resets, FLR and D3hot, every guest error's status,
and the address-space edges; and live migration, savevm/loadvm with DMA
in flight, and a seeded chain of migrations of random queue states.
EOF

# ---- 3. The specification ---------------------------------------------------
{
    printf '.. SPDX-License-Identifier: GPL-2.0-or-later\n\n'
    python3 "$top/scripts/md2rst.py" "$top/docs/spec.md"
} >"$q/docs/specs/dmalab.rst"
add_after "$q/docs/specs/index.rst" "^   edu$" "   dmalab"
gitq add -A
gitq commit -q -s -F - <<'EOF'
docs/specs: dmalab

The guest-visible interface of the dmalab device: PCI identity, register
map, descriptor, scatter-gather and completion formats, state machines,
interrupts, error handling and a worked example.
EOF

mkdir -p "$outdir"
gitq format-patch -q -o "$outdir" HEAD~3
ls "$outdir"/*.patch
