#!/usr/bin/env python3
"""The results of ./run-vm.sh check, as CI systems read them.

usage:
  check-results.py merge DIR... [--junit FILE] [--expect LIST]
      one table, the failed cases and one totals line for the results of
      one run or of several shards (each DIR a build/results of its own);
      with --junit, one JUnit file for them all; with --expect (the output
      of ./run-vm.sh check --list), every listed unit must appear exactly
      once.  Exits 1 when a case failed or a unit is missing or doubled.
  check-results.py junit DIR
      write DIR/junit.xml, read it back and print a TAP line saying whether
      it is well-formed and holds exactly the TAP results of DIR's units.
  check-results.py times DIR...
      the units' and builds' run times ("name<TAB>seconds"), the input of
      shard-units.py (.ci/unit-times.tsv)

A run leaves DIR/units.tsv, a line per unit it ran:
  unit, kernel, TAP file, require-done (0/1), seconds, passed, failed,
  skipped, log
with the TAP file and the log (a glob) relative to DIR; and DIR/builds.tsv,
"name<TAB>seconds" for each build the run made.  passed, failed and skipped
are scripts/tap-summary.sh's counts; this file reads the TAP again, case by
case, and the junit command checks that the two agree.
"""

import glob
import os
import re
import sys
import tempfile
import xml.etree.ElementTree as ET

UNIT_FIELDS = ("unit", "kernel", "tap", "require_done", "seconds", "passed",
               "failed", "skipped", "log")
CONSOLE_TAIL = 40
DIAG_LINES = 20
# What XML 1.0 cannot carry; a guest's console can hold any of it.
XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def clean(text):
    return XML_INVALID.sub("?", text)


def read_units(results):
    units = []
    path = os.path.join(results, "units.tsv")
    if not os.path.exists(path):
        return units
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if len(fields) != len(UNIT_FIELDS):
                continue
            u = dict(zip(UNIT_FIELDS, fields))
            for k in ("require_done", "passed", "failed", "skipped"):
                u[k] = int(u[k])
            u["seconds"] = float(u["seconds"])
            u["dir"] = results
            units.append(u)
    return units


def read_builds(results):
    path = os.path.join(results, "builds.tsv")
    builds = []
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                fields = line.rstrip("\n").split("\t")
                if len(fields) == 2:
                    builds.append((fields[0], float(fields[1])))
    return builds


