#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/run_sched.py - the M:N scheduler's micro-benchmarks (issue 9): chan vs Go, side by side.

  chan  build/release/bench/sched_bench <bench> n=<n> procs=<p>
  go    build/peers/go_sched            <bench> n=<n> procs=<p>   (GOMAXPROCS=p)
Rows (see bench/sched_bench.c for what each one does):
  switch p=1            two goroutines alternating with chan_yield() / runtime.Gosched()
  spawn p=1, p=2        chan_go + wait group, one goroutine's whole life, cached stack
  pingpong p=1, p=2     unbuffered round trip between two goroutines
  xworker p=2           a hand-off that must cross workers: the sender spins, never parks
  xworker_thread p=1    the same from a plain thread (chan only: Go has no outside)
  park p=2              1e6 goroutines parked on one channel: wake-all ns per goroutine after
                        close(), peak RSS (VmHWM), threads, spawn ns per goroutine
Each round runs every impl once, the order alternating between rounds; a cell is the median
over --repeats rounds (default 3; --quick: 1 round, n / 10). Ratios: chan over the target and
chan over Go (< 1: chan is better), from the medians.

Writes results/<stamp>-sched/{table.txt,results.json} (or --dir) and prints the table.
"""
import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no bench/__pycache__ in the work tree
import run_suite  # noqa: E402  (machine(): one description of the machine)
from run_patterns import out_dir  # noqa: E402

IMPLS = ["chan", "go"]
BIN = {"chan": os.path.join(ROOT, "build/release/bench/sched_bench"),
       "go": os.path.join(ROOT, "build/peers/go_sched")}
# (bench, procs, n)
ROWS = [("switch", 1, 5000000), ("spawn", 1, 1000000), ("spawn", 2, 1000000),
        ("pingpong", 1, 1000000), ("pingpong", 2, 1000000), ("xworker", 2, 20000),
        ("xworker_thread", 1, 20000), ("park", 2, 1000000)]
# What each row reports: (field, label, unit scale, target or None)
METRICS = {
    "switch": [("ns_per_op", "ns per switch", 1, 22)],
    "spawn": [("ns_per_op", "ns per goroutine", 1, 500)],
    "pingpong": [("ns_per_op", "ns per round trip", 1, 200)],
    "xworker": [("ns_per_op", "ns per round trip (mean)", 1, 1000),
                ("p50_ns", "ns per round trip (p50)", 1, 1000),
                ("max_ns", "ns per round trip (max)", 1, None)],
    "park": [("ns_per_op", "wake-all ns per goroutine", 1, 1000),
             ("rss_kib", "peak RSS GiB", 1.0 / (1024 * 1024), 4),
             ("threads", "threads", 1, None),
             ("spawn_ns", "spawn ns per goroutine", 1, None)],
}
METRICS["xworker_thread"] = METRICS["xworker"]


def run_once(impl, bench, procs, n, timeout):
    """The fields of the result line, or an error word."""
    cmd = [BIN[impl], bench, "n=%d" % n, "procs=%d" % procs]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        sys.stderr.write("  %s: timeout after %d s\n" % (" ".join(cmd), timeout))
        return "timeout"
    if out.returncode != 0:
        sys.stderr.write("  %s: exit %d: %s\n" % (" ".join(cmd), out.returncode,
                                                 out.stderr.strip()[-300:]))
        return "failed"
    lines = out.stdout.strip().splitlines()
    fields = dict(kv.split("=", 1) for kv in (lines[-1].split() if lines else []) if "=" in kv)
    if fields.get("secs") == "n/a":
        return "n/a"
    try:
        return {k: float(v) for k, v in fields.items()
                if k not in ("impl", "bench")}
    except ValueError:
        return "failed"


def median(runs, field):
    vals = [r[field] for r in runs if isinstance(r, dict) and field in r]
    if vals:
        return statistics.median(vals)
    return next((r for r in runs if isinstance(r, str)), None)


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if v >= 100 or v == int(v):
        return "%.0f" % v
    return "%.2f" % v if v < 10 else "%.1f" % v


def ratio(a, b):
    if isinstance(a, float) and isinstance(b, (int, float)) and b:
        return "%.2f" % (a / b)
    return "-"


def render(lines):
    widths = [max(len(str(r[k])) for r in lines) for k in range(len(lines[0]))]
    text = []
    for i, r in enumerate(lines):
        text.append("  ".join(str(c).ljust(widths[k]) if k < 3 else str(c).rjust(widths[k])
                              for k, c in enumerate(r)))
        if i == 0:
            text.append("  ".join("-" * w for w in widths))
    return "\n".join(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3, help="rounds; the median is kept")
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies every row's n")
    ap.add_argument("--timeout", type=int, default=180, help="seconds per run")
    ap.add_argument("--quick", action="store_true", help="smoke run: n / 10, 1 round")
    ap.add_argument("--only", default="", help="comma list of benches")
    ap.add_argument("--dir", default="", help="output folder (default: results/<stamp>-sched)")
    args = ap.parse_args()
    if args.quick:
        args.scale, args.repeats, args.timeout = args.scale / 10, 1, 60
    if not args.dir:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        args.dir = os.path.join(ROOT, "results", stamp + "-sched")
    impls = [i for i in IMPLS if os.access(BIN[i], os.X_OK) or
             (sys.stderr.write("skipping %s: %s not built\n" % (i, BIN[i])) and False)]
    if "chan" not in impls:
        return 1
    only = set(b for b in args.only.split(",") if b)
    todo = [(b, p, max(100, int(n * args.scale))) for b, p, n in ROWS if not only or b in only]

    res = []
    for k, (bench, procs, n) in enumerate(todo, 1):
        sys.stdout.write("[%d/%d] %-14s procs=%d n=%-8d " % (k, len(todo), bench, procs, n))
        sys.stdout.flush()
        runs = {i: [] for i in IMPLS}
        for rnd in range(args.repeats):
            for i in (impls if rnd % 2 == 0 else impls[::-1]):
                if runs[i] and isinstance(runs[i][-1], str):
                    runs[i].append(runs[i][-1])  # n/a, timeout, failed: do not repeat
                    continue
                runs[i].append(run_once(i, bench, procs, n, args.timeout))
        res.append({"bench": bench, "procs": procs, "n": n, "runs": runs})
        field = METRICS[bench][0][0]
        sys.stdout.write(" ".join("%s=%s" % (i, fmt(median(runs[i], field))) for i in impls))
        sys.stdout.write("\n")
        sys.stdout.flush()

    lines = [["bench", "procs", "metric", "chan", "go", "target", "chan/target", "chan/go"]]
    for r in res:
        for field, label, scale, target in METRICS[r["bench"]]:
            m = {i: median(r["runs"][i], field) for i in IMPLS}
            m = {i: v * scale if isinstance(v, float) else v for i, v in m.items()}
            r.setdefault("median", {})[field] = m
            lines.append([r["bench"], r["procs"], label, fmt(m["chan"]), fmt(m["go"]),
                          "-" if target is None else "<= %s" % target,
                          "-" if target is None else ratio(m["chan"], target),
                          ratio(m["chan"], m["go"])])
    info = run_suite.machine()
    text = ("chan M:N scheduler micro-benchmarks (issue 9), %s\n%s, %d CPUs, Linux %s, %s\n"
            "median of %d round(s)%s; ratios from the medians (< 1: chan is better)\n\n" %
            (info["date"], info["cpu"], info["cpus"], info["kernel"], info["go"], args.repeats,
             " (--quick: smaller n, not a measurement)" if args.quick else "")
            + render(lines) + "\n")
    outdir = out_dir(args)
    with open(os.path.join(outdir, "table.txt"), "w") as f:
        f.write(text)
    with open(os.path.join(outdir, "results.json"), "w") as f:
        info.update({"repeats": args.repeats, "quick": args.quick})
        json.dump({"machine": info, "results": res}, f, indent=1)
    print("\n" + text)
    print("wrote %s/{table.txt,results.json}" % outdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
