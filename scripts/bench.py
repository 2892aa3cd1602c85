#!/usr/bin/env python3
"""The benchmark's host half (./run-vm.sh bench): gather every trial of a
run, take medians and spreads, the ratios against the baselines measured in
the same run, and write

  results.csv    every trial: figure, trial, value, unit, p50_us, p99_us
  summary.json   medians, the headline ratios and the targets they meet
  *.png          throughput against size, streams of 4 MiB ops against
                 their depth, op rate against queue depth, the latency CDF
                 (python3-matplotlib)

usage: bench.py DIR

DIR holds the guest's results.tap (dmalab_perf's "# perf," and
"# perfcdf," lines) and host-memcpy.txt (the host's memcpy, measured
before and after the boot).  Prints the table.  Exits 1 when the run has
no figure at all.
"""

import csv
import json
import os
import re
import statistics
import sys

# Headline ratios: name -> (figure, baseline figure, target or None).
# "At depth 2 or more" for the large copies: 4 MiB ops of the caller's
# memory (4 KiB pages, the driver's defaults, its pin cache among them)
# kept 4 in flight; 64 MiB moved as 4 ops of a batch.
HEADLINES = {
    "h2d_4MiB_vs_host_memcpy": ("h2d_4MiB_stream_qd4_pg4KiB", "host_memcpy_4MiB", 0.8),
    "d2h_4MiB_vs_host_memcpy": ("d2h_4MiB_stream_qd4_pg4KiB", "host_memcpy_4MiB", 0.8),
    "copy_4MiB_vs_host_memcpy": ("copy_4MiB_stream_qd4_pg4KiB", "host_memcpy_4MiB", 0.8),
    # the same with the pin cache off: every page pinned, mapped, unmapped
    # and unpinned for every op; no target, it shows what the cache saves
    "h2d_4MiB_uncached_vs_host_memcpy": ("h2d_4MiB_stream_qd4_nocache4KiB", "host_memcpy_4MiB", None),
    "d2h_4MiB_uncached_vs_host_memcpy": ("d2h_4MiB_stream_qd4_nocache4KiB", "host_memcpy_4MiB", None),
    "copy_4MiB_uncached_vs_host_memcpy": ("copy_4MiB_stream_qd4_nocache4KiB", "host_memcpy_4MiB", None),
    # the same streams from the DMA buffers the driver maps once: the
    # engine itself, without the guest's pinning of 1,024 pages per op
    "h2d_4MiB_dma_vs_host_memcpy": ("h2d_4MiB_stream_qd4_dma", "host_memcpy_4MiB", 0.8),
    "d2h_4MiB_dma_vs_host_memcpy": ("d2h_4MiB_stream_qd4_dma", "host_memcpy_4MiB", 0.8),
    "copy_4MiB_dma_vs_host_memcpy": ("copy_4MiB_stream_qd4_dma", "host_memcpy_4MiB", 0.8),
    # the caller's 4 KiB pages registered once (DMALAB_IOC_REGISTER): no
    # pinning or mapping per op, the device's SG lists still of 4 KiB pages
    "h2d_4MiB_registered_vs_host_memcpy": ("h2d_4MiB_stream_qd4_reg4KiB", "host_memcpy_4MiB", 0.8),
    "d2h_4MiB_registered_vs_host_memcpy": ("d2h_4MiB_stream_qd4_reg4KiB", "host_memcpy_4MiB", 0.8),
    "copy_4MiB_registered_vs_host_memcpy": ("copy_4MiB_stream_qd4_reg4KiB", "host_memcpy_4MiB", 0.8),
    "h2d_64MiB_vs_host_memcpy": ("h2d_64MiB_qd4_pg4KiB", "host_memcpy_64MiB", 0.8),
    "d2h_64MiB_vs_host_memcpy": ("d2h_64MiB_qd4_pg4KiB", "host_memcpy_64MiB", 0.8),
    "copy_64MiB_vs_host_memcpy": ("copy_64MiB_qd4_pg4KiB", "host_memcpy_64MiB", 0.8),
    "qd1_4KiB_vs_nvme": ("dmalab_ioctl_qd1_4KiB", "nvme_randread_qd1_4KiB", 1.5),
    "iouring_qd32_4KiB_vs_nvme": ("dmalab_iouring_qd32_4KiB", "nvme_iouring_qd32_4KiB", 1.0),
    "batch_64B_vs_nvme_qd1": ("dmalab_batch256_64B", "nvme_randread_qd1_4KiB", 15.0),
    "fio_randread_qd32_vs_nvme": ("fio_randread_qd32_4KiB_dmalab",
                                  "fio_randread_qd32_4KiB_nvme", 1.0),
    # whether io_uring's polled completion pays: no target
    "iopoll_qd1_4KiB_vs_irq": ("dmalab_iouring_iopoll_qd1_4KiB",
                               "dmalab_iouring_qd1_4KiB", None),
    "iopoll_qd32_4KiB_vs_irq": ("dmalab_iouring_iopoll_qd32_4KiB",
                                "dmalab_iouring_qd32_4KiB", None),
}

