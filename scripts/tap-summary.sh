#!/usr/bin/env bash
# Count a TAP stream's results: prints "passed failed skipped" on stdout and
# a line for every failure on stderr.
#
# Besides "ok" / "not ok" lines it understands the guest init's markers:
# "# exit: <program> <status>" (a program that exits non-zero without a
# failing case counts as one failure, as does one that stops short of its
# plan) and DMALAB-DONE (its absence means the guest never finished).
#
# usage: tap-summary.sh <results> [require-done]
set -euo pipefail

awk -v require_done="${2:-0}" '
function close_program() {
    if (prog == "")
        return
    if (plan >= 0 && seen < plan) {
        printf "  missing: %s ran %d of %d cases\n", prog, seen, plan > "/dev/stderr"
        failed++
    }
    prog = ""
}
BEGIN { passed = 0; failed = 0; skipped = 0; done = 0; prog = ""; plan = -1 }
{ sub(/\r$/, "") }
/^# program: / { close_program(); prog = $3; plan = -1; seen = 0; pfail = 0; next }
/^1\.\.[0-9]+/ { split($1, p, "\\.\\."); plan = p[2] + 0; next }
/^ok / {
    seen++
    if ($0 ~ /# [Ss][Kk][Ii][Pp]/) skipped++; else passed++
    next
}
/^not ok / {
    seen++
    if ($0 ~ /# [Tt][Oo][Dd][Oo]/) { skipped++; next }
    failed++; pfail++
    printf "  failed: %s%s\n", (prog == "" ? "" : prog ": "), $0 > "/dev/stderr"
    next
}
/^# exit: / {
    if ($4 != 0 && pfail == 0) {
        printf "  failed: %s exited with status %s\n", $3, $4 > "/dev/stderr"
        failed++
    }
    close_program()
    next
}
/^DMALAB-DONE/ { done = 1 }
END {
    close_program()
    if (require_done && !done) {
        print "  failed: the guest did not report completion" > "/dev/stderr"
        failed++
    }
    printf "%d %d %d\n", passed, failed, skipped
}' "$1"
