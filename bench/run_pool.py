#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/run_pool.py - the worker pool's pool_submit (issue 8): chan_pool vs Go's errgroup.

n jobs (default 1e6) submitted from one thread through 4 workers:
  chan         build/release/bench/pool_bench: chan_pool_new(g, 4, cap), chan_pool_submit
  go_errgroup  build/peers/go_pool impl=errgroup: errgroup.WithContext + SetLimit(4), g.Go per
               job (no queue: cap does not apply, the same program runs in every cap row)
  go_chan      build/peers/go_pool impl=chan: 4 goroutines ranging over a channel of cap
Rows: fn {noop, spin1us} x cap {0, 64, 1024}. Each repeat runs every impl once, the order
alternating between rounds; a cell is the median ns per job over --repeats runs, and each ratio
(chan over a Go impl, < 1: chan is faster) is the median over rounds of the ratio within a
round, so that a VM whose speed drifts compares both under the same machine state.

Writes pool_table.txt and pool.csv into results/latest (or --dir) and prints the table.
"""
import argparse
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no bench/__pycache__ in the work tree
import run_suite  # noqa: E402  (machine(): one description of the machine)
from run_patterns import out_dir  # noqa: E402  (results/<stamp>, results/latest)

IMPLS = ["chan", "go_errgroup", "go_chan"]
CHAN_BIN = os.path.join(ROOT, "build/release/bench/pool_bench")
GO_BIN = os.path.join(ROOT, "build/peers/go_pool")
FNS = ["noop", "spin1us"]
CAPS = [0, 64, 1024]


def command(impl, fn, cap, workers, n):
    args = ["pool_submit", "workers=%d" % workers, "cap=%d" % cap, "n=%d" % n, "fn=%s" % fn]
    if impl == "chan":
        return [CHAN_BIN] + args
    return [GO_BIN] + args + ["impl=" + impl[len("go_"):]]


def run_once(cmd, timeout):
    """ns per job of one run, or an error word."""
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
    try:
        return float(fields["ns_per_job"])
    except (KeyError, ValueError):
        return "failed"


def median(runs):
    vals = [r for r in runs if isinstance(r, float)]
    if vals:
        return statistics.median(vals)
    return runs[0] if runs else None


def round_ratio(a, b):
    r = [x / y for x, y in zip(a, b) if isinstance(x, float) and isinstance(y, float) and y > 0]
    return statistics.median(r) if r else None


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    return "%.0f" % v if v >= 100 else "%.1f" % v


def fmt_ratio(r):
    return "-" if r is None else "%.2f" % r


def render(lines):
    widths = [max(len(str(r[k])) for r in lines) for k in range(len(lines[0]))]
    text = []
    for i, r in enumerate(lines):
        text.append("  ".join(str(c).rjust(widths[k]) for k, c in enumerate(r)))
        if i == 0:
            text.append("  ".join("-" * w for w in widths))
    return "\n".join(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5, help="runs per cell; the median is kept")
    ap.add_argument("--n", type=int, default=1000000, help="jobs per run")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--timeout", type=int, default=120, help="seconds per run")
    ap.add_argument("--quick", action="store_true", help="smoke run: n / 50, 1 run per cell")
    ap.add_argument("--dir", default="", help="output folder (default: results/latest)")
    args = ap.parse_args()
    if args.quick:
        args.n, args.repeats, args.timeout = max(1000, args.n // 50), 1, 30
    impls = [i for i in IMPLS if os.access(CHAN_BIN if i == "chan" else GO_BIN, os.X_OK) or
             sys.stderr.write("skipping %s: not built\n" % i)]
    if "chan" not in impls:
        return 1

    res = []
    todo = [(fn, cap) for fn in FNS for cap in CAPS]
    for k, (fn, cap) in enumerate(todo, 1):
        sys.stdout.write("[%d/%d] pool_submit fn=%-7s cap=%-5d " % (k, len(todo), fn, cap))
        sys.stdout.flush()
        runs = {i: [] for i in IMPLS}
        for rnd in range(args.repeats):
            for i in (impls if rnd % 2 == 0 else impls[::-1]):
                if runs[i] and isinstance(runs[i][-1], str):
                    runs[i].append(runs[i][-1])  # timeout, failed: do not repeat
                    continue
                runs[i].append(run_once(command(i, fn, cap, args.workers, args.n), args.timeout))
        row = {"fn": fn, "cap": cap, "runs": runs, "median": {i: median(runs[i]) for i in IMPLS},
               "vs_errgroup": round_ratio(runs["chan"], runs["go_errgroup"]),
               "vs_go_chan": round_ratio(runs["chan"], runs["go_chan"])}
        res.append(row)
        sys.stdout.write(" ".join("%s=%s" % (i, fmt(row["median"][i])) for i in impls))
        sys.stdout.write("  chan/errgroup=%s chan/go_chan=%s\n" %
                         (fmt_ratio(row["vs_errgroup"]), fmt_ratio(row["vs_go_chan"])))
        sys.stdout.flush()

    info = run_suite.machine()
    lines = [["fn", "cap"] + ["%s ns/job" % i for i in IMPLS] + ["chan/errgroup", "chan/go_chan"]]
    for r in res:
        lines.append([r["fn"], r["cap"]] + [fmt(r["median"][i]) for i in IMPLS] +
                     [fmt_ratio(r["vs_errgroup"]), fmt_ratio(r["vs_go_chan"])])
    text = ("chan worker pool, pool_submit (issue 8), %s\n%s, %d CPUs, Linux %s, %s\n"
            "%d jobs from one thread, %d workers; median of %d%s; ratios: chan's ns per job over "
            "the peer's,\nthe median over rounds of the ratio within a round (< 1: chan is "
            "faster); go_errgroup has no queue (cap does not apply)\n\n" %
            (info["date"], info["cpu"], info["cpus"], info["kernel"], info["go"], args.n,
             args.workers, args.repeats, " (--quick: not a measurement)" if args.quick else "")
            + render(lines) + "\n")
    outdir = out_dir(args)
    with open(os.path.join(outdir, "pool_table.txt"), "w") as f:
        f.write(text)
    with open(os.path.join(outdir, "pool.csv"), "w") as f:
        f.write("bench,fn,cap,workers,n,impl,ns_per_job_median,chan_over_impl,runs\n")
        for r in res:
            for i in IMPLS:
                if not r["runs"][i]:
                    continue
                ratio = {"chan": 1.0, "go_errgroup": r["vs_errgroup"],
                         "go_chan": r["vs_go_chan"]}[i]
                m = r["median"][i]
                f.write("pool_submit,%s,%d,%d,%d,%s,%s,%s,%s\n" % (
                    r["fn"], r["cap"], args.workers, args.n, i,
                    m if isinstance(m, str) else "%.2f" % m,
                    "" if ratio is None else "%.4f" % ratio,
                    " ".join(fmt(x) for x in r["runs"][i])))
    print("\n" + text)
    print("wrote %s/{pool_table.txt,pool.csv}" % outdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
