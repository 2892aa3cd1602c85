#!/usr/bin/env python3
"""Run the labs of docs/labs.md as a student would, and hold each step to
what the text says the student will see.

docs/labs.md is the one source: the student reads it, and this script runs
the same shell blocks.  HTML comments, which a rendered page does not show,
say how:

    <!-- lab-run: CONFIG -->    the shell blocks that follow, up to the next
                                lab-run or the next lab, run in one boot of
                                VM configuration CONFIG, in order, in one
                                shell (so a variable set in a step is there
                                in the next); ARCH:CONFIG (aarch64:iommu)
                                boots another architecture than x86_64
    <!-- expect: REGEX -->      after a block: the block's output must
                                contain a match of REGEX (Python syntax,
                                searched line by line: ^ and $ are lines)
    <!-- expect-not: REGEX -->  ... must not contain one
    <!-- check: EXPR -->        ... the Python expression EXPR, over the
                                block's output `out` (`re` and `ints(pattern)`,
                                the integers of every match of a pattern's
                                first group, `hexes(pattern)`, the same
                                read as bare hexadecimal (/proc/iomem's),
                                `config`, the configuration,
                                `irqs(name)`, the interrupt count of each
                                /proc/interrupts line naming name, and
                                `pci_caps()`, the (offset, ID) chain of
                                the capabilities in an `od -A x -t x1`
                                dump of config space, at hand), must be
                                true
    <!-- lab-also: CONFIG... -->  after a block: it runs in a boot of each of
                                these configurations too (a run of the lab
                                per configuration, made at its first block)
    <!-- lab-add: FILE.c -->     in a lab: every run of the lab builds this
                                program of the repository (static, against
                                the uapi header) onto the guest's PATH, as
                                `./run-vm.sh --add FILE.c` does
    <!-- says: TEXT -->         what the expectations of the block claim, in
                                words: the name of its case in the results

A block with no expectation still runs, and counts when it has run.
Blocks outside a lab-run (the host-side ones) do not run.

usage: labs.py list LABS.md                 one line per run: ID ARCH CONFIG
       labs.py script LABS.md ID OUT.sh     the guest script of run ID
       labs.py verify LABS.md ID OUTPUT     TAP: one case per step
       labs.py adds LABS.md ID              the programs run ID adds
       labs.py seen LABS.md RESULTS         after each step, a folded
                                            "what one run printed" block,
                                            from RESULTS/ID/results.tap of
                                            ./run-vm.sh labs (rewrites
                                            LABS.md; the blocks sit between
                                            <!-- seen: ... --> and
                                            <!-- /seen -->, and are
                                            replaced on the next call)
"""
import os
import re
import sys

RUN = re.compile(r"^<!-- lab-run: (\S+) -->$")
ALSO = re.compile(r"^<!-- lab-also: (.+) -->$")
ADD = re.compile(r"^<!-- lab-add: (\S+) -->$")
EXPECT = re.compile(r"^<!-- (expect|expect-not|check|says): (.*) -->$")
LAB = re.compile(r"^## Lab (\d+):")
ITEM = re.compile(r"^(\d+)\. ")
MARK = "@@@ dmalab-lab step "


class Step:
    def __init__(self, label, code, end=0, indent=0):
        self.label = label
        self.code = code
        self.end = end          # line index of the block's closing fence
        self.indent = indent
        self.expects = []       # (kind, text)
        self.says = ""


class Run:
    def __init__(self, ident, config):
        self.ident = ident
        self.arch, _, self.config = config.rpartition(":")
        self.arch = self.arch or "x86_64"
        self.steps = []
        self.adds = []


