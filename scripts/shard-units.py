#!/usr/bin/env python3
"""Pick the I-th of N balanced shards of the check's units.

usage: shard-units.py I/N [--times FILE] [--verbose] < units

The units come on standard input, one name per line, in the order the check
runs them; the shard's units go to standard output in that same order.  A
unit costs its own run time plus the builds it needs that its shard does not
have yet (a kernel, a QEMU): two boots on one kernel share that kernel's
build, so the balance keeps them together unless the time is better spent
apart.  Run times come from FILE (default .ci/unit-times.tsv, "name<TAB>
seconds", as merge-results.py --times records them), and from the fixed
estimates below where FILE has none.

Every shard computes the same assignment from the same list and the same
times file, with no state of its own, so shards 1..N together run every
unit exactly once, whichever machine runs each.
"""

import fnmatch
import os
import sys

# Seconds, on 2 cores under TCG, for what no earlier run recorded.
UNIT_ESTIMATES = [
    ("qtest-asan/*", 150),
    ("qtest/*", 30),
    ("lint/device/*", 15),
    ("lint/driver/*", 60),
    ("selftest/*", 10),
    ("boot/*/*/*-debug/*", 330),
    ("boot/*", 75),
]
BUILD_ESTIMATES = [
    ("build/qemu-asan/*", 540),
    ("build/qemu/*", 480),
    ("build/kernel/*/debian", 30),
    ("build/kernel/*/lts", 60),
    ("build/kernel/*", 1080),
]


def estimate(name, table):
    for pattern, seconds in table:
        if fnmatch.fnmatchcase(name, pattern):
            return seconds
    return 60


def builds_of(unit):
    """The builds a unit needs, by the rules run-vm.sh follows.

    Every run builds the plain QEMU it boots and whose qtests it runs.
    """
    parts = unit.split("/")
    qemu = "build/qemu/x86_64/debian"
    if parts[0] in ("qtest", "qtest-asan", "boot") and len(parts) >= 3:
        qemu = "build/qemu/%s/%s" % (parts[1], parts[2])
    needs = {qemu}
    if parts[0] == "lint" and len(parts) == 3 and parts[1] == "device":
        needs.add("build/qemu/x86_64/%s" % parts[2])
    if parts[0] == "qtest-asan":
        needs.add("build/qemu-asan/%s/%s" % (parts[1], parts[2]))
    elif parts[0] == "boot" and len(parts) == 5:
        needs.add("build/kernel/%s/%s" % (parts[1], parts[3]))
    elif parts[0] == "bench" and len(parts) == 3:
        needs.add("build/kernel/%s/debian" % parts[1])
    elif parts[0] == "lint" and len(parts) == 4 and parts[1] == "driver":
        needs.add("build/kernel/%s/%s" % (parts[2], parts[3]))
    return needs


def read_times(path):
    times = {}
    if not path or not os.path.exists(path):
        return times
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if len(fields) >= 2 and not line.startswith("#"):
                try:
                    times[fields[0]] = float(fields[1])
                except ValueError:
                    pass
    return times


def assign(units, n, times):
    """Greedy longest-first: each unit goes where the shard's load after it
    (its run time and the builds it adds) is least.  Returns the shard index
    of each unit and the shards' estimated loads."""
    def cost(name, table):
        return times.get(name, estimate(name, table))

    order = sorted(units, key=lambda u: (-cost(u, UNIT_ESTIMATES), u))
    loads = [0.0] * n
    built = [set() for _ in range(n)]
    where = {}
    for unit in order:
        best = None
        for s in range(n):
            extra = sum(cost(b, BUILD_ESTIMATES)
                        for b in builds_of(unit) - built[s])
            load = loads[s] + cost(unit, UNIT_ESTIMATES) + extra
            if best is None or load < best[0]:
                best = (load, s)
        load, s = best
        loads[s] = load
        built[s] |= builds_of(unit)
        where[unit] = s
    return where, loads


def main():
    args = sys.argv[1:]
    times_file = os.path.join(os.path.dirname(__file__), "..", ".ci",
                              "unit-times.tsv")
    verbose = False
    spec = None
    while args:
        a = args.pop(0)
        if a == "--times" and args:
            times_file = args.pop(0)
        elif a == "--verbose":
            verbose = True
        elif spec is None:
            spec = a
        else:
            sys.exit("shard-units: unexpected argument '%s'" % a)
    try:
        i, n = (int(x) for x in (spec or "").split("/"))
    except ValueError:
        sys.exit("shard-units: the shard is I/N, such as 2/4")
    if not 1 <= i <= n:
        sys.exit("shard-units: shard %d/%d: I must be between 1 and N" % (i, n))
    units = [u.strip() for u in sys.stdin if u.strip()]
    if len(set(units)) != len(units):
        sys.exit("shard-units: a unit is listed twice")
    where, loads = assign(units, n, read_times(times_file))
    for unit in units:
        if where[unit] == i - 1:
            print(unit)
    if verbose:
        for s, load in enumerate(loads):
            print("shard %d/%d: estimated %d s" % (s + 1, n, load),
                  file=sys.stderr)


if __name__ == "__main__":
    main()