def read_text(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def log_tail(unit, lines=CONSOLE_TAIL):
    """The last lines of the unit's log files (a guest's console, or the
    stderr of each qtest binary)."""
    if not unit["log"]:
        return ""
    parts = []
    for path in sorted(glob.glob(os.path.join(unit["dir"], unit["log"]))):
        tail = read_text(path).splitlines()[-lines:]
        if tail:
            parts.append("--- %s (last %d lines)\n%s" % (
                os.path.relpath(path, unit["dir"]), len(tail),
                "\n".join(tail)))
    return "\n".join(parts)


def parse_tap(path, require_done):
    """The cases of a TAP file, the way tap-summary.sh counts them: one per
    ok / not ok line, and one failure for a program that exits non-zero
    without a failing case, for one that stops short of its plan, and for a
    guest that never reported completion.  Each case is a dict: program,
    name, status (passed, failed, skipped), message, detail."""
    cases = []
    state = {"prog": "", "plan": -1, "seen": 0, "pfail": 0, "diag": []}
    done = False

    def add(status, name, message="", detail=""):
        cases.append({"program": state["prog"], "name": name,
                      "status": status, "message": message,
                      "detail": detail})

    def close_program():
        if not state["prog"]:
            return
        if 0 <= state["plan"] and state["seen"] < state["plan"]:
            add("failed", "plan", "%s ran %d of %d cases" % (
                state["prog"], state["seen"], state["plan"]),
                "\n".join(state["diag"]))
        state["prog"] = ""

    for raw in read_text(path).splitlines():
        line = raw.rstrip("\r")
        if line.startswith("# program: "):
            close_program()
            state.update(prog=line.split()[2] if len(line.split()) > 2
                         else "", plan=-1, seen=0, pfail=0, diag=[])
            continue
        m = re.match(r"^1\.\.(\d+)", line)
        if m:
            state["plan"] = int(m.group(1))
            continue
        if line.startswith("ok "):
            state["seen"] += 1
            skip = re.search(r"# [Ss][Kk][Ii][Pp]", line)
            add("skipped" if skip else "passed", line[3:].strip(),
                line[skip.end():].strip() if skip else "")
            state["diag"] = []
            continue
        if line.startswith("not ok "):
            state["seen"] += 1
            if re.search(r"# [Tt][Oo][Dd][Oo]", line):
                # TAP's TODO directive: an expected failure, not counted
                add("skipped", line[7:].strip(), "expected failure (TAP TODO directive)")
            else:
                state["pfail"] += 1
                add("failed", line[7:].strip(), line,
                    "\n".join(state["diag"][-DIAG_LINES:]))
            state["diag"] = []
            continue
        if line.startswith("# exit: "):
            f = line.split()
            if len(f) >= 4 and f[3] != "0" and state["pfail"] == 0:
                add("failed", "exit", "%s exited with status %s" % (f[2], f[3]),
                    "\n".join(state["diag"][-DIAG_LINES:]))
            close_program()
            continue
        if line.startswith("DMALAB-DONE"):
            done = True
        if line.startswith("#"):
            state["diag"].append(line)
    close_program()
    if require_done and not done:
        add("failed", "completion", "the guest did not report completion")
    return cases


def unit_cases(unit):
    return parse_tap(os.path.join(unit["dir"], unit["tap"]),
                     unit["require_done"])


def junit_tree(units):
    root = ET.Element("testsuites", name="dmalab check")
    totals = {"tests": 0, "failures": 0, "skipped": 0, "time": 0.0}
    for unit in units:
        cases = unit_cases(unit)
        failed = [c for c in cases if c["status"] == "failed"]
        skipped = [c for c in cases if c["status"] == "skipped"]
        suite = ET.SubElement(
            root, "testsuite", name=unit["unit"], tests=str(len(cases)),
            failures=str(len(failed)), errors="0", skipped=str(len(skipped)),
            time="%.1f" % unit["seconds"])
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="kernel", value=unit["kernel"])
        tail = clean(log_tail(unit)) if failed else ""
        for c in cases:
            classname = unit["unit"] + (("." + c["program"])
                                        if c["program"] else "")
            tc = ET.SubElement(suite, "testcase", classname=classname,
                               name=clean(c["name"]))
            if c["status"] == "failed":
                fail = ET.SubElement(tc, "failure",
                                     message=clean(c["message"]))
                fail.text = clean("\n".join(
                    p for p in (c["message"], c["detail"], tail) if p))
            elif c["status"] == "skipped":
                ET.SubElement(tc, "skipped", message=clean(c["message"]))
        totals["tests"] += len(cases)
        totals["failures"] += len(failed)
        totals["skipped"] += len(skipped)
        totals["time"] += unit["seconds"]
    for k in ("tests", "failures", "skipped"):
        root.set(k, str(totals[k]))
    root.set("errors", "0")
    root.set("time", "%.1f" % totals["time"])
    return ET.ElementTree(root)


def write_junit(units, path):
    tree = junit_tree(units)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)


