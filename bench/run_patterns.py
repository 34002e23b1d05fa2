#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/run_patterns.py - the pattern layer's benchmarks (issue 7), chan and Go side by side.

Runs build/release/bench/pattern_bench (chan) and build/peers/go_patterns (Go) on the same
rows, round-robin within each repeat (the order alternates between rounds), keeps the median
of --repeats runs per cell, and writes into the results folder of this run of the suite
(results/latest, or --dir):

  patterns_table.txt   the tables, the ratios and the issue's targets
  patterns.csv         one line per (row, impl): the median of the row's metric, and every run
  patterns.json        the same with the machine, every output line and the targets
  patterns_plot.png    (if gnuplot is installed) one panel per workload

Rows (both binaries take the same arguments and print one key=value line per run):
  bare            cap {0,1,64,1024} x batch {1,64}: producer -> one channel -> sink, the
                  baseline hop; ns per element
  pipeline_depth  k {1,2,4,8} identity stages x cap x batch; ns per element per stage
                  (wall time / n / k; the producer's and the sink's hop are included)
  map_scaling     workers 1..8 x fn {noop, spin1us, spin100us} x {unordered, ordered},
                  capacity --map-cap; items/s
  merge_fanin     inputs {2,8,64,1024}, each fed by its own producer, capacity --merge-cap;
                  messages/s and the OS threads of the process; chan at merge batch 1 (the
                  default) and 64; the Go merge has no batch, so both chan rows are compared
                  with the same Go run (batch=1)

