#!/usr/bin/env python3
"""The check's own machinery, tested: ./run-vm.sh check --list, --only and
--shard, scripts/check-results.py's JUnit file and merge, the lab
runner scripts/labs.py, and the docs' diagrams.  TAP on standard output.

The list and the shards come from run-vm.sh itself (--list builds nothing).
The JUnit file and the merge are held to a results directory made here, with
the cases a real run can leave: passes, skips, expected failures (TAP's
TODO directive, which the fixture below uses), failures with their
diagnostics, a program that exits non-zero with no failing case, one that
stops short of its plan, a guest that never finished, and a console full of
what XML cannot carry.  Their counts are scripts/tap-summary.sh's, the same
counter the check's table uses.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
NAME = re.compile(
    r"^(qtest|qtest-asan)/[a-z0-9_]+/[a-z0-9.-]+$"
    r"|^lint/device/[a-z0-9.-]+$|^selftest/[a-z-]+$"
    r"|^lint/driver/[a-z0-9_]+/[A-Za-z0-9._-]+$"
    r"|^boot/[a-z0-9_]+/[a-z0-9.-]+/[A-Za-z0-9._-]+/[a-z0-9-]+$"
    r"|^lab/[a-z0-9_]+/lab[0-9]+-[0-9]+$"
    r"|^bench/[a-z0-9_]+/quick$")

n_cases = 0
n_failed = 0


def tap(ok, text):
    global n_cases, n_failed
    n_cases += 1
    n_failed += not ok
    print("%s %d - %s" % ("ok" if ok else "not ok", n_cases, text), flush=True)


def diag(text):
    for line in str(text).splitlines():
        print("# " + line, flush=True)


def run(*args, stdin=None):
    p = subprocess.run(args, cwd=TOP, input=stdin, capture_output=True,
                       text=True, check=False)
    return p.returncode, p.stdout, p.stderr


def check_list(*extra):
    rc, out, err = run("./run-vm.sh", "check", "--list", *extra)
    if rc != 0:
        diag(err)
    return rc, [x for x in out.splitlines() if x]


def test_list():
    rc, units = check_list()
    bad = [u for u in units if not NAME.match(u)]
    kinds = {u.split("/")[0] for u in units}
    tap(rc == 0 and units and not bad and len(set(units)) == len(units) and
        kinds >= {"qtest", "qtest-asan", "lint", "selftest", "boot", "lab",
                  "bench"},
        "--list: %d units, each named once, every kind present%s" % (
            len(units), (", bad names: " + " ".join(bad)) if bad else ""))
    return units


def test_shards(units):
    """Shards 1..N run every unit exactly once, each in the list's order."""
    for extra in ([], ["--only", "lts,lint"]):
        _, full = check_list(*extra)
        worst = ""
        for n in (1, 2, 3, 4, 7, len(full) + 2):
            seen = []
            for i in range(1, n + 1):
                rc, part = check_list("--shard", "%d/%d" % (i, n), *extra)
                if rc != 0:
                    worst = "shard %d/%d exited %d" % (i, n, rc)
                if [u for u in full if u in part] != part:
                    worst = "shard %d/%d is out of order" % (i, n)
                seen += part
            if sorted(seen) != sorted(full):
                missing = set(full) - set(seen)
                twice = {u for u in seen if seen.count(u) > 1}
                worst = "%d shards: %d missing, %d twice" % (
                    n, len(missing), len(twice))
        tap(not worst and full,
            "--shard I/N for N = 1, 2, 3, 4, 7 and %d%s: the union is the list "
            "(%d units), each unit once, in order%s" % (
                len(full) + 2, " with --only " + extra[1] if extra else "",
                len(full), ("; " + worst) if worst else ""))
    rc, _ = check_list("--shard", "3/2")
    rc2, _ = check_list("--shard", "two")
    tap(rc != 0 and rc2 != 0, "--shard 3/2 and --shard two are refused")