def parse(path):
    """The runs of the labs, in order."""
    runs = []
    adds = {}           # lab -> the programs it adds
    run = None
    lab = None
    item = None
    block = None
    last = None
    count = {}
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for i, line in enumerate(lines):
        text = line.strip()
        if block is not None:
            if text == "```":
                label = "lab %s %s" % (lab, "step " + item if item else "setup")
                count[label] = count.get(label, 0) + 1
                if count[label] > 1:
                    label += " (%d)" % count[label]
                last = Step(label, "\n".join(block), i, indent)
                run.steps.append(last)
                block = None
            else:
                block.append(line[indent:] if line[:indent].isspace() else line.lstrip())
            continue
        m = LAB.match(line)
        if m:
            lab, item, run, last = m.group(1), None, None, None
            continue
        if lab is None:
            continue
        m = ADD.match(text)
        if m:
            adds.setdefault(lab, []).append(m.group(1))
            continue
        m = RUN.match(text)
        if m:
            run = run_of(runs, lab, m.group(1))
            last = None
            continue
        m = ALSO.match(text)
        if m and last is not None:
            for config in m.group(1).split():
                run_of(runs, lab, config).steps.append(last)
            continue
        m = ITEM.match(line)
        if m:
            item = m.group(1)
        if text == "```sh" and run is not None:
            block = []
            indent = len(line) - len(line.lstrip())
            continue
        m = EXPECT.match(text)
        if m and last is not None:
            if m.group(1) == "says":
                last.says = m.group(2)
            else:
                last.expects.append((m.group(1), m.group(2)))
    for r in runs:
        r.adds = adds.get(r.ident[3:].split("-")[0], [])
    return runs


def run_of(runs, lab, config):
    """Lab lab's run in configuration config, made if it has none."""
    prefix = "lab%s-" % lab
    for r in runs:
        if r.ident.startswith(prefix) and "%s:%s" % (r.arch, r.config) in (
                config, "x86_64:" + config):
            return r
    r = Run(prefix + str(sum(x.ident.startswith(prefix) for x in runs) + 1), config)
    runs.append(r)
    return r


def find(runs, ident):
    for r in runs:
        if r.ident == ident:
            return r
    sys.exit("labs.py: no run %s" % ident)


# What every lab types first ("Before you start").
PREAMBLE = """S=/sys/class/misc/dmalab0/device
D=$(ls -d /sys/kernel/debug/dmalab/*/ | head -n 1)
T=/sys/kernel/debug/tracing
"""


def script(run):
    out = ["#!/bin/sh", "# %s in %s, from docs/labs.md" % (run.ident, run.config),
           PREAMBLE]
    for n, step in enumerate(run.steps, 1):
        out.append("echo '%s%d'" % (MARK, n))
        # in this shell, not a subshell: a step's variables reach the next
        out.append(step.code)
    out.append("echo '%send'" % MARK)
    return "\n".join(out) + "\n"


def outputs(path, nsteps):
    """The output of each step, and whether the run reached its end."""
    got = {}
    current = None
    ended = False
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if line.startswith(MARK):
                rest = line[len(MARK):]
                if rest == "end":
                    ended = True
                    current = None
                elif rest.isdigit():
                    current = int(rest)
                    got[current] = []
                else:
                    current = None
                continue
            if current is not None:
                got[current].append(line)
    return {n: "\n".join(v) for n, v in got.items()}, ended


def od_bytes(out):
    """The bytes of an `od -A x -t x1` dump in out (a "*" line repeats the
    line before it up to the next address)."""
    data = bytearray()
    last = None
    repeat = False
    for line in out.split("\n"):
        m = re.match(r"^([0-9a-f]{6,})((?: [0-9a-f]{2})*)$", line)
        if line.strip() == "*":
            repeat = True
            continue
        if not m:
            continue
        addr = int(m.group(1), 16)
        if repeat and last:
            while len(data) + len(last) <= addr:
                data += last
        repeat = False
        if len(data) != addr:
            continue
        last = bytes(int(x, 16) for x in m.group(2).split())
        data += last
    return data


def holds(kind, text, out, config):
    if kind == "expect":
        return re.search(text, out, re.M) is not None
    if kind == "expect-not":
        return re.search(text, out, re.M) is None

    def ints(pattern):
        return [int(x, 0) for x in re.findall(pattern, out, re.M)]

    def hexes(pattern):
        return [int(x, 16) for x in re.findall(pattern, out, re.M)]

    def irqs(name):
        """The total count of each /proc/interrupts line naming name."""
        counts = []
        for line in out.split("\n"):
            m = re.match(r"^ *\d+:((?: +\d+)+) +\S", line)
            if m and re.search(r"[ ,]%s(-|,|$)" % re.escape(name), line):
                counts.append(sum(int(x) for x in m.group(1).split()))
        return counts
    def pci_caps():
        """The capability chain of the config space `od` dumped."""
        data = od_bytes(out)
        caps = []
        ptr = data[0x34] & 0xfc if len(data) > 0x34 else 0
        while ptr and ptr + 1 < len(data) and len(caps) < 48:
            caps.append((ptr, data[ptr]))
            ptr = data[ptr + 1] & 0xfc
        return caps
    try:
        return bool(eval(text, {"re": re, "out": out, "ints": ints,
                                "hexes": hexes,
                                "irqs": irqs, "pci_caps": pci_caps,
                                "config": config}))
    except Exception as e:     # a predicate that fails to evaluate fails
        print("# %s: %s" % (text, e))
        return False


