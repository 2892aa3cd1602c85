#!/usr/bin/env bash
# dmalab: build everything from Debian packages, boot a guest with the
# dmalab device, load the driver and run the tests.
#
#   ./run-vm.sh [options]          build, boot the default VM, run the guest
#                                  tests; exit 0 only if all of them passed
#   ./run-vm.sh check [options]    every test: the host-side qtests and the
#                                  guest suite in every VM configuration
#   ./run-vm.sh labs [--only ID]   run the labs of docs/labs.md step by
#                                  step, each in its configuration, and
#                                  check each step's output against what
#                                  the text says (scripts/labs.py)
#   ./run-vm.sh fuzz [--time S]    fuzz the device with QEMU's generic-fuzz
#                                  and libFuzzer; keeps crashes and their
#                                  reproducers under build/fuzz/
#   ./run-vm.sh bench [--quick]    the benchmark: dmalab beside the host's
#                                  and the guest's memcpy and QEMU's NVMe
#                                  model, in trials, and fio's jobs on
#                                  both devices; a table, and under
#                                  build/results/bench/ the trials (CSV),
#                                  summary.json and plots
#
# Run ./run-vm.sh --help for the options.
set -euo pipefail

top=$(cd "$(dirname "$0")" && pwd)
build=${DMALAB_BUILD:-$top/build}
export DMALAB_BUILD=$build
# Where check leaves its results (a TAP file and logs per unit, units.tsv,
# builds.tsv and junit.xml); each shard of a split check can have its own.
results_root=${DMALAB_RESULTS:-$build/results}

# shellcheck source=scripts/vm-configs.sh
. "$top/scripts/vm-configs.sh"

usage() {
    cat <<EOF
usage: ./run-vm.sh [check|labs|fuzz|bench] [options]

  (no command)        build, boot the default VM and run the guest tests
  check               run every test: the host-side tests, then each
                      kernel's VM configurations (see CHECK_TIERS in
                      scripts/vm-configs.sh)
  labs                run the labs of docs/labs.md, each in the
                      configuration it names, and check every step's
                      output against what the text promises; --only
                      takes a run's name (lab2-1) or a glob
  fuzz                build the generic-fuzz target of the device (clang,
                      libFuzzer, ASan, UBSan) and run it; crashes and their
                      qtest reproducers are kept in build/fuzz/
  bench               boot one VM with a dmalab device and QEMU's NVMe model
                      on a RAM-backed file, and measure: copies of 4 KiB to
                      64 MiB against the host's and the guest's memcpy, op
                      rates of every submission path against NVMe's, in 5
                      trials each; writes build/results/bench/results.csv,
                      summary.json and *.png (docs/performance.md)

options:
  --kernel K          the guest kernel: debian (Debian 12's, the default),
                      lts (6.12 from bookworm-backports), latest (the
                      newest source Debian packages, built here) or the
                      path of a kernel tree (built here).  With check:
                      only this kernel, in every configuration
  --qemu Q            the QEMU: debian (Debian 12's 7.2, the default),
                      stable (10.0, Debian 13's source), latest (the newest
                      source Debian packages), series (latest as a git
                      repository with scripts/qemu-patches.sh's series
                      applied by git am) or the path of a QEMU tree,
                      such as an upstream git checkout (the device is
                      overlaid into it).  With check: the qtests and the
                      guest suite on this QEMU only
  --arch A            the guest architecture: x86_64 (the default) or
                      aarch64 (QEMU's virt machine, GICv3 ITS, SMMUv3,
                      Debian's arm64 kernel; the first run builds QEMU's
                      aarch64 target, about 5 minutes on 2 cores).  With
                      check: only this architecture's boots
  --debug             build the kernel with kernel/debug.config (DMA-API
                      debug, KASAN, lockdep, kmemleak, fault injection)
  --shell             boot the default VM to an interactive shell with the
                      driver loaded and the test programs on PATH
  --gdb               like --shell, with QEMU's gdbstub waiting for gdb
                      (a kernel built here: its vmlinux has the symbols)
  --only PATTERN      with check: run only the units (see --list) that
                      PATTERN names: a unit's name, a glob of names
                      ('boot/*/*/lts/*'), or one part of a name ("default",
                      "lts", "qtest", "lint"); several, comma-separated
  --list              with check: print the units it would run, one per
                      line, and build nothing
  --shard I/N         with check: run only the I-th of N shards, balanced
                      by earlier run times (.ci/unit-times.tsv); shards
                      1..N together run every unit once
  --add FILE.c        build your own program (static, against the uapi
                      header) and put it on the guest's PATH; again for
                      several
  --tests A,B         run only these guest test programs (the kernel-log
                      and leak checks still run)
  --time SECONDS      with fuzz: how long to fuzz (default: 600)
  --quick             with bench: one short trial of small sizes (what
                      check runs to prove the benchmark works)
  --config NAME       without check: boot configuration NAME (default:
                      default); one of: ${DMALAB_CONFIGS[*]}
                      (aarch64: ${DMALAB_CONFIGS_AARCH64[*]})
  --accel kvm|tcg     skip the KVM probe and use this accelerator
  --timeout SECONDS   time limit of each boot (default: $DEFAULT_TIMEOUT)
  --no-deps           do not run scripts/install-deps.sh
  -h, --help          this text
EOF
}

command=run
kernel_name=debian
kernel_given=0
qemu_name=debian
qemu_given=0
arch_given=0
ARCH=x86_64
kernel_debug=0
gdb=0
only=""
config=default
accel=""
shell=0
deps=1
timeout_s=""
only_tests=""
fuzz_time=600
bench_mode=full
list=0
shard=""
adds=()
while [ $# -gt 0 ]; do
    case "$1" in
    check) command=check ;;
    labs) command=labs ;;
    fuzz) command=fuzz ;;
    bench) command=bench ;;
    --quick) bench_mode=quick ;;
    --time) fuzz_time=${2:?--time needs seconds}; shift ;;
    --shell) shell=1 ;;
    --gdb) shell=1; gdb=1 ;;
    --kernel) kernel_name=${2:?--kernel needs debian, lts, latest or a path}
              kernel_given=1; shift ;;
    --debug) kernel_debug=1 ;;
    --arch) ARCH=${2:?--arch needs x86_64 or aarch64}; arch_given=1; shift ;;
    --qemu) qemu_name=${2:?--qemu needs debian, stable, latest, series or a path}
            qemu_given=1; shift ;;
    --only) only=${2:?--only needs a name or pattern}; shift ;;
    --list) list=1 ;;
    --shard) shard=${2:?--shard needs I/N}; shift ;;
    --config) config=${2:?--config needs a name}; shift ;;
    --accel) accel=${2:?--accel needs kvm or tcg}; shift ;;
    --timeout) timeout_s=${2:?--timeout needs seconds}; shift ;;
    --tests) only_tests=${2:?--tests needs a list of test programs}; shift ;;
    --no-deps) deps=0 ;;
    --add) adds+=("$(realpath "${2:?--add needs a C file}")"); shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run-vm.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