def verify_junit(units, path):
    """Read the file back as XML and hold it to tap-summary.sh's counts:
    the same units, and in each the same passed, failed and skipped."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as e:
        return False, "%s is not well-formed XML: %s" % (path, e)
    suites = root.findall("testsuite")
    if [s.get("name") for s in suites] != [u["unit"] for u in units]:
        return False, "its test suites are not the run's units"
    total = 0
    for s, u in zip(suites, units):
        cases = s.findall("testcase")
        failed = sum(1 for c in cases if c.find("failure") is not None)
        skipped = sum(1 for c in cases if c.find("skipped") is not None)
        want = (u["passed"], u["failed"], u["skipped"])
        got = (len(cases) - failed - skipped, failed, skipped)
        if got != want or int(s.get("tests")) != len(cases):
            return False, "%s: %d/%d/%d passed/failed/skipped, TAP has %d/%d/%d" % (
                u["unit"], *got, *want)
        total += len(cases)
    return True, "%d testcases in %d suites, as many as the TAP results" % (
        total, len(suites))


def fmt_time(seconds):
    s = int(round(seconds))
    return "%dm%02d" % (s // 60, s % 60)


def cmd_merge(args):
    dirs, junit, expect = [], None, None
    while args:
        a = args.pop(0)
        if a == "--junit" and args:
            junit = args.pop(0)
        elif a == "--expect" and args:
            expect = args.pop(0)
        else:
            dirs.append(a)
    if not dirs:
        sys.exit("check-results: merge needs at least one results directory")
    units = [u for d in dirs for u in read_units(d)]
    report = None
    if len(dirs) > 1:
        # Each run checked its own JUnit file; the merge checks its own.
        units = [u for u in units if not u["unit"].startswith("report/")]
        path = junit or os.path.join(tempfile.mkdtemp(), "junit.xml")
        write_junit(units, path)
        report = verify_junit(units, path)
        junit = None
    width = max([len(u["unit"]) for u in units] + [4])
    print("%-*s %-20s %6s %6s %7s %6s" % (width, "unit", "kernel", "passed",
                                           "failed", "skipped", "time"))
    p = f = s = 0
    problems = []
    for u in units:
        print("%-*s %-20s %6d %6d %7d %6s" % (
            width, u["unit"], u["kernel"], u["passed"], u["failed"],
            u["skipped"], fmt_time(u["seconds"])))
        p, f, s = p + u["passed"], f + u["failed"], s + u["skipped"]
    if report:
        good, why = report
        print("%-*s %-20s %6d %6d %7d %6s" % (width, "report/junit", "-",
                                               good, not good, 0, "-"))
        p += good
        if not good:
            problems.append("junit: " + why)
    names = [u["unit"] for u in units]
    for n in sorted({n for n in names if names.count(n) > 1}):
        problems.append("unit %s ran %d times" % (n, names.count(n)))
    if expect:
        with open(expect, encoding="utf-8") as fl:
            listed = [x.strip() for x in fl if x.strip()]
        for n in listed:
            if n not in names:
                problems.append("unit %s did not run" % n)
        for n in names:
            if n not in listed and not n.startswith("report/"):
                problems.append("unit %s is not in %s" % (n, expect))
    failures = []
    for u in units:
        if u["failed"]:
            for c in unit_cases(u):
                if c["status"] == "failed":
                    failures.append("%s: %s%s" % (
                        u["unit"], c["program"] + ": " if c["program"] else "",
                        c["message"]))
    if failures or problems:
        print()
        for line in failures + problems:
            print("  FAILED " + line)
    if junit:
        write_junit(units, junit)
    print()
    print("%d passed, %d failed, %d skipped" % (p, f + len(problems), s))
    return 1 if f or problems or not units else 0


def cmd_junit(args):
    if len(args) != 1:
        sys.exit("check-results: junit needs one results directory")
    units = read_units(args[0])
    path = os.path.join(args[0], "junit.xml")
    write_junit(units, path)
    good, why = verify_junit(units, path)
    print("%s - junit.xml: %s" % ("ok" if good else "not ok", why))
    return 0 if good else 1


def cmd_times(args):
    """A build runs once cold and is only checked later in the same run:
    its cost is the longest time it took."""
    times = {}
    for d in args:
        rows = [(u["unit"], u["seconds"]) for u in read_units(d)
                if not u["unit"].startswith("report/")]
        for name, seconds in rows + read_builds(d):
            times[name] = max(seconds, times.get(name, 0.0))
    for name, seconds in times.items():
        print("%s\t%.0f" % (name, seconds))
    return 0


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    commands = {"merge": cmd_merge, "junit": cmd_junit, "times": cmd_times}
    if cmd not in commands:
        sys.exit(__doc__)
    sys.exit(commands[cmd](args))


if __name__ == "__main__":
    main()