def verify(run, path):
    got, ended = outputs(path, len(run.steps))
    print("1..%d" % (len(run.steps) + 1))
    failed = 0
    for n, step in enumerate(run.steps, 1):
        out = got.get(n)
        if out is None:
            print("not ok %d - %s: never ran" % (n, step.label))
            failed += 1
            continue
        bad = [(k, t) for k, t in step.expects
               if not holds(k, t, out, run.config)]
        what = step.says or ("%d expectations hold" % len(step.expects)
                             if step.expects else "runs")
        if bad:
            failed += 1
            print("not ok %d - %s: %s" % (n, step.label, what))
            for k, t in bad:
                print("# does not hold: %s %s" % (k, t))
            for line in out.split("\n")[:40]:
                print("#   | " + line)
        else:
            print("ok %d - %s: %s" % (n, step.label, what))
    n = len(run.steps) + 1
    print("%s %d - %s ran to its end" % ("ok" if ended else "not ok", n, run.ident))
    return 1 if failed or not ended else 0


SEEN_LINES = 14


def seen(path, results):
    """Put after each step what its first run printed (see the usage)."""
    runs = parse(path)
    blocks = {}         # closing-fence line -> (step, run, output)
    for run in runs:
        tap = os.path.join(results, run.ident, "results.tap")
        if not os.path.exists(tap):
            continue
        got, _ = outputs(tap, len(run.steps))
        for n, step in enumerate(run.steps, 1):
            if step.end not in blocks and got.get(n) is not None:
                blocks[step.end] = (step, run, got[n])
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for end in sorted(blocks, reverse=True):
        step, run, out = blocks[end]
        j = end + 1
        while j < len(lines) and (EXPECT.match(lines[j].strip()) or
                                  ALSO.match(lines[j].strip()) or
                                  ADD.match(lines[j].strip())):
            j += 1
        if j < len(lines) and lines[j].strip().startswith("<!-- seen: "):
            k = j
            while k < len(lines) and lines[k].strip() != "<!-- /seen -->":
                k += 1
            del lines[j:k + 1]
        shown = [x.rstrip().replace("\t", "    ") for x in out.rstrip("\n").split("\n")]
        if len(shown) > SEEN_LINES:
            more = len(shown) - (SEEN_LINES - 2)
            shown = shown[:SEEN_LINES - 2] + ["... (%d more lines)" % more]
        if shown == [""]:
            shown = ["(nothing)"]
        ind = " " * step.indent
        new = ["%s<!-- seen: %s in %s -->" % (ind, run.ident, run.config),
               "%s<details><summary>What one run printed (%s)</summary>" % (ind, run.config),
               "", ind + "```"] + [(ind + x).rstrip() for x in shown] + \
              [ind + "```", "", ind + "</details>", ind + "<!-- /seen -->"]
        lines[j:j] = new
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    print("labs.py: %d steps show what a run printed" % len(blocks))
    return 0


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    runs = parse(argv[2])
    if argv[1] == "list":
        for r in runs:
            print(r.ident, r.arch, r.config)
        return 0
    if argv[1] == "script" and len(argv) == 5:
        with open(argv[4], "w", encoding="utf-8") as f:
            f.write(script(find(runs, argv[3])))
        return 0
    if argv[1] == "adds" and len(argv) == 4:
        for path in find(runs, argv[3]).adds:
            print(path)
        return 0
    if argv[1] == "verify" and len(argv) == 5:
        return verify(find(runs, argv[3]), argv[4])
    if argv[1] == "seen" and len(argv) == 4:
        return seen(argv[2], argv[3])
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