def test_balance(units):
    """The estimated loads of 2 and 3 shards stay within a third of each
    other; one shard with all the builds would be far apart."""
    text = "\n".join(units) + "\n"
    for n in (2, 3):
        p = subprocess.run([sys.executable, "scripts/shard-units.py",
                            "1/%d" % n, "--verbose"], cwd=TOP, input=text,
                           capture_output=True, text=True, check=False)
        loads = [float(x) for x in re.findall(r"estimated (\d+) s", p.stderr)]
        good = len(loads) == n and min(loads) > 0 and \
            max(loads) <= 4 / 3 * min(loads)
        tap(good, "%d shards are balanced: estimated %s s" % (
            n, ", ".join("%d" % x for x in loads)))


def test_only(units):
    _, lts = check_list("--only", "boot/*/*/lts/*")
    want = [u for u in units if u.startswith("boot/") and
            u.split("/")[3] == "lts"]
    _, default = check_list("--only", "default")
    want_d = [u for u in units if u.endswith("/default")]
    _, both = check_list("--only", "default,qtest")
    want_b = [u for u in units if u.endswith("/default") or
              u.startswith("qtest/")]
    rc, _ = check_list("--only", "no-such-unit")
    tap(lts == want and lts and default == want_d and both == want_b and
        rc == 2,
        "--only takes a glob (%d lts boots), a part of a name (%d default "
        "boots), a comma list, and refuses a name that matches nothing" % (
            len(lts), len(default)))


# ---- A results directory like a run's ---------------------------------------

GUEST_TAP = """\
# program: dmalab_one
1..4
ok 1 - first
ok 2 # SKIP not here
# the data differs at byte 12
not ok 3 - data <right> & "true"
not ok 4 - later # TODO not yet
# exit: dmalab_one 1
# program: dmalab_two
1..2
ok 1 - alone
# exit: dmalab_two 3
# program: dmalab_three
1..3
ok 1 - one
ok 2 - two
"""
QTEST_TAP = """\
TAP version 13
# random seed: R02S
1..3
# Start of dmalab tests
ok 1 /x86_64/dmalab/regs
ok 2 /x86_64/dmalab/copy # SKIP no MSI-X here
ok 3 /x86_64/dmalab/migration
"""
CONSOLE = "boot\x1b[0m\x07 <tail> & \x00 end\nlast line of the console\n"


def counts(path, require_done):
    out = subprocess.run([os.path.join(TOP, "scripts", "tap-summary.sh"),
                          path, str(require_done)], capture_output=True,
                         text=True, check=True).stdout
    return [int(x) for x in out.split()]


def make_results(root, units):
    """units: (name, tap text, require_done, log text); writes root/units.tsv
    the way run-vm.sh's tally() does."""
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "units.tsv"), "a", encoding="utf-8") as tsv:
        for name, text, require_done, log in units:
            d = name.replace("/", "_")
            os.makedirs(os.path.join(root, d), exist_ok=True)
            tap_path = os.path.join(root, d, "results.tap")
            with open(tap_path, "w", encoding="utf-8") as f:
                f.write(text)
            with open(os.path.join(root, d, "console.log"), "w",
                      encoding="utf-8") as f:
                f.write(log)
            p, fl, s = counts(tap_path, require_done)
            tsv.write("\t".join(str(x) for x in (
                name, "test-1.0", d + "/results.tap", require_done, 12.5, p,
                fl, s, d + "/console.log")) + "\n")


FIXTURE = [
    ("boot/x86_64/q/k/guest", GUEST_TAP, 1, CONSOLE),
    ("qtest/x86_64/q", QTEST_TAP, 0, ""),
    ("boot/x86_64/q/k/done", "1..1\nok 1 - fine\nDMALAB-DONE\n", 1, ""),
]


def results_cmd(*args):
    return run(sys.executable, "scripts/check-results.py", *args)


