#!/usr/bin/env bash
# dmalab: build everything from Debian packages, boot a guest with the
# dmalab device, load the driver and run the tests.
#
#   ./run-vm.sh [options]          build, boot the default VM, run the guest
#                                  tests; exit 0 only if all of them passed
#   ./run-vm.sh check [options]    every test: the host-side qtests and the
#                                  guest suite in every VM configuration
#
# Run ./run-vm.sh --help for the options.
set -euo pipefail

top=$(cd "$(dirname "$0")" && pwd)
build=${DMALAB_BUILD:-$top/build}
export DMALAB_BUILD=$build

# shellcheck source=scripts/vm-configs.sh
. "$top/scripts/vm-configs.sh"

usage() {
    cat <<EOF
usage: ./run-vm.sh [check] [options]

  (no command)        build, boot the default VM and run the guest tests
  check               run every test: qtests, then each VM configuration

options:
  --shell             boot the default VM to an interactive shell with the
                      driver loaded and the test programs on PATH
  --only NAME         with check: run only the configuration NAME
                      ("qtest" or "lint" for one host-side test)
  --config NAME       without check: boot configuration NAME (default:
                      default); one of: ${DMALAB_CONFIGS[*]}
  --accel kvm|tcg     skip the KVM probe and use this accelerator
  --timeout SECONDS   time limit of each boot (default: $DEFAULT_TIMEOUT)
  --no-deps           do not run scripts/install-deps.sh
  -h, --help          this text
EOF
}

command=run
only=""
config=default
accel=""
shell=0
deps=1
timeout_s=""
only_tests=""
while [ $# -gt 0 ]; do
    case "$1" in
    check) command=check ;;
    --shell) shell=1 ;;
    --only) only=${2:?--only needs a name}; shift ;;
    --config) config=${2:?--config needs a name}; shift ;;
    --accel) accel=${2:?--accel needs kvm or tcg}; shift ;;
    --timeout) timeout_s=${2:?--timeout needs seconds}; shift ;;
    --tests) only_tests=${2:?--tests needs a list of test programs}; shift ;;
    --no-deps) deps=0 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run-vm.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
case "$accel" in
""|kvm|tcg) ;;
*) echo "run-vm.sh: --accel takes kvm or tcg" >&2; exit 2 ;;
esac
if [ -n "$only" ] && [ "$only" != qtest ] && [ "$only" != lint ] &&
    ! vm_config_exists "$only"; then
    echo "run-vm.sh: unknown configuration '$only' (${DMALAB_CONFIGS[*]})" >&2
    exit 2
fi
if ! vm_config_exists "$config"; then
    echo "run-vm.sh: unknown configuration '$config' (${DMALAB_CONFIGS[*]})" >&2
    exit 2
fi

step() { printf '==> %s\n' "$*"; }

# ---- Build ---------------------------------------------------------------