The ratio column is chan's time per element over Go's (ns/elem, ns/item, ns/msg, < 1: chan is
faster, also for the throughput rows), taken within each round and then the median over rounds,
so that a VM whose speed drifts compares the two under the same machine state.
"""
import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no bench/__pycache__ in the work tree
import run_suite  # noqa: E402  (machine(), ncpu(): one description of the machine)

IMPLS = ["chan", "go"]
BINARIES = {"chan": os.path.join(ROOT, "build/release/bench/pattern_bench"),
            "go": os.path.join(ROOT, "build/peers/go_patterns")}
CAPS = [0, 1, 64, 1024]
BATCHES = [1, 64]
DEPTHS = [1, 2, 4, 8]
FNS = ["noop", "spin1us", "spin100us"]
ORDERS = ["unordered", "ordered"]
INPUTS = [2, 8, 64, 1024]
BENCHES = ["bare", "pipeline_depth", "map_scaling", "merge_fanin"]

# What each bench reports: the metric shown in the table, and the time per element the ratio
# is taken on (lower is better).
SHOWN = {"bare": "ns_per_elem", "pipeline_depth": "ns_per_elem_stage",
         "map_scaling": "items_per_s", "merge_fanin": "msgs_per_s"}
TIME = {"bare": "ns_per_elem", "pipeline_depth": "ns_per_elem_stage",
        "map_scaling": "ns_per_item", "merge_fanin": "ns_per_msg"}


def hops_budget(cap, scale):
    """Element-hops per pipeline run: rendezvous and capacity-1 hops are much slower."""
    base = 4000000 if cap >= 64 else 1000000 if cap == 1 else 500000
    return int(base * scale)


def rows(args):
    """Every row: (bench, {param: value}) in table order; n is sized per row."""
    s = args.scale
    out = []
    for cap in CAPS:
        for b in BATCHES:
            out.append(("bare", {"cap": cap, "batch": b, "n": max(256, hops_budget(cap, s))}))
    for cap in CAPS:
        for b in BATCHES:
            for k in DEPTHS:
                n = max(256, hops_budget(cap, s) // (k + 1))
                out.append(("pipeline_depth", {"k": k, "cap": cap, "batch": b, "n": n}))
    per_fn = {"noop": 500000, "spin1us": 100000, "spin100us": 2000}
    for fn in FNS:
        for order in ORDERS:
            for w in range(1, 9):
                out.append(("map_scaling", {"workers": w, "fn": fn, "order": order,
                                            "cap": args.map_cap,
                                            "n": max(16, int(per_fn[fn] * s))}))
    for m in INPUTS:
        for b in BATCHES:
            out.append(("merge_fanin", {"inputs": m, "cap": args.merge_cap, "batch": b,
                                        "n": max(4 * m, int(1000000 * s))}))
    return [r for r in out if r[0] in args.only]


def impl_params(impl, bench, params):
    if impl == "go" and bench == "merge_fanin":
        return dict(params, batch=1)  # the blog's merge has no batch; see the docstring
    return params


def run_once(impl, bench, params, timeout):
    """One run: the parsed key=value line, or an error word."""
    cmd = [BINARIES[impl], bench] + ["%s=%s" % kv for kv in params.items()]
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
    if TIME[bench] not in fields:
        return "failed"
    fields["line"] = lines[-1]
    return fields


def value(run, key):
    return float(run[key]) if isinstance(run, dict) and key in run else None


def median_of(runs, key):
    vals = [v for v in (value(r, key) for r in runs) if v is not None]
    if vals:
        return statistics.median(vals)
    words = [r for r in runs if isinstance(r, str)]
    return words[0] if words else None


def round_ratio(a_runs, b_runs, key):
    """Median over rounds of a / b, each taken within one round."""
    ratios = []
    for a, b in zip(a_runs, b_runs):
        x, y = value(a, key), value(b, key)
        if x is not None and y:
            ratios.append(x / y)
    return statistics.median(ratios) if ratios else None


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if v >= 1e6:
        return "%.2fM" % (v / 1e6)
    if v >= 1e4:
        return "%.1fk" % (v / 1e3)
    if v >= 100:
        return "%.0f" % v
    if v >= 1:
        return "%.2f" % v
    return "%.3f" % v


def fmt_ratio(r):
    return "-" if r is None else "%.2f" % r


def render(lines):
    widths = [max(len(str(r[k])) for r in lines) for k in range(len(lines[0]))]
    text = []
    for n, r in enumerate(lines):
        text.append("  ".join(str(c).rjust(widths[k]) for k, c in enumerate(r)))
        if n == 0:
            text.append("  ".join("-" * w for w in widths))
    return "\n".join(text)


CONFIG = {"bare": ["cap", "batch"], "pipeline_depth": ["k", "cap", "batch"],
          "map_scaling": ["workers", "fn", "order"], "merge_fanin": ["inputs", "batch"]}
TITLE = {"bare": "bare: producer -> one channel -> sink (ns per element)",
         "pipeline_depth": "pipeline_depth: k identity stages (ns per element per stage)",
         "map_scaling": "map_scaling: one map stage, capacity %(map_cap)d (items/s)",
         "merge_fanin": "merge_fanin: one producer per input, capacity %(merge_cap)d "
                        "(messages/s; OS threads during the run)"}


def tables(res, args):
    out = []
    for bench in BENCHES:
        mine = [r for r in res if r["bench"] == bench]
        if not mine:
            continue
        head = CONFIG[bench] + ["n"] + IMPLS + ["chan/go time"]
        if bench == "merge_fanin":
            head += ["threads " + i for i in IMPLS]
        lines = [head]
        for r in mine:
            cells = [r["params"][c] for c in CONFIG[bench]] + [r["params"]["n"]]
            cells += [fmt(r["median"][i]) for i in IMPLS] + [fmt_ratio(r["ratio"])]
            if bench == "merge_fanin":
                cells += ["%d" % r["threads"][i] if isinstance(r["threads"][i], float) else
                          fmt(r["threads"][i]) for i in IMPLS]
            lines.append(cells)
        out.append(TITLE[bench] % vars(args) + "\n" + render(lines))
    return "\n\n".join(out)


def find(res, bench, **kw):
    for r in res:
        if r["bench"] == bench and all(r["params"].get(k) == v for k, v in kw.items()):
            return r
    return None


def chan_time(r):
    return r["time"]["chan"] if r and isinstance(r["time"]["chan"], float) else None


def targets(res, args):
    """The issue's four targets, from this run's medians and ratios: (text, json)."""
    text, js = [], {}

    hop = [r for r in res if r["bench"] == "pipeline_depth" and r["params"]["cap"] >= 64
           and r["ratio"] is not None]
    if hop:
        worst = max(hop, key=lambda r: r["ratio"])
        met = sum(r["ratio"] <= 1.0 for r in hop)
        text.append("1. per-stage hop at capacity >= 64 no slower than Go's (chan/go <= 1): "
                    "met in %d of %d rows; worst %.2f at k=%d cap=%d batch=%d" %
                    (met, len(hop), worst["ratio"], worst["params"]["k"],
                     worst["params"]["cap"], worst["params"]["batch"]))
        js["hop_vs_go"] = {"met": met, "rows": len(hop), "worst": worst["ratio"],
                           "worst_row": worst["params"]}

    m1 = find(res, "map_scaling", workers=1, fn="noop", order="unordered")
    bare = find(res, "bare", cap=args.map_cap, batch=1)
    if m1 and bare:
        parts, js["noop_map_vs_bare"] = [], {}
        for i in IMPLS:
            a, b = m1["time"][i], bare["time"][i]
            if isinstance(a, float) and isinstance(b, float) and b > 0:
                parts.append("%s %.2fx" % (i, a / b))
                js["noop_map_vs_bare"][i] = a / b
        text.append("2. no-op map at 1 worker <= 2x a bare send+recv (map ns/item over bare "
                    "ns/elem, capacity %d, batch 1): %s%s" %
                    (args.map_cap, ", ".join(parts) or "-",
                     "" if "chan" not in js["noop_map_vs_bare"] else
                     "  -> %s" % ("met" if js["noop_map_vs_bare"]["chan"] <= 2.0 else "missed")))

    for n, b in enumerate(BATCHES):
        m = find(res, "merge_fanin", inputs=64, batch=b)
        if m and m["ratio"] is not None:
            text.append("3%s merge of 64 inputs at least Go's throughput (chan/go time <= 1), "
                        "chan merge batch %d: %.2f -> %s" %
                        ("ab"[n], b, m["ratio"], "met" if m["ratio"] <= 1.0 else "missed"))
            js["merge64_batch%d" % b] = m["ratio"]

    speedups = []
    for r in res:
        if r["bench"] != "pipeline_depth" or r["params"]["batch"] != 1:
            continue
        p = r["params"]
        r64 = find(res, "pipeline_depth", k=p["k"], cap=p["cap"], batch=64)
        a, b = chan_time(r), chan_time(r64)
        if a and b:
            speedups.append((a / b, p["k"], p["cap"]))
    if speedups:
        met = sum(s >= 3.0 for s, _, _ in speedups)
        worst = min(speedups)
        text.append("4. batch 64 at least 3x faster per element than batch 1 (chan, per k and "
                    "cap): met in %d of %d; worst %.2fx at k=%d cap=%d; all: %s" %
                    (met, len(speedups), worst[0], worst[1], worst[2],
                     " ".join("k%d/c%d=%.1f" % (k, c, s) for s, k, c in speedups)))
        js["batch64_speedup"] = [{"k": k, "cap": c, "speedup": s} for s, k, c in speedups]
    return "\n".join(text) or "(none: this run lacks the rows they need)", js


def plot(outdir, res):
    """Six panels: pipeline (batch 1, 64), map (unordered, ordered), merge rate and threads."""
    if not shutil.which("gnuplot"):
        return False
    panels = []

    def panel(name, title, xlabel, ylabel, xs, series, logx=False):
        """series: (title, x -> value, colour, dash) each; writes the panel's data file."""
        # gnuplot refuses a series with no point at all: leave those out.
        series = [s for s in series if any(s[1](x) is not None for x in xs)]
        if not series:
            return
        dat = os.path.join(outdir, "patterns_%s.dat" % name)
        with open(dat, "w") as f:
            for x in xs:
                vals = [s[1](x) for s in series]
                f.write("%s %s\n" % (x, " ".join("%.6g" % v if isinstance(v, float) else "NaN"
                                                  for v in vals)))
        panels.append((dat, title, xlabel, ylabel, series, logx))

    def metric(bench, impl, key, **kw):
        r = find(res, bench, **kw)
        v = r["median_of"][impl].get(key) if r else None
        return v if isinstance(v, float) else None

    dash = {"chan": 1, "go": 2}
    for b in BATCHES:
        series = [("%s cap %d" % (i, cap),
                   lambda k, i=i, cap=cap, b=b: metric("pipeline_depth", i, "ns_per_elem_stage",
                                                       k=k, cap=cap, batch=b), c + 1, dash[i])
                  for i in IMPLS for c, cap in enumerate(CAPS)]
        panel("pipe_b%d" % b, "pipeline_depth, batch %d: ns per element per stage" % b,
              "identity stages k", "ns (log)", DEPTHS, series)
    for order in ORDERS:
        series = [("%s %s" % (i, fn),
                   lambda w, i=i, fn=fn, order=order: metric("map_scaling", i, "items_per_s",
                                                             workers=w, fn=fn, order=order),
                   c + 1, dash[i])
                  for i in IMPLS for c, fn in enumerate(FNS)]
        panel("map_%s" % order, "map_scaling, %s: items/s" % order, "workers",
              "items/s (log)", list(range(1, 9)), series)
    for key, title in (("msgs_per_s", "merge_fanin: messages/s"),
                       ("threads", "merge_fanin: OS threads during the run")):
        series = [("%s batch %d" % (i, b),
                   lambda m, i=i, b=b: metric("merge_fanin", i, key, inputs=m, batch=b),
                   c + 1, dash[i])
                  for i in IMPLS for c, b in enumerate(BATCHES) if i == "chan" or b == 1]
        panel("merge_" + key, title, "inputs (log)", key + " (log)", INPUTS, series, True)

    if not panels:
        return False
    gp = os.path.join(outdir, "patterns_plot.gp")
    cairo = subprocess.run(["gnuplot", "-e", "set terminal pngcairo"],
                           capture_output=True).returncode == 0
    with open(gp, "w") as f:
        f.write('set terminal pngcairo size 1800,1100 font ",10"\n' if cairo else
                "set terminal png size 1800,1100\n")
        f.write('set output "%s"\n' % os.path.join(outdir, "patterns_plot.png"))
        f.write("set termoption noenhanced\nset key outside right top\nset grid\n")
        f.write("set multiplot layout 2,3 title 'chan (solid) vs Go (dashed): the pattern "
                "layer (issue 7)'\n")
        for dat, title, xlabel, ylabel, series, logx in panels:
            f.write("set title '%s'\nset xlabel '%s'\nset ylabel '%s'\nset logscale y\n" %
                    (title, xlabel, ylabel))
            f.write("set logscale x 2\n" if logx else "unset logscale x\n")
            f.write("plot %s\n" % ", ".join(
                "'%s' using 1:%d with linespoints lw 2 dt %d lc %d title '%s'" %
                (dat, n + 2, s[3], s[2], s[0]) for n, s in enumerate(series)))
        f.write("unset multiplot\n")
    return subprocess.run(["gnuplot", gp], capture_output=True).returncode == 0