SIZE_RE = re.compile(r"_(\d+)(B|KiB|MiB)(?:_|$)")
UNIT = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20}


def size_of(fig):
    m = SIZE_RE.search(fig)
    return int(m.group(1)) * UNIT[m.group(2)] if m else None


def read_trials(d):
    rows, cdfs = [], {}
    sources = [os.path.join(d, "results.tap"), os.path.join(d, "host-memcpy.txt")]
    for path in sources:
        if not os.path.exists(path):
            continue
        with open(path, errors="replace") as f:
            for line in f:
                line = line.strip()
                if line.startswith("# "):
                    line = line[2:]
                if line.startswith("perf,"):
                    p = line.split(",")
                    if len(p) < 7:
                        continue
                    rows.append({
                        "figure": p[1], "trial": int(p[2]),
                        "value": float(p[3]), "unit": p[4],
                        "p50_us": float(p[5]) if p[5] else None,
                        "p99_us": float(p[6]) if p[6] else None,
                    })
                elif line.startswith("perfcdf,"):
                    p = line.split(",")
                    cdfs[p[1]] = [float(v) for v in p[2:]]
    return rows, cdfs


def summarize(rows):
    figs = {}
    for r in rows:
        figs.setdefault(r["figure"], []).append(r)
    out = {}
    for fig, rs in figs.items():
        vals = [r["value"] for r in rs]
        p50 = [r["p50_us"] for r in rs if r["p50_us"] is not None]
        p99 = [r["p99_us"] for r in rs if r["p99_us"] is not None]
        out[fig] = {
            "unit": rs[0]["unit"], "trials": len(vals),
            "median": statistics.median(vals),
            "min": min(vals), "max": max(vals),
            "p50_us": statistics.median(p50) if p50 else None,
            "p99_us": statistics.median(p99) if p99 else None,
        }
    return out


def baseline_of(fig, figs):
    """The figure a row is compared with in the table, if measured: the
    host's memcpy of the same size for copies, NVMe's 4 KiB random reads
    at the same depth (QD1 for QD1 and batches) for op rates."""
    m = SIZE_RE.search(fig)
    if fig.startswith("fio_") and fig.endswith("_dmalab"):
        name = fig[:-len("dmalab")] + "nvme"
    elif fig.startswith(("h2d_", "d2h_", "copy_", "memcpy_guest_")) and m:
        name = "host_memcpy_%s%s" % (m.group(1), m.group(2))
    elif fig.startswith("dmalab_") and "qd32" in fig:
        name = "nvme_iouring_qd32_4KiB"
    elif fig.startswith("dmalab_"):
        name = "nvme_randread_qd1_4KiB"
    else:
        return None
    return name if name in figs else None


def ratio(figs, a, b):
    if a in figs and b in figs and figs[b]["median"] > 0:
        return figs[a]["median"] / figs[b]["median"]
    return None


