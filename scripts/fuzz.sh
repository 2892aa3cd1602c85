#!/usr/bin/env bash
# Fuzz the dmalab device with QEMU's generic-fuzz target and libFuzzer.
#
# generic-fuzz drives the device's BARs, its MSI-X table and its PCI
# configuration space from the fuzzer's input, and answers every DMA read
# the device makes from that input as well, so descriptors, SG tables and
# rings are fuzzed along with the registers.  The QEMU under test is built
# with AddressSanitizer and UBSan (scripts/build-qemu.sh fuzz): a memory
# error, undefined behaviour, an assert or a hang is a crash.
#
# Each configuration of qemu-device/tests/dmalab-fuzz-config.h gets an equal
# share of the time.  The corpus of each lives in build/fuzz/<config>/corpus
# and grows from run to run.  Every crash is kept with what it takes to
# replay it:
#   build/fuzz/<config>/crash-<sha1>          the fuzzer's input
#   build/fuzz/<config>/crash-<sha1>.qtest    the same as qtest commands
#   build/fuzz/<config>/crash-<sha1>.sh       replays them against
#                                             qemu-system-x86_64
# A crash becomes a regression case in qemu-device/tests/dmalab-test.c.
#
# usage: fuzz.sh SECONDS
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${DMALAB_BUILD:-$top/build}
seconds=${1:?usage: fuzz.sh SECONDS}
configs=(dmalab dmalab-intx)

"$top/scripts/build-qemu.sh" fuzz
"$top/scripts/build-qemu.sh" plain
fuzzer=$build/qemu/build-fuzz/qemu-fuzz-x86_64
qemu=$build/qemu/bin/qemu-system-x86_64
reorder=$build/qemu/src/scripts/oss-fuzz/reorder_fuzzer_qtest_trace.py
share=$((seconds / ${#configs[@]}))
[ "$share" -ge 1 ] || share=1

# The QEMU command line of a configuration, from the header itself.
config_args() {
    awk -v name="$1" '
        $0 ~ "\\.name = \"" name "\"" { found = 1; next }
        found && /\.args/ { collecting = 1 }
        collecting {
            while (match($0, /"[^"]*"/)) {
                args = args substr($0, RSTART + 1, RLENGTH - 2)
                $0 = substr($0, RSTART + RLENGTH)
            }
            if ($0 ~ /,[ \t]*$/) { print args; exit }
        }' "$top/qemu-device/tests/dmalab-fuzz-config.h"
}

# Turn one crashing input into qtest commands and a replay script.
write_reproducer() {
    local config=$1 crash=$2 args
    args=$(config_args "$config")
    # The fuzzer prints the qtest commands it runs ("[E] ..." lines).
    QTEST_LOG=1 FUZZ_SERIALIZE_QTEST=1 timeout -k 5 60 "$fuzzer" \
        --fuzz-target="generic-fuzz-$config" "$crash" 2>&1 |
        grep '^\[E\]' >"$crash.trace" || true
    python3 "$reorder" "$crash.trace" >"$crash.qtest" 2>/dev/null ||
        sed 's/^\[E\] [0-9.]*:* *//' "$crash.trace" >"$crash.qtest"
    rm -f "$crash.trace"
    cat >"$crash.sh" <<EOF
#!/bin/sh
# Replays $(basename "$crash") ($config) against the plain build.
exec "$qemu" $args -display none -qtest stdio -accel qtest <"$crash.qtest"
EOF
    chmod +x "$crash.sh"
}

total_crashes=0
for config in "${configs[@]}"; do
    dir=$build/fuzz/$config
    mkdir -p "$dir/corpus"
    echo "fuzz: generic-fuzz-$config for ${share}s (corpus: $dir/corpus)"
    rc=0
    # libFuzzer stops at the first crash: run until the time is used up,
    # keeping every crash.
    end=$((SECONDS + share))
    while [ "$SECONDS" -lt "$end" ]; do
        rc=0
        (cd "$dir" && timeout -k 10 $((end - SECONDS + 60)) "$fuzzer" \
            --fuzz-target="generic-fuzz-$config" \
            -max_total_time=$((end - SECONDS)) -timeout=10 \
            -artifact_prefix="$dir/" -print_final_stats=1 \
            "$dir/corpus") >"$dir/fuzz.log" 2>&1 || rc=$?
        grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb)|^cov:' \
            "$dir/fuzz.log" | tail -n 3 || true
        [ "$rc" = 0 ] && break
        # A crash (or a timeout, or an out-of-memory): keep its log too.
        latest=$(ls -t "$dir"/crash-* "$dir"/timeout-* "$dir"/oom-* 2>/dev/null |
                 grep -vE '\.(qtest|sh|log)$' | head -n 1 || true)
        if [ -z "$latest" ]; then
            echo "fuzz: the fuzzer failed without a crash input (status $rc):" >&2
            tail -n 20 "$dir/fuzz.log" >&2
            exit 1
        fi
        cp "$dir/fuzz.log" "$latest.log"
        write_reproducer "$config" "$latest"
        echo "fuzz: CRASH $latest (replay: $latest.sh)"
    done
    n=$(find "$dir" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'timeout-*' \
            -o -name 'oom-*' \) ! -name '*.*' | wc -l)
    total_crashes=$((total_crashes + n))
    echo "fuzz: $config: $(find "$dir/corpus" -type f | wc -l) inputs in the corpus, $n crashes kept"
done
echo "fuzz: $total_crashes crashes in all"
[ "$total_crashes" = 0 ]