build_all() {
    if [ "$deps" = 1 ]; then
        "$top/scripts/install-deps.sh"
    fi
    step "QEMU"
    "$top/scripts/build-qemu.sh"
    step "guest kernel"
    "$top/scripts/fetch-kernel.sh"
    kpkg=$("$top/scripts/kernel-version.sh")
    kver=${kpkg#linux-image-}
    kernel=$build/kernel/vmlinuz-$kver
    kheaders=/usr/src/linux-headers-$kver
    step "driver and guest tests (kernel $kver)"
    if [ ! -f "$build/meson/build.ninja" ]; then
        meson setup "$build/meson" "$top" -Dkernel_headers="$kheaders" >/dev/null
    fi
    meson configure "$build/meson" -Dkernel_headers="$kheaders" >/dev/null
    ninja -C "$build/meson" >"$build/meson.log" 2>&1 || {
        cat "$build/meson.log" >&2
        exit 1
    }
    mapfile -t tests < <(sed -n "s/^ *'\([a-z0-9_]*\)',$/\1/p" \
        "$top/guest-tests/meson.build")
    local paths=() want
    for t in "${tests[@]}"; do
        paths+=("$build/meson/guest-tests/$t")
    done
    for want in ${only_tests//,/ }; do
        if [[ " ${tests[*]} " != *" $want "* ]]; then
            echo "run-vm.sh: no guest test program '$want' (${tests[*]})" >&2
            exit 2
        fi
    done
    initrd=$build/initramfs.cpio.gz
    "$top/scripts/build-initramfs.sh" "$initrd" "$top/guest/init" \
        "$build/meson/dmalab.ko" "$build/meson/dmatest.ko" -- "${paths[@]}"
    qemu=$build/qemu/bin/qemu-system-x86_64
}

# ---- Accelerator -----------------------------------------------------------

# KVM is used only when a short boot under it proves it works: on some
# machines /dev/kvm exists but a guest hangs.  The verdict is cached until
# the host reboots.
choose_accel() {
    if [ -n "$accel" ]; then
        echo "accelerator: $accel (requested)"
        return
    fi
    local cache=$build/accel-probe boot_id verdict log
    boot_id=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo none)
    if [ -f "$cache" ] && [ "$(head -n 1 "$cache")" = "$boot_id" ]; then
        accel=$(sed -n 2p "$cache")
        echo "accelerator: $accel (probed earlier on this boot of the host)"
        return
    fi
    verdict=tcg
    if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
        log=$build/kvm-probe.log
        timeout -k 2 20 "$qemu" -accel kvm -M q35 -m 256M -nodefaults \
            -no-reboot -nographic -kernel "$kernel" -initrd "$initrd" \
            -append "console=ttyS0 panic=-1 dmalab.mode=probe" \
            -serial "file:$log" >/dev/null 2>&1 || true
        if grep -q DMALAB-PROBE-OK "$log" 2>/dev/null; then
            verdict=kvm
        fi
    fi
    printf '%s\n%s\n' "$boot_id" "$verdict" >"$cache"
    accel=$verdict
    if [ "$accel" = kvm ]; then
        echo "accelerator: kvm (a probe boot under KVM succeeded)"
    else
        echo "accelerator: tcg (KVM is unavailable or a probe boot under it failed)"
    fi
}

# ---- Boot ------------------------------------------------------------------

# Print the QEMU command line for configuration $1, one argument per line.
qemu_cmdline() {
    local name=$1 mode=$2
    local accel_opt=$accel
    vm_config "$name"
    # QEMU 7.2's multi-threaded TCG switches a vCPU's memory map before
    # that vCPU has flushed its TLB (tcg_commit() in softmmu/physmem.c), so
    # while another vCPU moves a BAR, a stale TLB entry can send an access
    # to the wrong device: an abort in hw/pci/msix.c or a hung guest.  One
    # thread that runs all vCPUs in turn flushes every TLB at once.
    if [ "$accel" = tcg ] && [ "$VM_SMP" -gt 1 ]; then
        accel_opt=tcg,thread=single
    fi
    printf '%s\n' "$qemu" -M "$VM_MACHINE" -accel "$accel_opt" -m "$VM_MEM" \
        -smp "$VM_SMP" -nodefaults -no-reboot -nographic -d guest_errors \
        -kernel "$kernel" -initrd "$initrd"
    printf '%s\n' -append "console=ttyS0 panic=-1 oops=panic panic_on_warn=1 iomem=relaxed loglevel=4 dmalab.mode=$mode dmalab.config=$name ${only_tests:+dmalab.tests=$only_tests }${VM_MODPARAMS:+dmalab.params=$VM_MODPARAMS }$VM_APPEND"
    local a
    for a in "${VM_QEMU_ARGS[@]}"; do
        printf '%s\n' "$a"
    done
}

# Boot configuration $1 and run the guest tests; leaves results in
# $build/results/$1/.
boot_config() {
    local name=$1 dir=$build/results/$1 limit rc=0
    local -a cmd
    rm -rf "$dir"
    mkdir -p "$dir"
    vm_config "$name"
    limit=${timeout_s:-$VM_TIMEOUT}
    mapfile -t cmd < <(qemu_cmdline "$name" test)
    cmd+=(-serial "file:$dir/console.log" -serial "file:$dir/results.tap"
          -qmp "unix:$dir/qmp.sock,server=on,wait=off")
    echo "+ ${cmd[*]}"
    : >"$dir/results.tap"
    python3 "$top/scripts/qmp-agent.py" "$dir/qmp.sock" "$dir/results.tap" \
        "$((limit + 5))" >"$dir/qmp.log" 2>&1 &
    local agent=$!
    timeout -k 5 "$limit" "${cmd[@]}" </dev/null >"$dir/qemu.log" 2>&1 || rc=$?
    wait "$agent" || true
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        echo "not ok - $name: the guest did not finish within ${limit}s" >>"$dir/results.tap"
        # The console is all there is to show where a guest hung.
        tail -n 60 "$dir/console.log" | sed 's/^/  console: /' >&2
    elif [ "$rc" != 0 ]; then
        echo "not ok - $name: QEMU exited with status $rc" >>"$dir/results.tap"
        sed 's/^/  qemu: /' "$dir/qemu.log" >&2
    fi
    if grep -E 'Kernel panic|Oops|BUG:|WARNING:|DMA-API' "$dir/console.log" >"$dir/kernel-reports" 2>/dev/null; then
        echo "not ok - $name: kernel reported a problem (see $dir/console.log)" >>"$dir/results.tap"
        sed 's/^/  kernel: /' "$dir/kernel-reports" | head -n 20 >&2
    fi
}

total_pass=0
total_fail=0
total_skip=0
summary_rows=()

# Count the results of one run and add them to the totals.
tally() {
    local label=$1 file=$2 require_done=$3 counts p f s
    counts=$("$top/scripts/tap-summary.sh" "$file" "$require_done")
    read -r p f s <<<"$counts"
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    total_skip=$((total_skip + s))
    summary_rows+=("$(printf '%-14s %6d %6d %6d' "$label" "$p" "$f" "$s")")
}

run_guest() {
    local name=$1
    step "boot: $name"
    boot_config "$name"
    grep -E '^(ok|not ok|# )' "$build/results/$name/results.tap" | grep -v '^# program\|^# exit' || true
    tally "$name" "$build/results/$name/results.tap" 1
}

run_qtests() {
    local dir=$build/results/qtest rc t
    step "host tests: qtest"
    rm -rf "$dir"
    mkdir -p "$dir"
    for t in "$build"/qemu/build/tests/qtest/dmalab-*test; do
        rc=0
        t=$(basename "$t")
        (cd "$build/qemu/build" &&
            QTEST_QEMU_BINARY=$build/qemu/bin/qemu-system-x86_64 timeout -k 5 300 \
                "./tests/qtest/$t" --tap) >"$dir/$t.tap" 2>"$dir/$t.stderr" || rc=$?
        if [ "$rc" != 0 ]; then
            echo "not ok - $t exited with status $rc" >>"$dir/$t.tap"
            tail -n 20 "$dir/$t.stderr" >&2
        fi
        cat "$dir/$t.tap" >>"$dir/results.tap"
    done
    grep -E '^(ok|not ok)' "$dir/results.tap" || true
    tally qtest "$dir/results.tap" 0
}

run_lint() {
    local dir=$build/results/lint
    step "host tests: style (driver: checkpatch --strict, sparse, W=1; device: QEMU's checkpatch)"
    rm -rf "$dir"
    mkdir -p "$dir"
    "$top/scripts/lint-driver.sh" "$kheaders" >"$dir/driver.tap" 2>"$dir/stderr.log" ||
        echo "not ok - lint-driver.sh exited with status $?" >>"$dir/driver.tap"
    "$top/scripts/lint-device.sh" >"$dir/device.tap" 2>>"$dir/stderr.log" ||
        echo "not ok - lint-device.sh exited with status $?" >>"$dir/device.tap"
    cat "$dir/driver.tap" "$dir/device.tap" >"$dir/results.tap"
    grep -E '^(ok|not ok|# )' "$dir/results.tap" || true
    tally lint "$dir/results.tap" 0
}

print_summary() {
    echo
    printf '%-14s %6s %6s %6s\n' configuration passed failed skipped
    printf '%s\n' "${summary_rows[@]}"
    echo
    echo "$total_pass passed, $total_fail failed, $total_skip skipped"
}

# ---- Main ------------------------------------------------------------------

# One run at a time per build directory: runs share the build and results.
mkdir -p "$build"
exec 9>"$build/.run-vm.lock"
if ! flock -n 9; then
    echo "run-vm.sh: another run is using $build; waiting for it"
    flock 9
fi

build_all
choose_accel

if [ "$shell" = 1 ]; then
    mapfile -t cmd < <(qemu_cmdline "$config" shell)
    cmd+=(-serial mon:stdio)
    echo "+ ${cmd[*]}"
    echo "(leave with 'poweroff -f', or Ctrl-A X; the session ends after ${timeout_s:-$SHELL_TIMEOUT}s)"
    exec timeout --foreground "${timeout_s:-$SHELL_TIMEOUT}" "${cmd[@]}"
fi

if [ "$command" = run ]; then
    run_guest "$config"
else
    if [ -z "$only" ] || [ "$only" = qtest ]; then
        run_qtests
    fi
    if [ -z "$only" ] || [ "$only" = lint ]; then
        run_lint
    fi
    for name in "${DMALAB_CONFIGS[@]}"; do
        if [ -z "$only" ] || [ "$only" = "$name" ]; then
            run_guest "$name"
        fi
    done
fi
print_summary
[ "$total_fail" = 0 ] && [ "$total_pass" -gt 0 ]