def test_junit(tmp):
    root = os.path.join(tmp, "full")
    make_results(root, FIXTURE)
    want = [counts(os.path.join(root, u[0].replace("/", "_"), "results.tap"),
                   u[2]) for u in FIXTURE]
    rc, out, err = results_cmd("junit", root)
    tap(rc == 0 and out.startswith("ok - junit.xml"),
        "check-results.py junit verifies its own file: " + out.strip())
    if rc:
        diag(err)
    try:
        tree = ET.parse(os.path.join(root, "junit.xml")).getroot()
    except ET.ParseError as e:
        tap(False, "junit.xml is well-formed XML: %s" % e)
        return
    cases = tree.findall("testsuite/testcase")
    fails = [c for c in cases if c.find("failure") is not None]
    skips = [c for c in cases if c.find("skipped") is not None]
    total = [sum(w[i] for w in want) for i in range(3)]
    tap(len(cases) == sum(total) and len(fails) == total[1] and
        len(skips) == total[2] and int(tree.get("tests")) == len(cases),
        "junit.xml is well-formed XML: %d testcases, %d failures, %d skipped,"
        " as tap-summary.sh counts (%d/%d/%d)" % (
            len(cases), len(fails), len(skips), *total))
    suites = [s.get("name") for s in tree.findall("testsuite")]
    tap(suites == [u[0] for u in FIXTURE],
        "one testsuite per unit, named as the unit")
    texts = [c.find("failure").text or "" for c in fails]
    names = [c.get("name") for c in fails]
    tap(any('data <right> & "true"' in t and "differs at byte 12" in t and
            "last line of the console" in t for t in texts),
        "a failure carries its message, its diagnostics and the console tail")
    tap({"exit", "plan", "completion"} <= set(names),
        "a non-zero exit, a short plan and a guest that never finished are "
        "failed cases too (%s)" % ", ".join(sorted(set(names))))
    # The check can fail: a units.tsv whose count disagrees with the file.
    bad = os.path.join(tmp, "bad")
    shutil.copytree(root, bad)
    with open(os.path.join(bad, "units.tsv"), encoding="utf-8") as f:
        lines = f.read().splitlines()
    fields = lines[1].split("\t")
    fields[5] = str(int(fields[5]) + 1)
    lines[1] = "\t".join(fields)
    with open(os.path.join(bad, "units.tsv"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    rc, out, _ = results_cmd("junit", bad)
    tap(rc != 0 and out.startswith("not ok"),
        "a JUnit file that misses a TAP case is caught: " + out.strip())


def totals(out):
    m = re.search(r"^(\d+) passed, (\d+) failed, (\d+) skipped$", out, re.M)
    return tuple(int(x) for x in m.groups()) if m else None


def test_merge(tmp):
    one, two = os.path.join(tmp, "shard1"), os.path.join(tmp, "shard2")
    make_results(one, FIXTURE[:1])
    make_results(two, FIXTURE[1:])
    for d in (one, two):
        results_cmd("junit", d)
    full = os.path.join(tmp, "full")
    rc_full, out_full, _ = results_cmd("merge", full)
    listed = os.path.join(tmp, "list")
    with open(listed, "w", encoding="utf-8") as f:
        f.write("".join(u[0] + "\n" for u in FIXTURE))
    merged_xml = os.path.join(tmp, "merged.xml")
    rc, out, _ = results_cmd("merge", one, two, "--expect", listed,
                             "--junit", merged_xml)
    # The full directory has no report row of its own (made by hand here):
    # the merge adds one, a pass.
    want = totals(out_full)
    want = (want[0] + 1, want[1], want[2]) if want else None
    tap(totals(out) == want and rc == rc_full == 1 and
        "FAILED boot/x86_64/q/k/guest: dmalab_one" in out,
        "merging two shards gives the totals of one run (%s), lists the "
        "failed cases and fails" % (totals(out),))
    try:
        n = len(ET.parse(merged_xml).getroot().findall("testsuite/testcase"))
    except (ET.ParseError, OSError):
        n = -1
    tap(n == sum(sum(counts(os.path.join(full, u[0].replace("/", "_"),
                                         "results.tap"), u[2]))
                 for u in FIXTURE),
        "the merged JUnit file holds every case of both shards (%d)" % n)
    with open(listed, "a", encoding="utf-8") as f:
        f.write("boot/x86_64/q/k/never\n")
    _, out, _ = results_cmd("merge", one, two, "--expect", listed)
    _, out2, _ = results_cmd("merge", one, one, two)
    tap("unit boot/x86_64/q/k/never did not run" in out and
        "unit boot/x86_64/q/k/guest ran 2 times" in out2,
        "a unit no shard ran, or two shards ran, is a failure")


# ---- The CI workflows ---------------------------------------------------------

def commands_of(doc):
    """Every shell line of a workflow: GitHub's run: and GitLab's script:,
    before_script: and after_script:."""
    lines = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k == "run" and isinstance(v, str):
                lines += v.splitlines()
            elif k in ("script", "before_script", "after_script"):
                lines += v if isinstance(v, list) else [v]
            else:
                lines += commands_of(v)
    elif isinstance(doc, list):
        for v in doc:
            lines += commands_of(v)
    return lines


def test_workflows():
    try:
        import yaml
    except ImportError:
        tap(False, "python3-yaml is installed (scripts/install-deps.sh)")
        return
    _, usage, _ = run("./run-vm.sh", "--help")
    for path in (".github/workflows/check.yml", ".gitlab-ci.yml"):
        try:
            with open(os.path.join(TOP, path), encoding="utf-8") as f:
                doc = yaml.safe_load(f)
        except (OSError, yaml.YAMLError) as e:
            tap(False, "%s is valid YAML: %s" % (path, e))
            continue
        bad = []
        for line in commands_of(doc):
            for word in re.findall(r"(?:^|\s)(\./[\w./-]+|scripts/[\w./-]+)",
                                   line):
                if not os.access(os.path.join(TOP, word), os.X_OK):
                    bad.append(word)
            if "run-vm.sh" in line:
                bad += [o for o in re.findall(r"\s(--[a-z-]+)", line)
                        if o not in usage]
        tap(isinstance(doc, dict) and not bad,
            "%s is valid YAML and runs only this repository's commands and "
            "options%s" % (path, (": not found " + " ".join(bad)) if bad
                           else ""))


LAB_DOC = """## Lab 7: a lab
**Setup.** anything
<!-- lab-run: default -->

1. First:
   ```sh
   X=41
   echo "value $((X + 1))"
   ```
   <!-- says: the value is 42 -->
   <!-- expect: ^value 42$ -->
   <!-- lab-also: msi -->
2. Second:
   ```sh
   echo "heads 1 2 3"
   ```
   <!-- check: ints(r'(\\d+)') == [1, 2, 3] and config == 'default' -->
   <!-- expect-not: error -->
<!-- lab-run: aarch64:iommu -->
3. Third:
   ```sh
   echo third
   ```
"""


def test_labs(tmp):
    """scripts/labs.py: docs/labs.md parses into runs of known
    configurations, a run's script keeps its steps in one shell, and a
    step's output is held to its claims."""
    rc, out, err = run("python3", "scripts/labs.py", "list", "docs/labs.md")
    runs = [x.split() for x in out.splitlines()]
    known = {}
    for arch in ("x86_64", "aarch64"):
        _, names, _ = run("bash", "-c", ". scripts/vm-configs.sh && "
                          "arch_configs " + arch)
        known[arch] = names.split()
    unknown = [r for r in runs
               if len(r) != 3 or r[2] not in known.get(r[1], [])]
    tap(rc == 0 and runs and not unknown,
        "labs.py list: docs/labs.md has %d lab runs, each in a known "
        "configuration%s" % (len(runs), ": not " + str(unknown) if unknown else ""))
    doc = os.path.join(tmp, "labs.md")
    with open(doc, "w", encoding="utf-8") as f:
        f.write(LAB_DOC)
    rc, out, _ = run("python3", "scripts/labs.py", "list", doc)
    script = os.path.join(tmp, "lab.sh")
    rc2, _, _ = run("python3", "scripts/labs.py", "script", doc, "lab7-1", script)
    shell = subprocess.run(["sh", script], capture_output=True, text=True,
                           check=False).stdout if rc2 == 0 else ""
    tap(out.split() == ["lab7-1", "x86_64", "default", "lab7-2", "x86_64",
                        "msi", "lab7-3", "aarch64", "iommu"] and
        "value 42" in shell,
        "labs.py: lab-run and lab-also make a run per configuration, and a "
        "step's variables reach the next command")
    output = os.path.join(tmp, "lab.out")
    with open(output, "w", encoding="utf-8") as f:
        f.write(shell)
    rc_good, good, _ = run("python3", "scripts/labs.py", "verify", doc,
                           "lab7-1", output)
    with open(output, "w", encoding="utf-8") as f:
        f.write(shell.replace("value 42", "value 43").replace(
            "heads 1 2 3", "heads 1 2 4 error"))
    rc_bad, bad, _ = run("python3", "scripts/labs.py", "verify", doc,
                         "lab7-1", output)
    with open(output, "w", encoding="utf-8") as f:
        f.write(shell.split("@@@ dmalab-lab step 2")[0])
    rc_cut, cut, _ = run("python3", "scripts/labs.py", "verify", doc,
                         "lab7-1", output)
    tap(rc_good == 0 and "ok 1 - lab 7 step 1: the value is 42" in good and
        rc_bad == 1 and "not ok 1 - lab 7 step 1: the value is 42" in bad and
        "# does not hold: expect ^value 42$" in bad and
        "does not hold: expect-not error" in bad and
        "does not hold: check" in bad and rc_cut == 1 and
        "not ok 2 - lab 7 step 2: never ran" in cut and
        "not ok 3 - lab7-1 ran to its end" in cut,
        "labs.py verify: the claims hold on the right output, and a wrong "
        "value, an unwanted line, a false predicate and a run cut short "
        "each fail by name")
    if rc_bad != 1 or rc_cut != 1:
        diag(bad + cut)


def test_diagrams():
    """The docs' diagrams: every SVG is what its graphviz source renders to
    now, and every one is shown by a page of docs/."""
    r = subprocess.run([os.path.join(TOP, "scripts", "diagrams.sh"), "--check"],
                       capture_output=True, text=True)
    names = sorted(f[:-4] for f in os.listdir(os.path.join(TOP, "docs", "diagrams"))
                   if f.endswith(".dot"))
    docs = ""
    for f in os.listdir(os.path.join(TOP, "docs")):
        if f.endswith(".md"):
            with open(os.path.join(TOP, "docs", f), encoding="utf-8") as d:
                docs += d.read()
    unshown = [n for n in names if "(img/%s.svg)" % n not in docs]
    tap(r.returncode == 0 and names and not unshown,
        "docs/diagrams: %d sources, each rendered up to date in docs/img and shown in docs/%s%s" % (
            len(names), (": " + r.stderr.strip()) if r.returncode else "",
            (", not shown: " + " ".join(unshown)) if unshown else ""))


def main():
    print("1..22", flush=True)
    units = test_list()
    test_shards(units)
    test_balance(units)
    test_only(units)
    test_workflows()
    test_diagrams()
    tmp = tempfile.mkdtemp(prefix="dmalab-selftest-")
    try:
        test_junit(tmp)
        test_merge(tmp)
        test_labs(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("# %d passed, %d failed" % (n_cases - n_failed, n_failed))
    return 1 if n_failed else 0


if __name__ == "__main__":
    sys.exit(main())