def out_dir(args):
    if args.dir:
        os.makedirs(args.dir, exist_ok=True)
        return args.dir
    latest = os.path.join(ROOT, "results", "latest")
    if os.path.isdir(latest):
        return os.path.realpath(latest)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    d = os.path.join(ROOT, "results", stamp)
    os.makedirs(d, exist_ok=True)
    if os.path.islink(latest):
        os.remove(latest)
    os.symlink(stamp, latest)
    return d


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3, help="runs per cell; the median is kept")
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies every row's n")
    ap.add_argument("--timeout", type=int, default=60, help="seconds per run")
    ap.add_argument("--quick", action="store_true", help="smoke run: n / 50, 1 run per cell")
    ap.add_argument("--only", default=",".join(BENCHES), help="comma list of benches")
    ap.add_argument("--impls", default=",".join(IMPLS), help="comma list: chan,go")
    ap.add_argument("--map-cap", type=int, default=64, help="channel capacity of map_scaling")
    ap.add_argument("--merge-cap", type=int, default=64, help="channel capacity of merge_fanin")
    ap.add_argument("--dir", default="", help="output folder (default: results/latest)")
    args = ap.parse_args()
    if args.quick:
        args.scale, args.repeats, args.timeout = args.scale / 50, 1, 30
    args.only = [b for b in args.only.split(",") if b]
    impls = [i for i in args.impls.split(",") if i in IMPLS]
    impls = [i for i in impls if os.access(BINARIES[i], os.X_OK) or
             sys.stderr.write("skipping %s: %s not built\n" % (i, BINARIES[i]))]
    if not impls:
        return 1

    todo = rows(args)
    res = []
    for n, (bench, params) in enumerate(todo, 1):
        sys.stdout.write("[%3d/%d] %-14s %-44s " % (n, len(todo), bench, " ".join(
            "%s=%s" % kv for kv in params.items())))
        sys.stdout.flush()
        runs = {i: [] for i in IMPLS}
        for rnd in range(args.repeats):
            for i in (impls if rnd % 2 == 0 else impls[::-1]):
                if runs[i] and isinstance(runs[i][-1], str):
                    runs[i].append(runs[i][-1])  # n/a, timeout, failed: do not repeat
                    continue
                runs[i].append(run_once(i, bench, impl_params(i, bench, params), args.timeout))
        row = {"bench": bench, "params": params, "runs": runs,
               "median": {i: median_of(runs[i], SHOWN[bench]) if runs[i] else None
                          for i in IMPLS},
               "time": {i: median_of(runs[i], TIME[bench]) if runs[i] else None for i in IMPLS},
               "threads": {i: median_of(runs[i], "threads") if runs[i] else None
                           for i in IMPLS},
               "ratio": round_ratio(runs["chan"], runs["go"], TIME[bench])}
        row["median_of"] = {i: {k: median_of(runs[i], k) for k in
                                (SHOWN[bench], TIME[bench], "threads", "ns_per_elem")}
                            for i in IMPLS}
        res.append(row)
        sys.stdout.write(" ".join("%s=%s" % (i, fmt(row["median"][i])) for i in impls))
        sys.stdout.write("  chan/go=%s\n" % fmt_ratio(row["ratio"]))
        sys.stdout.flush()

    outdir = out_dir(args)
    info = run_suite.machine()
    info.update({"repeats": args.repeats, "scale": args.scale, "quick": args.quick,
                 "map_cap": args.map_cap, "merge_cap": args.merge_cap,
                 "timeout_s": args.timeout})
    ttext, tjs = targets(res, args)
    header = ("chan pattern benchmarks (issue 7), %s\n%s, %d CPUs, Linux %s, %s; median of %d%s\n"
              "cells: the row's metric per implementation; chan/go time: chan's time per element"
              " over Go's,\nthe median over rounds of the ratio within a round (< 1: chan is "
              "faster); threads: the process's OS threads\n"
              % (info["date"], info["cpu"], info["cpus"], info["kernel"], info["go"],
                 args.repeats, " (--quick: sizes / 50, not a measurement)" if args.quick else
                 ""))
    text = header + "\n" + tables(res, args) + "\n\nTargets of issue 7 (this run):\n" + ttext + "\n"
    with open(os.path.join(outdir, "patterns_table.txt"), "w") as f:
        f.write(text)
    with open(os.path.join(outdir, "patterns.csv"), "w") as f:
        f.write("bench,config,n,impl,metric,median,time_metric,time_median,threads,"
                "chan_over_go_time,runs\n")
        for r in res:
            cfg = " ".join("%s=%s" % (c, r["params"][c]) for c in CONFIG[r["bench"]])
            for i in IMPLS:
                if not r["runs"][i]:
                    continue
                med, tm = r["median"][i], r["time"][i]
                f.write("%s,%s,%d,%s,%s,%s,%s,%s,%s,%s,%s\n" % (
                    r["bench"], cfg, r["params"]["n"], i, SHOWN[r["bench"]],
                    med if isinstance(med, str) else "%.6g" % med,
                    TIME[r["bench"]], tm if isinstance(tm, str) else "%.6g" % tm,
                    "" if not isinstance(r["threads"][i], float) else "%d" % r["threads"][i],
                    "" if r["ratio"] is None else "%.4f" % r["ratio"],
                    " ".join(fmt(value(x, SHOWN[r["bench"]])) if isinstance(x, dict) else x
                             for x in r["runs"][i])))
    with open(os.path.join(outdir, "patterns.json"), "w") as f:
        json.dump({"machine": info, "targets": tjs,
                   "rows": [{"bench": r["bench"], "params": r["params"],
                             "median": r["median"], "time_per_elem": r["time"],
                             "threads": r["threads"], "chan_over_go_time": r["ratio"],
                             "runs": {i: [x if isinstance(x, str) else x["line"]
                                          for x in r["runs"][i]] for i in IMPLS}}
                            for r in res]}, f, indent=1)
    plotted = plot(outdir, res)
    print("\n" + text)
    print("wrote %s/{patterns_table.txt,patterns.csv,patterns.json%s}" %
          (outdir, ",patterns_plot.png" if plotted else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