case "$accel" in
""|kvm|tcg) ;;
*) echo "run-vm.sh: --accel takes kvm or tcg" >&2; exit 2 ;;
esac
if [ "$command" = labs ] && { [ "$list" = 1 ] || [ -n "$shard" ]; }; then
    echo "run-vm.sh: labs takes --only, not --list or --shard" >&2
    exit 2
fi
if [ "$command" != check ] && [ "$command" != labs ] &&
    { [ "$list" = 1 ] || [ -n "$shard$only" ]; }; then
    echo "run-vm.sh: --list, --shard and --only go with check" >&2
    exit 2
fi
if [[ " ${GUEST_ARCHES[*]} " != *" $ARCH "* ]]; then
    echo "run-vm.sh: unknown architecture '$ARCH' (${GUEST_ARCHES[*]})" >&2
    exit 2
fi
if ! vm_config_exists "$ARCH" "$config"; then
    echo "run-vm.sh: unknown $ARCH configuration '$config' ($(arch_configs "$ARCH" | tr '\n' ' '))" >&2
    exit 2
fi

step() { printf '==> %s\n' "$*"; }

# ---- Build ---------------------------------------------------------------

build_host() {
    if [ "$deps" = 1 ]; then
        # shellcheck disable=SC2046 # one word per architecture
        "$top/scripts/install-deps.sh" $(run_arches)
    fi
    # check makes each unit's QEMU ready as the unit comes.
    [ "$command" = check ] || use_qemu "$qemu_name"
    mapfile -t tests < <(sed -n "s/^ *'\([a-z0-9_]*\)',$/\1/p" \
        "$top/guest-tests/meson.build")
    local want
    for want in ${only_tests//,/ }; do
        if [[ " ${tests[*]} " != *" $want "* ]]; then
            echo "run-vm.sh: no guest test program '$want' (${tests[*]})" >&2
            exit 2
        fi
    done
}

# Make QEMU $1 for $ARCH ready (scripts/build-qemu.sh: fetched, overlaid,
# built), unless it is already.  Sets qemu (its binary), qemu_build (its
# build tree, where its qtests are), qemu_src, QEMU_LABEL and qemu_results
# (where the results of boots on it go: Debian's QEMU on x86_64 keeps the
# paths it always had).
use_qemu() {
    local start=$EPOCHREALTIME vars bin=bin
    [ "${qemu_current:-}" = "$ARCH/$1" ] && return
    step "QEMU: $1 ($ARCH)"
    "$top/scripts/build-qemu.sh" --qemu "$1" --arch "$ARCH" plain
    vars=$("$top/scripts/qemu-source.sh" "$1") || exit 1
    eval "$vars"
    record_build "build/qemu/$ARCH/$(qemu_tag "$1")" "$start"
    [ "$ARCH" = x86_64 ] || bin=bin-$ARCH
    qemu=$QEMU_OUT/$bin/qemu-system-$ARCH
    qemu_build=$QEMU_OUT/build
    qemu_src=$QEMU_SRC
    qemu_results=$results_root
    [ "$ARCH" = x86_64 ] || qemu_results=$qemu_results/$ARCH
    [ "$1" = debian ] || qemu_results=$qemu_results/qemu-$QEMU_LABEL
    qemu_current=$ARCH/$1
}

# Make kernel $1 (with kernel/debug.config if $2 is 1) ready, and build
# the driver, dmatest and the guest tests against it.  Sets kernel,
# initrd, kheaders, results and the KERNEL_* variables of scripts/kernel.sh.
use_kernel() {
    local name=$1 debug=$2 vars paths=() modules=() t start=$EPOCHREALTIME
    step "guest kernel: $name$([ "$debug" = 1 ] && echo ' (debug)') ($ARCH)"
    local flag="" busybox=/bin/busybox cross=() cross_compile=""
    [ "$debug" = 1 ] && flag=--debug
    # shellcheck disable=SC2086 # no flag, or one
    vars=$("$top/scripts/kernel.sh" --arch "$ARCH" "$name" $flag) || exit 1
    eval "$vars"
    # Another architecture's programs and modules are cross-built.
    if [ "$ARCH" != "$(uname -m)" ]; then
        vars=$("$top/scripts/guest-userland.sh" "$ARCH") || exit 1
        eval "$vars"
        busybox=$GUEST_BUSYBOX
        cross=(--cross-file "$GUEST_CROSS")
        cross_compile=$GUEST_CROSS_COMPILE
    fi
    kernel_cross_compile=$cross_compile
    kernel=$KERNEL_IMAGE
    kheaders=$KERNEL_KBUILD
    # Debian's kernel keeps the paths it always had.
    if [ "$KERNEL_ID" = debian ] && [ "$ARCH" = x86_64 ]; then
        mesondir=$build/meson
        initrd=$build/initramfs.cpio.gz
        results=${qemu_results:-$results_root}
    else
        mesondir=$build/meson-$KERNEL_ID
        initrd=$build/initramfs-$KERNEL_ID.cpio.gz
        results=${qemu_results:-$results_root}/$KERNEL_LABEL
    fi
    step "driver and guest tests (kernel $KERNEL_RELEASE)"
    # (Re)configure only when the kernel changed: meson then stays quiet.
    local opts="-Dkernel_headers=$kheaders -Dkernel_source=$KERNEL_SRC"
    [ -z "$cross_compile" ] || opts="$opts -Dcross_compile=$cross_compile"
    if [ ! -f "$mesondir/build.ninja" ] ||
        [ "$(cat "$mesondir/.dmalab-options" 2>/dev/null)" != "$opts" ]; then
        # shellcheck disable=SC2086 # two -D options
        meson setup $([ -f "$mesondir/build.ninja" ] && echo --reconfigure) \
            "${cross[@]}" "$mesondir" "$top" $opts >"$mesondir.log" 2>&1 ||
            { cat "$mesondir.log" >&2; exit 1; }
        echo "$opts" >"$mesondir/.dmalab-options"
    fi
    ninja -C "$mesondir" >"$mesondir.log" 2>&1 || {
        cat "$mesondir.log" >&2
        exit 1
    }
    for t in "${tests[@]}"; do
        paths+=("$mesondir/guest-tests/$t")
    done
    # dmalab_isa.ko exists only for kernels with the ISA bus API
    modules=("$mesondir/dmalab.ko" "$mesondir/dmatest.ko")
    [ -f "$mesondir/dmalab_isa.ko" ] && modules+=("$mesondir/dmalab_isa.ko")
    BUSYBOX=$busybox "$top/scripts/build-initramfs.sh" "$initrd" "$top/guest/init" \
        "${modules[@]}" -- "${paths[@]}"
    record_build "build/kernel/$ARCH/$(kernel_tag "$name" "$debug")" "$start"
}

# ---- Accelerator -----------------------------------------------------------

# KVM is used only when a short boot under it proves it works: on some
# machines /dev/kvm exists but a guest hangs.  The verdict is cached until
# the host reboots.
choose_accel() {
    # (qemu_cmdline uses TCG for them whatever was chosen; the probe boots
    # this host's architecture, and is left to a boot of it)
    if [ "$ARCH" != "$(uname -m)" ]; then
        echo "accelerator: tcg (KVM runs only this host's architecture)"
        return
    fi
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

# What a debug kernel's checks need on the command line: room for every
# mapping DMA-API debug tracks (the suite keeps thousands in flight).
kernel_append() {
    if [ "$KERNEL_DEBUG" = 1 ]; then
        # A debug kernel's WARNs (DMA-API, lockdep) do not end the boot:
        # their text is printed after the point where panic_on_warn
        # stops, and guest/init reports each from the kernel log.
        printf 'dma_debug_entries=262144 '
    else
        printf 'panic_on_warn=1 '
    fi
}

# Print the QEMU command line for configuration $1, one argument per line.
qemu_cmdline() {
    local name=$1 mode=$2
    local accel_opt=$accel
    vm_config "$name"
    [ "$ARCH" = "$(uname -m)" ] || accel_opt=tcg
    # QEMU 7.2's multi-threaded TCG switches a vCPU's memory map before
    # that vCPU has flushed its TLB (tcg_commit() in softmmu/physmem.c), so
    # while another vCPU moves a BAR, a stale TLB entry can send an access
    # to the wrong device: an abort in hw/pci/msix.c or a hung guest.  One
    # thread that runs all vCPUs in turn flushes every TLB at once.
    if [ "$accel_opt" = tcg ] && [ "$VM_SMP" -gt 1 ]; then
        accel_opt=tcg,thread=single
    fi
    printf '%s\n' "$qemu" -M "$VM_MACHINE" ${VM_CPU:+-cpu "$VM_CPU"} -accel "$accel_opt" \
        -m "$VM_MEM" -smp "$VM_SMP" -nodefaults -no-reboot -nographic -d guest_errors \
        -kernel "$kernel" -initrd "$initrd"
    printf '%s\n' -append "console=$VM_CONSOLE ${VM_RESULTS_TTY:+dmalab.results=$VM_RESULTS_TTY }panic=-1 oops=panic iomem=relaxed loglevel=4 dmalab.mode=$mode dmalab.config=$name dmalab.kernel=$KERNEL_LABEL ${only_tests:+dmalab.tests=$only_tests }${VM_MODPARAMS:+dmalab.params=$VM_MODPARAMS }dmalab.expect=irq:$VM_EXPECT_IRQ,dma_ops:$VM_EXPECT_DMA_OPS,doorbell:$VM_EXPECT_DOORBELL,shadow:$VM_EXPECT_SHADOW${VM_EXPECT_MORE:+,$VM_EXPECT_MORE} $(kernel_append)$VM_APPEND"
    local a
    for a in "${VM_QEMU_ARGS[@]}"; do
        printf '%s\n' "$a"
    done
}

# Boot configuration $1 and run the guest tests; leaves results in
# $results_root/$1/.
boot_config() {
    local name=$1 dir=${2:-$results/$1} limit rc=0
    local -a cmd
    rm -rf "$dir"
    mkdir -p "$dir"
    vm_config "$name"
    limit=${timeout_s:-$VM_TIMEOUT}
    # A debug kernel (KASAN, lockdep, kmemleak) runs several times slower.
    if [ -z "$timeout_s" ] && [ "$KERNEL_DEBUG" = 1 ]; then
        limit=$((limit * DEBUG_TIMEOUT_FACTOR))
    fi
    mapfile -t cmd < <(qemu_cmdline "$name" "${boot_mode:-test}")
    cmd+=(-serial "file:$dir/console.log" "${VM_RESULTS_PORT[@]//@FILE@/$dir/results.tap}"
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
    # Kernel messages only (printk's timestamp; not the programs' TAP), and
    # a debug kernel's announcements of its checks at boot are no report.
    if grep -E '^\[ *[0-9]+\.[0-9]+\] .*(Kernel panic|Oops|BUG:|WARNING:|DMA-API|UBSAN:|unreferenced object)|Kernel panic' \
        "$dir/console.log" 2>/dev/null |
        grep -vE 'DMA-API: preallocated [0-9]+ debug entries|DMA-API: debugging enabled by kernel config' \
        >"$dir/kernel-reports"; then
        echo "not ok - $name: kernel reported a problem (see $dir/console.log)" >>"$dir/results.tap"
        sed 's/^/  kernel: /' "$dir/kernel-reports" | head -n 20 >&2
    fi
}

# Count the results of unit $1 (TAP file $2; $3 is 1 if it must end in the
# guest's DMALAB-DONE), run on kernel $4 with its log files $5 (a glob),
# started at $6 ($EPOCHREALTIME), and record them in units.tsv, from which
# scripts/check-results.py makes the table, the totals and junit.xml.
tally() {
    local unit=$1 file=$2 require_done=$3 kern=$4 log=$5 start=$6 counts
    local p f s secs
    counts=$("$top/scripts/tap-summary.sh" "$file" "$require_done")
    read -r p f s <<<"$counts"
    secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$unit" "$kern" \
        "${file#"$results_root"/}" "$require_done" "$secs" "$p" "$f" "$s" \
        "$log" >>"$results_root/units.tsv"
}

# Record how long build $1 took since $2 ($EPOCHREALTIME): the shards'
# balance counts a build once per shard that needs it.
record_build() {
    awk -v n="$1" -v a="$2" -v b="$EPOCHREALTIME" \
        'BEGIN { printf "%s\t%.1f\n", n, b - a }' >>"$results_root/builds.tsv"
}

run_guest() {
    local unit=$1 name=$2 start=$EPOCHREALTIME rel
    step "boot: $name (kernel $KERNEL_LABEL)"
    boot_config "$name"
    grep -E '^(ok|not ok|# )' "$results/$name/results.tap" | grep -v '^# program\|^# exit' || true
    rel=${results#"$results_root"}
    rel=${rel#/}
    tally "$unit" "$results/$name/results.tap" 1 "$KERNEL_LABEL" \
        "${rel:+$rel/}$name/console.log" "$start"
}

# Run every dmalab qtest of one QEMU build against that build's binary.
# $1: the results row (qtest or qtest-asan), $2: the build directory,
# $3: the QEMU binary.
run_qtests() {
    local label=$1 qbuild=$2 qbin=$3
    local dir=$results_root/$label rc t
    rm -rf "$dir"
    mkdir -p "$dir"
    for t in "$qbuild"/tests/qtest/dmalab-*test; do
        rc=0
        t=$(basename "$t")
        (cd "$qbuild" &&
            QTEST_QEMU_BINARY=$qbin timeout -k 5 600 \
                "./tests/qtest/$t" --tap) >"$dir/$t.tap" 2>"$dir/$t.stderr" || rc=$?
        if [ "$rc" != 0 ]; then
            echo "not ok - $t exited with status $rc" >>"$dir/$t.tap"
            tail -n 20 "$dir/$t.stderr" >&2
        fi
        cat "$dir/$t.tap" >>"$dir/results.tap"
    done
}

# The qtests on QEMU $2 (unit $1); Debian's results keep their old place.
run_qtests_plain() {
    local start row=qtest
    use_qemu "$2"
    start=$EPOCHREALTIME
    [ "$2" = debian ] || row=qtest-$QEMU_LABEL
    step "host tests: qtest on QEMU $QEMU_LABEL"
    run_qtests "$row" "$qemu_build" "$qemu"
    grep -E '^(ok|not ok)' "$results_root/$row/results.tap" || true
    tally "$1" "$results_root/$row/results.tap" 0 "$QEMU_LABEL" "$row/*.stderr" "$start"
}

# The same qtests against a QEMU built with AddressSanitizer and UBSan.  A
# report stops QEMU (and fails the test that was running); the stderr of
# every test is searched for reports as well, so none goes unnoticed.
run_qtests_asan() {
    local dir=$results_root/qtest-asan reports start=$EPOCHREALTIME
    step "host tests: qtest under AddressSanitizer and UBSan"
    "$top/scripts/build-qemu.sh" asan
    record_build "build/qemu-asan/$ARCH/debian" "$start"
    start=$EPOCHREALTIME
    ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:fast_unwind_on_malloc=0 \
    LSAN_OPTIONS=suppressions=$top/scripts/qemu-lsan.supp:print_suppressions=0 \
    UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1 \
        run_qtests qtest-asan "$build/qemu/build-asan" \
            "$build/qemu/bin-asan/qemu-system-x86_64"
    reports=$(cat "$dir"/*.stderr | grep -cE \
        'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' || true)
    if [ "$reports" = 0 ]; then
        echo "ok - no sanitizer report in any qtest" >>"$dir/results.tap"
    else
        echo "not ok - $reports sanitizer reports (see $dir/*.stderr)" >>"$dir/results.tap"
        grep -hE -A 12 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' \
            "$dir"/*.stderr | head -n 60 >&2
    fi
    grep -E '^(ok|not ok)' "$dir/results.tap" || true
    tally "$1" "$dir/results.tap" 0 - 'qtest-asan/*.stderr' "$start"
}

# The device's style: QEMU $2's own checkpatch (unit $1).
run_lint_device() {
    local row=lint dir start
    use_qemu "$2"
    start=$EPOCHREALTIME
    [ "$2" = debian ] || row=lint-$QEMU_LABEL
    dir=$results_root/$row
    step "host tests: device style (checkpatch of QEMU $QEMU_LABEL)"
    rm -rf "$dir"
    mkdir -p "$dir"
    # The series is checked as upstream would check it: patch by patch.
    local -a what=("$qemu_src")
    [ "$2" != series ] || what=(--patches "$QEMU_OUT/patches" "$qemu_src")
    "$top/scripts/lint-device.sh" "${what[@]}" >"$dir/results.tap" 2>"$dir/stderr.log" ||
        echo "not ok - lint-device.sh exited with status $?" >>"$dir/results.tap"
    grep -E '^(ok|not ok|# )' "$dir/results.tap" || true
    tally "$1" "$dir/results.tap" 0 "$QEMU_LABEL" "$row/stderr.log" "$start"
}

# The driver's style and warnings on the current kernel: that kernel's
# checkpatch --strict, sparse and a W=1 build.
run_lint_driver() {
    local dir=$results_root/lint-driver start=$EPOCHREALTIME rel
    [ "$KERNEL_ID" = debian ] || dir=$results_root/$KERNEL_LABEL/lint-driver
    [ "$ARCH" = x86_64 ] || dir=$results_root/$ARCH/$KERNEL_LABEL/lint-driver
    step "host tests: driver style on $KERNEL_LABEL (checkpatch --strict, sparse, W=1)"
    rm -rf "$dir"
    mkdir -p "$dir"
    CROSS_COMPILE=$kernel_cross_compile \
    "$top/scripts/lint-driver.sh" "$kheaders" "$KERNEL_SRC" "$mesondir/kbuild/kbuild.log" \
        >"$dir/results.tap" 2>"$dir/stderr.log" ||
        echo "not ok - lint-driver.sh exited with status $?" >>"$dir/results.tap"
    grep -E '^(ok|not ok|# )' "$dir/results.tap" || true
    rel=${dir#"$results_root"/}
    tally "$1" "$dir/results.tap" 0 "$KERNEL_LABEL" "$rel/stderr.log" "$start"
}

# The check's own machinery: --list, --shard and the JUnit report, tested
# against this very script (scripts/test-check-matrix.py).
run_selftest() {
    local dir=$results_root/selftest start=$EPOCHREALTIME
    step "host tests: the check's list, shards, JUnit report and merge"
    rm -rf "$dir"
    mkdir -p "$dir"
    python3 "$top/scripts/test-check-matrix.py" >"$dir/results.tap" \
        2>"$dir/stderr.log" ||
        echo "not ok - test-check-matrix.py exited with status $?" >>"$dir/results.tap"
    grep -E '^(ok|not ok)' "$dir/results.tap" || true
    tally "$1" "$dir/results.tap" 0 - selftest/stderr.log "$start"
}

# The run's JUnit file, written and read back (a row of its own), then the
# table, the failed cases and the totals line; fails unless all passed.
finish_run() {
    local dir=$results_root/report start=$EPOCHREALTIME
    rm -rf "$dir"
    mkdir -p "$dir"
    python3 "$top/scripts/check-results.py" junit "$results_root" \
        >"$dir/results.tap" 2>&1 || true
    tally report/junit "$dir/results.tap" 0 - "" "$start"
    echo
    python3 "$top/scripts/check-results.py" merge "$results_root"
}

# Programs of the user's own (C files $3..) built for the guest into the
# staging tree $1 (its usr/bin), with the compiler of architecture $ARCH, and
# the staging tree packed as cpio archive $2: put after the initramfs, the
# kernel unpacks both into the same root.
guest_overlay() {
    local stage=$1 archive=$2 f cc=gcc
    shift 2
    [ "$ARCH" = "$(uname -m)" ] || cc=${kernel_cross_compile}gcc
    mkdir -p "$stage/usr/bin"
    for f in "$@"; do
        "$cc" -static -O2 -Wall -Wextra -I"$top/include" \
            -o "$stage/usr/bin/$(basename "${f%.c}")" "$f" || {
            echo "run-vm.sh: cannot build $f for $ARCH" >&2
            exit 1
        }
    done
    (cd "$stage" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) \
        >"$archive"
}

# Lab run $2 (scripts/labs.py) in configuration $3, as unit $1: its steps,
# cut from docs/labs.md, go into the guest as /etc/dmalab/lab.sh in a second
# cpio archive after the initramfs (the kernel unpacks both), with the
# programs the lab adds, and the guest's output is held to the lab's
# expectations.
run_lab() {
    local unit=$1 id=$2 name=$3 dir=$results_root/labs/$2 start=$EPOCHREALTIME
    local stage base_initrd=$initrd
    local -a lab_adds
    step "lab: $id in $name (kernel $KERNEL_LABEL)"
    stage=$(mktemp -d)
    mkdir -p "$stage/etc/dmalab"
    python3 "$top/scripts/labs.py" script "$top/docs/labs.md" "$id" \
        "$stage/etc/dmalab/lab.sh"
    mapfile -t lab_adds < <(python3 "$top/scripts/labs.py" adds "$top/docs/labs.md" "$id")
    guest_overlay "$stage" "$build/lab.cpio.gz" "${lab_adds[@]/#/$top/}"
    rm -rf "$stage"
    cat "$base_initrd" "$build/lab.cpio.gz" >"$build/initramfs-lab.cpio.gz"
    initrd=$build/initramfs-lab.cpio.gz boot_mode=lab boot_config "$name" "$dir"
    python3 "$top/scripts/labs.py" verify "$top/docs/labs.md" "$id" \
        "$dir/results.tap" >"$dir/lab.tap" || true
    # the boot's own verdicts (a timeout, a kernel report) count too
    grep '^not ok - ' "$dir/results.tap" >>"$dir/lab.tap" || true
    grep -E '^(ok|not ok|# )' "$dir/lab.tap" || true
    tally "$unit" "$dir/lab.tap" 0 "$KERNEL_LABEL" "labs/$id/console.log" "$start"
}

# Run the lab runs listed on standard input ("ID ARCH CONFIG" lines) on
# QEMU $1 and kernel $2 ($3: 1 for its debug build), bringing up each
# architecture's stack as the list reaches it (Lab 11 is arm64's).
run_labs() {
    local id lab_arch name stack=""
    while read -r id lab_arch name; do
        if [ "$lab_arch" != "$stack" ]; then
            ARCH=$lab_arch
            use_qemu "$1"
            use_kernel "$2" "$3"
            choose_accel >/dev/null
            stack=$lab_arch
        fi
        run_lab "lab/$ARCH/$id" "$id" "$name"
    done
}

# The benchmark (docs/performance.md) as unit $1, mode $2 (full or quick),
# on the QEMU and kernel already in use: the host's memcpy around one boot
# of the bench configuration, whose guest runs dmalab_perf alone (a second
# cpio archive names it the only test, and brings fio, built from Debian's
# source, and NVMe's modules from the guest kernel's own package), then
# scripts/bench.py's table, CSV, JSON and plots.
run_bench() {
    local unit=$1 mode=$2 dir=$results_root/bench start=$EPOCHREALTIME
    local stage tool=$build/tools/host-memcpy image trials=5 secs=0.3 rc=0 fio
    local -a sizes=(4096 65536 1048576 4194304 16777216 67108864)
    step "bench: $mode (kernel $KERNEL_LABEL, QEMU ${QEMU_LABEL:-debian})"
    if [ "$mode" = quick ]; then
        trials=1
        secs=0.05
        sizes=(4096 65536 1048576)
    fi
    mkdir -p "$build/tools"
    if [ ! -x "$tool" ] || [ "$top/scripts/host-memcpy.c" -nt "$tool" ]; then
        gcc -O2 -Wall -Wextra -Werror -o "$tool" "$top/scripts/host-memcpy.c"
    fi
    fio=$("$top/scripts/build-fio.sh")
    stage=$(mktemp -d)
    mkdir -p "$stage/usr/bin" "$stage/etc/dmalab" "$stage/lib/modules"
    cp "$mesondir/guest-tests/dmalab_perf" "$stage/usr/bin/"
    cp "$fio" "$stage/usr/bin/fio"
    echo dmalab_perf >"$stage/etc/dmalab/tests"
    # NVMe's driver from the guest kernel's package; a kernel built here
    # has no package, and its run has no NVMe baseline.
    if [ "$KERNEL_ID" = debian ] && [ "$ARCH" = x86_64 ]; then
        "$top/scripts/guest-modules.sh" "linux-image-$KERNEL_RELEASE" \
            "$build/kernel/bench-modules-$KERNEL_RELEASE" nvme
        cp -r "$build/kernel/bench-modules-$KERNEL_RELEASE" "$stage/lib/modules/bench"
    fi
    (cd "$stage" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) \
        >"$build/bench.cpio.gz"
    rm -rf "$stage"
    cat "$initrd" "$build/bench.cpio.gz" >"$build/initramfs-bench.cpio.gz"
    # RAM-backed: the NVMe model reads a file in /dev/shm (tmpfs)
    image=$(mktemp /dev/shm/dmalab-bench-nvme.XXXXXX)
    dd if=/dev/zero of="$image" bs=1M count=256 status=none
    mkdir -p "$dir"
    "$tool" "$trials" "$secs" 0 "${sizes[@]}" >"$dir.host-before"
    BENCH_MODE=$mode BENCH_NVME_IMAGE=$image initrd=$build/initramfs-bench.cpio.gz \
        boot_config bench "$dir"
    "$tool" "$trials" "$secs" "$trials" "${sizes[@]}" >>"$dir.host-before"
    mv "$dir.host-before" "$dir/host-memcpy.txt"
    rm -f "$image"
    grep -E '^(ok|not ok)' "$dir/results.tap" || true
    # Debian's own Python, which has the python3-matplotlib that
    # install-deps.sh installs (a python3 earlier on PATH may not)
    /usr/bin/python3 "$top/scripts/bench.py" "$dir" | tee "$dir/table.txt" || rc=$?
    if [ "$rc" = 0 ] && [ -s "$dir/summary.json" ] && [ -s "$dir/results.csv" ] &&
        [ -s "$dir/throughput.png" ] && [ -s "$dir/oprate.png" ]; then
        echo "ok - bench.py: the trials, summary.json and plots written" >>"$dir/results.tap"
    else
        echo "not ok - bench.py: the trials, summary.json and plots written" >>"$dir/results.tap"
    fi
    tally "$unit" "$dir/results.tap" 1 "$KERNEL_LABEL" "bench/console.log" "$start"
}

# --gdb: how to attach gdb, with the kernel's own helpers (scripts/gdb,
# through vmlinux-gdb.py beside vmlinux) loading the driver's symbols.
gdb_hint() {
    local obj
    if [ -z "$KERNEL_VMLINUX" ] || [ ! -f "$KERNEL_VMLINUX" ]; then
        echo "run-vm.sh: --gdb needs a kernel built here (--kernel latest or PATH):" \
            "$KERNEL_LABEL has no vmlinux with symbols" >&2
        exit 2
    fi
    obj=$(dirname "$KERNEL_VMLINUX")
    cat <<GDB
QEMU waits for gdb on localhost:1234.  In another terminal:

  gdb -iex 'add-auto-load-safe-path $obj' -ex 'file $KERNEL_VMLINUX' \\
      -ex 'target remote :1234' -ex 'hbreak do_init_module' -ex continue

It stops when the guest loads the driver; load its symbols with the
kernel's own helper (scripts/gdb), then break in the driver:

  (gdb) lx-symbols $mesondir
  (gdb) delete 1
  (gdb) break dmalab_queue_irq
  (gdb) continue

and run a test program in the guest's shell (dmalab_roundtrip, say).
docs/driver-guide.md walks one session.
GDB
}

# ---- Units of the check -----------------------------------------------------

# A tier of check: "arch:qemu:kernel:[debug]:config config...".
tier_arch() { echo "${1%%:*}"; }
tier_qemu() { local r=${1#*:}; echo "${r%%:*}"; }
tier_kernel() { local r=${1#*:*:}; echo "${r%%:*}"; }
tier_debug() { local r=${1#*:*:*:}; [ "${r%%:*}" = debug ] && echo 1 || echo 0; }
tier_configs() { echo "${1#*:*:*:*:}"; }

# A source tree's part of a unit's name: tree-<its directory's name>.
tree_tag() {
    echo "tree-$(basename "$(realpath -m "$1")" | tr -c 'A-Za-z0-9._\n-' -)"
}

# The QEMU's part of a unit's name: debian, stable, latest, or tree-<dir>.
qemu_tag() {
    case "$1" in
    debian|stable|latest|series) echo "$1" ;;
    *) tree_tag "$1" ;;
    esac
}

# The kernel's part of a unit's name: debian, lts, latest, or tree-<dir>
# for a kernel tree, with -debug for kernel/debug.config.
kernel_tag() {
    local tag=$1
    case "$1" in
    debian|lts|latest) ;;
    *) tag=$(tree_tag "$1") ;;
    esac
    [ "$2" = 1 ] && tag=$tag-debug
    echo "$tag"
}

tier_tag=""
[ "$kernel_debug" = 1 ] && tier_tag=debug
arch_configs_line=$(arch_configs "$ARCH" | tr '\n' ' ')
if [ "$kernel_given" = 1 ] || [ "$kernel_debug" = 1 ]; then
    # One kernel (on one QEMU), every configuration, and no host-side test.
    check_qemus=()
    tiers=("$ARCH:$qemu_name:$kernel_name:$tier_tag:${arch_configs_line% }")
elif [ "$qemu_given" = 1 ]; then
    # One QEMU: its qtests and style (they run on x86_64), and Debian's
    # kernel on it.
    check_qemus=("$qemu_name")
    [ "$ARCH" = x86_64 ] || check_qemus=()
    tiers=("$ARCH:$qemu_name:debian::${arch_configs_line% }")
elif [ "$arch_given" = 1 ]; then
    # One architecture: its tiers, and no host-side test.
    check_qemus=()
    tiers=()
    for tier in "${CHECK_TIERS[@]}"; do
        [ "$(tier_arch "$tier")" = "$ARCH" ] && tiers+=("$tier")
    done
else
    check_qemus=("${CHECK_QEMUS[@]}")
    tiers=("${CHECK_TIERS[@]}")
fi

# The guest architectures this run boots, one per line.
run_arches() {
    local tier
    if [ "$command" != check ]; then
        echo "$ARCH"
        return
    fi
    for tier in "${tiers[@]}"; do
        tier_arch "$tier"
    done | sort -u
}

# The lab runs of docs/labs.md that check runs: "ID ARCH CONFIG" lines.
# They run on Debian's QEMU and kernel, as a student's first boot does, so
# only when the check is not narrowed to another kernel or QEMU; --arch
# keeps its architecture's.
check_labs() {
    local id lab_arch name
    [ "$kernel_given" = 0 ] && [ "$kernel_debug" = 0 ] &&
        [ "$qemu_given" = 0 ] || return 0
    python3 "$top/scripts/labs.py" list "$top/docs/labs.md" |
        while read -r id lab_arch name; do
            [ "$arch_given" = 0 ] || [ "$lab_arch" = "$ARCH" ] || continue
            echo "$id $lab_arch $name"
        done
}

# Every unit of the check, in the order it runs them, with stable names:
#   qtest/ARCH/QEMU  lint/device/QEMU  selftest/check-matrix
#   lint/driver/ARCH/KERNEL  boot/ARCH/QEMU/KERNEL/CONFIG  lab/ARCH/LAB-RUN
#   bench/ARCH/quick  qtest-asan/ARCH/debian
# The driver's style is checked once per kernel, with its first tier.
all_units() {
    local tier tag q c a seen=" "
    for q in "${check_qemus[@]}"; do
        echo "qtest/x86_64/$(qemu_tag "$q")"
    done
    for q in "${check_qemus[@]}"; do
        echo "lint/device/$(qemu_tag "$q")"
    done
    if [ "${check_qemus[*]}" = "${CHECK_QEMUS[*]}" ]; then
        echo selftest/check-matrix
    fi
    for tier in "${tiers[@]}"; do
        a=$(tier_arch "$tier")
        tag=$(kernel_tag "$(tier_kernel "$tier")" "$(tier_debug "$tier")")
        if [[ $seen != *" $a/$tag "* ]]; then
            echo "lint/driver/$a/$tag"
            seen="$seen$a/$tag "
        fi
        q=$(qemu_tag "$(tier_qemu "$tier")")
        for c in $(tier_configs "$tier"); do
            echo "boot/$a/$q/$tag/$c"
        done
    done
    check_labs | while read -r id a c; do
        echo "lab/$a/$id"
    done
    check_bench
    # Last: its build (six minutes) is made in the background meanwhile.
    if [ "${check_qemus[*]}" = "${CHECK_QEMUS[*]}" ]; then
        echo "qtest-asan/x86_64/debian"
    fi
}

# The benchmark's quick run, on Debian's QEMU and kernel like the labs:
# it proves the benchmark works and asserts nothing about speed.
check_bench() {
    [ "$kernel_given" = 0 ] && [ "$kernel_debug" = 0 ] &&
        [ "$qemu_given" = 0 ] || return 0
    [ "$arch_given" = 0 ] || [ "$ARCH" = x86_64 ] || return 0
    echo "bench/x86_64/quick"
}

# Whether unit $1 is one --only names: a pattern matches the whole name as a
# glob, or, without a slash, any one part of it.
only_names() {
    local unit=$1 pat part
    [ -z "$only" ] && return 0
    local -a pats parts
    IFS=, read -r -a pats <<<"$only"
    IFS=/ read -r -a parts <<<"$unit"
    for pat in "${pats[@]}"; do
        # shellcheck disable=SC2053 # a glob on purpose
        [[ $unit == $pat ]] && return 0
        if [[ $pat != */* ]]; then
            for part in "${parts[@]}"; do
                # shellcheck disable=SC2053
                [[ $part == $pat ]] && return 0
            done
        fi
    done
    return 1
}

# The units --only names.
named_units() {
    local u
    all_units | while read -r u; do
        if only_names "$u"; then echo "$u"; fi
    done
}

# The units this run will run: the ones --only names, then --shard's part.
select_units() {
    named_units | if [ -n "$shard" ]; then
        python3 "$top/scripts/shard-units.py" "$shard"
    else
        cat
    fi
}

declare -A selected=()
if [ "$command" = check ]; then
    if [ -z "$(named_units)" ]; then
        echo "run-vm.sh: --only '$only' names no unit (./run-vm.sh check --list shows them)" >&2
        exit 2
    fi
    units=$(select_units) || exit 2
    if [ "$list" = 1 ]; then
        [ -z "$units" ] || printf '%s\n' "$units"
        exit 0
    fi
    if [ -z "$units" ]; then
        echo "run-vm.sh: shard $shard has no unit to run"
        exit 0
    fi
    while read -r u; do
        selected[$u]=1
    done <<<"$units"
fi
wanted() { [ -n "${selected[$1]:-}" ]; }

# ---- Builds ahead of their tiers -------------------------------------------

# A guest under TCG keeps one of the two cores busy, and a check spends most
# of its time in guests and qtests.  The long builds of the later tiers (a
# kernel from source, another architecture's QEMU) therefore start at the
# beginning, in the background at the lowest priority, and use the core the
# foreground leaves.  The build scripts lock each build directory: the tier
# that needs one waits there, says so, and finds it done.  A build that
# failed in the background is simply built again by its tier, which shows
# the error.  A tier whose units come first gains nothing and is left alone.
prebuild_pid=""
prebuild_log=$build/prebuild.log

# The background builds of this run, a line each: the command's words.
prebuild_jobs() {
    local tier a k q d tag c u n=0 first
    local -A index=() seen=()
    while read -r u; do
        index[$u]=$n
        n=$((n + 1))
    done <<<"$units"
    for tier in "${tiers[@]}"; do
        a=$(tier_arch "$tier")
        k=$(tier_kernel "$tier")
        q=$(tier_qemu "$tier")
        d=$(tier_debug "$tier")
        tag=$(kernel_tag "$k" "$d")
        first=""
        for u in "lint/driver/$a/$tag" $(for c in $(tier_configs "$tier"); do
                echo "boot/$a/$(qemu_tag "$q")/$tag/$c"; done); do
            [ -n "${index[$u]:-}" ] || continue
            if [ -z "$first" ] || [ "${index[$u]}" -lt "$first" ]; then
                first=${index[$u]}
            fi
        done
        [ -n "$first" ] && [ "$first" -gt 0 ] || continue
        case "$k" in
        debian|lts) ;;
        *)
            if [ -z "${seen[kernel $a $k $d]:-}" ]; then
                seen[kernel $a $k $d]=1
                echo "$top/scripts/kernel.sh --arch $a $k$([ "$d" = 1 ] && echo ' --debug')"
            fi ;;
        esac
        if [ "$a" != "$(uname -m)" ] && [ -z "${seen[qemu $a $q]:-}" ]; then
            seen[qemu $a $q]=1
            echo "$top/scripts/build-qemu.sh --qemu $q --arch $a plain"
        fi
    done
    if [ "${index[qtest-asan/x86_64/debian]:-0}" -gt 0 ]; then
        echo "$top/scripts/build-qemu.sh --qemu debian asan"
    fi
}

prebuild_start() {
    local jobs
    jobs=$(prebuild_jobs)
    [ -n "$jobs" ] || return 0
    echo "building ahead, in the background at the lowest priority (log: $prebuild_log):"
    sed 's|^'"$top"'/|  |' <<<"$jobs"
    # A process group of its own (job control), so that all of it can be
    # stopped.  Not a session of its own (setsid): Linux's autogroup would
    # give a new session an equal share of the CPUs, whatever its nice.
    set -m
    # shellcheck disable=SC2016 # expanded by the inner shell
    bash -c 'while read -r -a job; do
            echo "==> ${job[*]}"
            nice -n 19 "${job[@]}" >/dev/null || echo "==> failed: ${job[*]}"
        done <<<"$1"' prebuild "$jobs" >"$prebuild_log" 2>&1 </dev/null &
    prebuild_pid=$!
    set +m
    trap prebuild_stop EXIT
}

prebuild_stop() {
    [ -n "$prebuild_pid" ] || return 0
    kill -TERM -- "-$prebuild_pid" 2>/dev/null || true
    prebuild_pid=""
}

# ---- Main ------------------------------------------------------------------

# One run at a time per build directory: runs share the build and results.
mkdir -p "$build"
exec 9>"$build/.run-vm.lock"
if ! flock -n 9; then
    echo "run-vm.sh: another run is using $build; waiting for it"
    flock 9
fi

if [ "$command" = fuzz ]; then
    if [ "$deps" = 1 ]; then
        "$top/scripts/install-deps.sh" fuzz
    fi
    exec "$top/scripts/fuzz.sh" "$fuzz_time"
fi

# This run's results are the only ones its table, totals and JUnit file
# count; other units' directories from earlier runs stay as they were.
mkdir -p "$results_root"
: >"$results_root/units.tsv"
: >"$results_root/builds.tsv"

build_host
[ "$command" != check ] || prebuild_start

if [ "$command" = run ] || [ "$command" = labs ] || [ "$command" = bench ] ||
    [ "$shell" = 1 ]; then
    use_kernel "$kernel_name" "$kernel_debug"
    choose_accel
fi
if [ ${#adds[@]} -gt 0 ]; then
    [ "$command" = run ] ||
        { echo "run-vm.sh: --add goes with a boot (./run-vm.sh or --shell)" >&2; exit 2; }
    stage=$(mktemp -d)
    guest_overlay "$stage" "$build/added.cpio.gz" "${adds[@]}"
    rm -rf "$stage"
    cat "$initrd" "$build/added.cpio.gz" >"$build/initramfs-added.cpio.gz"
    initrd=$build/initramfs-added.cpio.gz
    echo "added to the guest's PATH: $(for f in "${adds[@]}"; do basename "${f%.c}"; done | tr '\n' ' ')"
fi
run_tag=$(kernel_tag "$kernel_name" "$kernel_debug")

if [ "$shell" = 1 ]; then
    mapfile -t cmd < <(qemu_cmdline "$config" shell)
    cmd+=(-serial mon:stdio)
    if [ "$gdb" = 1 ]; then
        gdb_hint
        cmd+=(-s -S)
    fi
    echo "+ ${cmd[*]}"
    echo "(leave with 'poweroff -f', or Ctrl-A X; the session ends after ${timeout_s:-$SHELL_TIMEOUT}s)"
    exec timeout --foreground "${timeout_s:-$SHELL_TIMEOUT}" "${cmd[@]}"
fi

if [ "$command" = labs ]; then
    # --arch keeps one architecture's labs.
    while read -r id lab_arch name; do
        # shellcheck disable=SC2053 # a glob on purpose
        [ -z "$only" ] || [[ $id == $only ]] || continue
        [ "$arch_given" = 0 ] || [ "$lab_arch" = "$ARCH" ] || continue
        echo "$id $lab_arch $name"
    done < <(python3 "$top/scripts/labs.py" list "$top/docs/labs.md") |
        run_labs "$qemu_name" "$kernel_name" "$kernel_debug"
    finish_run
    exit
fi

if [ "$command" = run ]; then
    run_guest "boot/$ARCH/$(qemu_tag "$qemu_name")/$run_tag/$config" "$config"
    finish_run
    exit
fi

if [ "$command" = bench ]; then
    run_bench "bench/$ARCH/$bench_mode" "$bench_mode"
    finish_run
    exit
fi

# check
# The host tests drive x86_64 QEMUs.
ARCH=x86_64
for q in "${check_qemus[@]}"; do
    unit=qtest/$ARCH/$(qemu_tag "$q")
    if wanted "$unit"; then run_qtests_plain "$unit" "$q"; fi
done
for q in "${check_qemus[@]}"; do
    unit=lint/device/$(qemu_tag "$q")
    if wanted "$unit"; then run_lint_device "$unit" "$q"; fi
done
if wanted selftest/check-matrix; then run_selftest selftest/check-matrix; fi
for tier in "${tiers[@]}"; do
    ARCH=$(tier_arch "$tier")
    tag=$(kernel_tag "$(tier_kernel "$tier")" "$(tier_debug "$tier")")
    q=$(qemu_tag "$(tier_qemu "$tier")")
    want_boot=0
    for name in $(tier_configs "$tier"); do
        wanted "boot/$ARCH/$q/$tag/$name" && want_boot=1
    done
    [ "$want_boot" = 1 ] || wanted "lint/driver/$ARCH/$tag" || continue
    # The driver's style needs the kernel only, not the tier's QEMU.
    [ "$want_boot" = 0 ] || use_qemu "$(tier_qemu "$tier")"
    use_kernel "$(tier_kernel "$tier")" "$(tier_debug "$tier")"
    choose_accel >/dev/null
    if wanted "lint/driver/$ARCH/$tag"; then
        run_lint_driver "lint/driver/$ARCH/$tag"
        selected[lint/driver/$ARCH/$tag]=""
    fi
    for name in $(tier_configs "$tier"); do
        unit=boot/$ARCH/$q/$tag/$name
        if wanted "$unit"; then run_guest "$unit" "$name"; fi
    done
done
# The labs, each run in its configuration and held to what its text says.
check_labs | while read -r id lab_arch name; do
    if wanted "lab/$lab_arch/$id"; then echo "$id $lab_arch $name"; fi
done | run_labs debian debian 0
if wanted bench/x86_64/quick; then
    ARCH=x86_64
    use_qemu debian
    use_kernel debian 0
    choose_accel >/dev/null
    run_bench bench/x86_64/quick quick
fi
if wanted qtest-asan/x86_64/debian; then
    ARCH=x86_64
    run_qtests_asan qtest-asan/x86_64/debian
fi
finish_run