def plots(d, figs, cdfs):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("bench: python3-matplotlib is missing: no plots")
        return []
    made = []

    def finish(fig, ax, title, xlabel, ylabel, name):
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.legend(fontsize="small")
        ax.grid(True, which="both", alpha=0.3)
        path = os.path.join(d, name)
        fig.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(fig)
        made.append(path)

    def series(prefix, suffix):
        pts = []
        for fig, s in figs.items():
            if fig.startswith(prefix) and fig.endswith(suffix) and size_of(fig):
                pts.append((size_of(fig), s["median"]))
        return sorted(pts)

    fig, ax = plt.subplots(figsize=(8, 5))
    lines = [
        ("DMA H2D (4 ops)", "h2d_", "_qd4_pg4KiB"),
        ("DMA D2H (4 ops)", "d2h_", "_qd4_pg4KiB"),
        ("DMA COPY (4 ops)", "copy_", "_qd4_pg4KiB"),
        ("DMA H2D (1 op)", "h2d_", "_qd1_pg4KiB"),
        ("DMA H2D, 2 MiB pages", "h2d_", "_qd4_pg2MiB"),
        ("guest memcpy", "memcpy_guest_", "_pg4KiB"),
        ("host memcpy", "host_memcpy_", ""),
    ]
    for label, prefix, suffix in lines:
        pts = series(prefix, suffix)
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label)
    if "nvme_seqread_1MiB" in figs:
        ax.axhline(figs["nvme_seqread_1MiB"]["median"], linestyle="--", color="gray",
                   label="NVMe 1 MiB sequential read")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    finish(fig, ax, "dmalab throughput against size", "transfer size (bytes)",
           "MB/s (median of trials)", "throughput.png")

    stream_re = re.compile(r"^(h2d|d2h|copy)_4MiB_stream_qd(\d+)_(\w+)$")
    streams = {}
    for f, st in figs.items():
        m = stream_re.match(f)
        if m:
            streams.setdefault((m.group(1), m.group(3)), []).append(
                (int(m.group(2)), st["median"]))
    if streams:
        fig, ax = plt.subplots(figsize=(8, 5))
        # one colour per opcode, one line style and marker per buffer
        kinds = {"pg4KiB": "4 KiB pages", "reg4KiB": "4 KiB pages, registered",
                 "nocache4KiB": "4 KiB pages, pin cache off",
                 "pg2MiB": "2 MiB pages", "dma": "DMA buffers"}
        styles = {"pg4KiB": ("-", "o"), "reg4KiB": ("-", "s"),
                  "nocache4KiB": (":", "x"),
                  "pg2MiB": ("--", "^"), "dma": (":", "D")}
        colours = {"h2d": "tab:blue", "d2h": "tab:orange", "copy": "tab:green"}
        for (op, kind), pts in sorted(streams.items()):
            pts.sort()
            style, marker = styles.get(kind, ("-", "o"))
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=marker,
                    linestyle=style, color=colours.get(op),
                    alpha=1.0 if kind.endswith("4KiB") else 0.6,
                    label="%s, %s" % (op.upper(), kinds.get(kind, kind)))
        if "host_memcpy_4MiB" in figs:
            ax.axhline(figs["host_memcpy_4MiB"]["median"], color="black",
                       linestyle="-.", label="host memcpy, 4 MiB")
        ax.set_xscale("log", base=2)
        ax.set_xticks([1, 2, 4], ["1", "2", "4"])
        ax.set_ylim(bottom=0)
        finish(fig, ax, "streams of 4 MiB ops against the ops in flight",
               "ops in flight", "MB/s (median of trials)", "streams.png")

    fig, ax = plt.subplots(figsize=(8, 5))
    for dev, style in (("dmalab", "-"), ("nvme", "--")):
        pts = [(q, figs["fio_randread_qd%d_4KiB_%s" % (q, dev)]["median"])
               for q in (1, 32) if "fio_randread_qd%d_4KiB_%s" % (q, dev) in figs]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="^",
                    linestyle=style, label="fio 4 KiB randread, %s" % dev)
    for size in ("64B", "4KiB"):
        pts = []
        for label, name, qd in (("ioctl", "dmalab_ioctl_qd1_%s", 1),
                                ("io_uring", "dmalab_iouring_qd1_%s", 1),
                                ("io_uring", "dmalab_iouring_qd32_%s", 32),
                                ("io_uring polled", "dmalab_iouring_iopoll_qd1_%s", 1),
                                ("io_uring polled", "dmalab_iouring_iopoll_qd32_%s", 32),
                                ("libaio", "dmalab_libaio_qd32_%s", 32),
                                ("async ioctl", "dmalab_async_qd32_%s", 32),
                                ("batch", "dmalab_batch256_%s", 256)):
            f = name % size
            if f in figs:
                pts.append((qd, figs[f]["median"], label))
        for label in sorted({p[2] for p in pts}):
            xs = [p[0] for p in pts if p[2] == label]
            ys = [p[1] for p in pts if p[2] == label]
            ax.plot(xs, ys, marker="o", label="dmalab %s, %s" % (label, size))
    nv = [(1, "nvme_randread_qd1_4KiB"), (32, "nvme_iouring_qd32_4KiB")]
    nv = [(q, figs[f]["median"]) for q, f in nv if f in figs]
    if nv:
        ax.plot([p[0] for p in nv], [p[1] for p in nv], marker="s", linestyle="--",
                color="black", label="NVMe 4 KiB random read")
    ax.set_xscale("log", base=2)
    finish(fig, ax, "op rate against queue depth",
           "ops in flight (queue depth; batch: ops per call)",
           "ops/s (median of trials)", "oprate.png")

    if cdfs:
        fig, ax = plt.subplots(figsize=(8, 5))
        for name, vals in sorted(cdfs.items()):
            ps = [i * 100.0 / (len(vals) - 1) for i in range(len(vals))]
            ax.plot(vals, ps, label=name)
        ax.set_xscale("log")
        finish(fig, ax, "latency CDF at queue depth 1 (first trial)",
               "latency (us)", "percentile", "latency-cdf.png")
    return made


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    d = sys.argv[1]
    rows, cdfs = read_trials(d)
    if not rows:
        print("bench: no figures in %s" % d, file=sys.stderr)
        return 1
    with open(os.path.join(d, "results.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["figure", "trial", "value", "unit",
                                          "p50_us", "p99_us"])
        w.writeheader()
        w.writerows(rows)
    figs = summarize(rows)

    head = {}
    for name, (a, b, target) in HEADLINES.items():
        r = ratio(figs, a, b)
        head[name] = {"ratio": round(r, 3) if r is not None else None,
                      "figure": a, "baseline": b, "target": target,
                      "met": (r >= target) if r is not None and target else None}
    summary = {
        "figures": figs,
        "headlines": {k: v["ratio"] for k, v in head.items()},
        "targets": head,
    }
    with open(os.path.join(d, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2, sort_keys=True)

    print("%-34s %12s %-6s %21s %9s %9s  %s" % (
        "figure", "median", "unit", "spread (min..max)", "p50 us", "p99 us",
        "ratio to baseline"))
    for fig in sorted(figs, key=lambda x: (x.split("_")[0], size_of(x) or 0, x)):
        s = figs[fig]
        base = baseline_of(fig, figs)
        r = ratio(figs, fig, base) if base else None
        print("%-34s %12.1f %-6s %10.1f..%-10.1f %9s %9s  %s" % (
            fig, s["median"], s["unit"], s["min"], s["max"],
            "%.1f" % s["p50_us"] if s["p50_us"] is not None else "",
            "%.1f" % s["p99_us"] if s["p99_us"] is not None else "",
            "%.2fx %s" % (r, base) if r is not None else ""))
    print()
    for name, h in head.items():
        if h["ratio"] is None:
            print("%-30s %s" % (name, h.get("note", "not measured in this run")))
        elif h["target"] is None:
            print("%-30s %6.2fx  (no target)" % (name, h["ratio"]))
        else:
            print("%-30s %6.2fx  (target %sx: %s)" % (
                name, h["ratio"], h["target"], "met" if h["met"] else "not met"))
    for path in plots(d, figs, cdfs):
        print("plot: %s" % path)
    print("trials: %s  summary: %s" % (os.path.join(d, "results.csv"),
                                      os.path.join(d, "summary.json")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
