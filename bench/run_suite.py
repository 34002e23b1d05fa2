#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/run_suite.py - run the benchmark suite for chan and its peers, side by side.

Every implementation is a binary with the same command line
(`<bin> <scenario> <cap> <threads> <msgs>`, one result line; see
bench/peers/README.md). This driver runs every (scenario, capacity) row for
every implementation, round-robin so that all implementations of a row see the
same machine state, repeats each measurement (median of --repeats runs), and
writes:

  results/<stamp>/results.csv     one line per (row, impl): median, runs
  results/<stamp>/results.json    the same, plus the machine description
  results/<stamp>/table.txt       the table printed at the end
  results/<stamp>/plot.png        bars per scenario, one panel per capacity
  results/latest -> <stamp>

Cells are median seconds, except pingpong (ns per round trip) and
select_shared (ns of CPU per select: wall time x min(T, CPUs) / selects, so
that a flat line means no contention, even with more threads than cores).
The ratio column is chan's value divided by the best peer's (< 1: chan wins),
taken within each round and then the median over rounds (see round_ratio()).
chan_go is the same binary as chan with CHAN_SUITE_GOROUTINES=1: every worker of
the scenario, and its main role, a goroutine on the M:N scheduler (chan runs
them on pthreads); it gets its own ratio column, against the same peers.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMPLS = ["chan", "chan_go", "go", "crossbeam", "ck_ring", "wfcq", "moodycamel", "mutex"]
OURS = ["chan", "chan_go"]  # the rest are peers: the ratios' denominators
PEERS = IMPLS[2:]
CAPS = ["0", "1", "N", "unbounded"]
SCENARIOS = ["seq", "spsc", "mpsc", "mpmc", "select_rx", "select_both"]
BURSTS = ["spsc_burst", "mpsc_burst", "mpmc_burst"]


def binary(impl):
    if impl in OURS:
        return os.path.join(ROOT, "build/release/bench/chan_suite")
    return os.path.join(ROOT, "build/peers", impl)


def ncpu():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def run_once(impl, scenario, cap, threads, msgs, timeout, pin):
    """One run: seconds (or ns_per_op for latency rows), 'n/a', or an error word."""
    cmd = [binary(impl), scenario.replace("_pinned", ""), cap, str(threads), str(msgs)]
    if pin:
        cmd = ["taskset", "-c", "0"] + cmd
    env = dict(os.environ)
    env.pop("CHAN_SUITE_GOROUTINES", None)
    if impl == "chan_go":
        env["CHAN_SUITE_GOROUTINES"] = "1"
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return "timeout"
    if out.returncode != 0:
        sys.stderr.write("  %s %s %s: exit %d: %s\n" % (impl, scenario, cap, out.returncode,
                                                        out.stderr.strip()[-300:]))
        return "failed"
    line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    fields = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
    if fields.get("secs") == "n/a":
        return "n/a"
    if "ns_per_op" in fields:
        v = float(fields["ns_per_op"])
        if scenario.startswith("select_shared"):
            v = v * min(threads, ncpu()) / threads
        return v
    if "secs" not in fields:
        return "failed"
    return float(fields["secs"])


def rows(args):
    """(label, scenario, cap, threads, pin) for every row of the suite."""
    out = []
    for cap in CAPS:
        for s in SCENARIOS + BURSTS:
            out.append((s, s, cap, args.threads, False))
    out.append(("pingpong", "pingpong", "0", 2, False))
    out.append(("pingpong_pinned", "pingpong_pinned", "0", 2, True))
    for t in (1, 2, 4, 8):
        out.append(("select_shared_t%d" % t, "select_shared", "1", t, False))
    return out


def sweep_rows(args):
    out = []
    for s in ("mpmc", "select_both"):
        for cap in ("0", "1", "N"):
            for t in args.sweep:
                out.append(("%s_t%d" % (s, t), s, cap, t, False))
    return out


def tool_version(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def dpkg_version(pkg):
    return tool_version(["dpkg-query", "-W", "-f=${Version}", pkg]) or "unknown"


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": cpu,
        "cpus": ncpu(),
        "kernel": platform.release(),
        "gcc": tool_version(["gcc", "--version"]).splitlines()[0] if shutil.which("gcc") else "",
        "go": tool_version(["go", "version"]),
        "rustc": tool_version(["rustc", "--version"]),
        "crossbeam-channel": dpkg_version("librust-crossbeam-channel-dev"),
        "libck": dpkg_version("libck-dev"),
        "liburcu": dpkg_version("liburcu-dev"),
        "moodycamel": dpkg_version("libconcurrentqueue-dev"),
    }


def fmt(v):
    if isinstance(v, str):
        return v
    if v >= 100:
        return "%.0f" % v
    if v >= 1:
        return "%.2f" % v
    return "%.4f" % v


def round_ratio(runs, label, cap, impls, ours="chan"):
    """Median over rounds of @ours / best peer, each ratio taken within one round.

    The implementations of a row run back to back in every round, so a ratio
    inside a round compares them under the same machine state; on a shared VM
    whose speed drifts for minutes at a time this is steadier than a ratio of
    medians taken from different rounds."""
    mine = runs.get((label, cap, ours), [])
    ratios = []
    for r, v in enumerate(mine):
        peers = [runs[(label, cap, i)][r] for i in impls if i not in OURS
                 and r < len(runs.get((label, cap, i), []))
                 and isinstance(runs[(label, cap, i)][r], float)]
        if isinstance(v, float) and peers:
            ratios.append(v / min(peers))
    return statistics.median(ratios) if ratios else None


def table(results, runs, impls, labels):
    ours = [i for i in OURS if i in impls]
    head = ["scenario", "cap"] + impls + ["%s/best peer" % o for o in ours]
    lines = [head]
    for label, cap in labels:
        cells = [results.get((label, cap, i), "-") for i in impls]
        ratios = [round_ratio(runs, label, cap, impls, o) for o in ours]
        lines.append([label, cap] + [fmt(c) for c in cells] +
                     ["-" if r is None else "%.2f" % r for r in ratios])
    widths = [max(len(str(r[k])) for r in lines) for k in range(len(head))]
    text = []
    for n, r in enumerate(lines):
        text.append("  ".join(str(c).rjust(widths[k]) if k >= 2 else str(c).ljust(widths[k])
                              for k, c in enumerate(r)))
        if n == 0:
            text.append("  ".join("-" * w for w in widths))
    return "\n".join(text)


def plot(outdir, results, impls):
    """Bars per scenario, one colour per implementation, one panel per capacity."""
    if not shutil.which("gnuplot"):
        return False
    dat = os.path.join(outdir, "plot.dat")
    with open(dat, "w") as f:
        for cap in CAPS:
            f.write('# cap %s\n"scenario" %s\n' % (cap, " ".join('"%s"' % i for i in impls)))
            for s in SCENARIOS:
                vals = []
                for i in impls:
                    v = results.get((s, cap, i))
                    vals.append("%.6f" % v if isinstance(v, float) else "NaN")
                f.write('"%s" %s\n' % (s, " ".join(vals)))
            f.write("\n\n")
    gp = os.path.join(outdir, "plot.gp")
    with open(gp, "w") as f:
        f.write('set terminal pngcairo size 1600,1000 font ",10"\n' if
                subprocess.run(["gnuplot", "-e", "set terminal pngcairo"],
                               capture_output=True).returncode == 0 else
                'set terminal png size 1600,1000\n')
        f.write('set output "%s"\n' % os.path.join(outdir, "plot.png"))
        f.write("set termoption noenhanced\n")
        f.write("set multiplot layout 2,2 title 'chan vs peers: seconds per workload (lower is better)'\n")
        f.write("set style data histograms\nset style histogram clustered gap 1\n")
        f.write("set style fill solid 0.9 border -1\nset boxwidth 0.9\nset logscale y\n")
        f.write("set key outside right top\nset grid ytics\nset xtics rotate by -30\n")
        f.write("set ylabel 'seconds (log)'\n")
        for n, cap in enumerate(CAPS):
            f.write("set title 'capacity %s'\n" % cap)
            # gnuplot rejects a histogram column with no point at all.
            have = [k for k, i in enumerate(impls)
                    if any(isinstance(results.get((s, cap, i)), float) for s in SCENARIOS)]
            cols = ", ".join("'%s' index %d using %d:xtic(1) title columnheader lc %d" %
                             (dat if j == 0 else "", n, k + 2, k + 1)
                             for j, k in enumerate(have))
            f.write("plot %s\n" % cols)
        f.write("unset multiplot\n")
    return subprocess.run(["gnuplot", gp], capture_output=True).returncode == 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--msgs", type=int, default=5000000, help="messages per run (default 5M)")
    ap.add_argument("--threads", type=int, default=4, help="T for mpsc/mpmc/select rows")
    ap.add_argument("--repeats", type=int, default=3, help="runs per cell; the median is kept")
    ap.add_argument("--timeout", type=int, default=60, help="seconds per run")
    ap.add_argument("--quick", action="store_true", help="smoke run: 200k messages, 1 run")
    ap.add_argument("--impls", default=",".join(IMPLS), help="comma list, default: all")
    ap.add_argument("--only", default="", help="comma list of scenario labels to run")
    ap.add_argument("--sweep", default="", help="thread counts for a scaling sweep, e.g. 1,2,4,8,16")
    ap.add_argument("--out", default=os.path.join(ROOT, "results"), help="results folder")
    args = ap.parse_args()
    if args.quick:
        args.msgs, args.repeats, args.timeout = 200000, 1, 30
    impls = [i for i in args.impls.split(",") if i]
    impls = [i for i in impls if os.access(binary(i), os.X_OK) or
             (sys.stderr.write("skipping %s: %s not built\n" % (i, binary(i))) and False)]
    args.sweep = [int(t) for t in args.sweep.split(",") if t]
    todo = sweep_rows(args) if args.sweep else rows(args)
    if args.only:
        keep = set(args.only.split(","))
        todo = [r for r in todo if r[0] in keep or r[1] in keep]

    results, runs = {}, {}
    total = len(todo)
    for n, (label, scenario, cap, threads, pin) in enumerate(todo, 1):
        sys.stdout.write("[%3d/%d] %-18s cap=%-9s T=%-2d " % (n, total, label, cap, threads))
        sys.stdout.flush()
        samples = {i: [] for i in impls}
        for _ in range(args.repeats):
            for i in impls:
                if i not in OURS and scenario.endswith("_burst"):
                    samples[i].append("n/a")
                    continue
                if samples[i] and isinstance(samples[i][-1], str):
                    continue  # n/a, timeout, failed: do not repeat
                samples[i].append(run_once(i, scenario, cap, threads, args.msgs,
                                           args.timeout, pin))
        for i in impls:
            nums = [v for v in samples[i] if isinstance(v, float)]
            results[(label, cap, i)] = statistics.median(nums) if nums else samples[i][0]
            runs[(label, cap, i)] = samples[i]
            sys.stdout.write("%s=%s " % (i, fmt(results[(label, cap, i)])))
        sys.stdout.write("\n")
        sys.stdout.flush()

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    outdir = os.path.join(args.out, stamp)
    os.makedirs(outdir, exist_ok=True)
    info = machine()
    info.update({"msgs": args.msgs, "threads": args.threads, "repeats": args.repeats,
                 "timeout_s": args.timeout})
    labels = []
    for (label, scenario, cap, threads, pin) in todo:
        if (label, cap) not in labels:
            labels.append((label, cap))
    text = table(results, runs, impls, labels)
    header = ("chan benchmark suite, %s\n%s, %d CPUs, Linux %s; msgs=%d threads=%d, median of %d\n"
              "cells: seconds; pingpong: ns per round trip; select_shared: ns per select;\n"
              "timeout: over the per-run limit; ratios: median over rounds of ours / best peer\n"
              "(chan: pthreads; chan_go: goroutines on the M:N scheduler, main role included)\n"
              % (info["date"], info["cpu"], info["cpus"], info["kernel"], args.msgs,
                 args.threads, args.repeats))
    with open(os.path.join(outdir, "table.txt"), "w") as f:
        f.write(header + "\n" + text + "\n")
    with open(os.path.join(outdir, "results.csv"), "w") as f:
        f.write("scenario,cap,threads,impl,median,runs\n")
        for (label, scenario, cap, threads, pin) in todo:
            for i in impls:
                v = results[(label, cap, i)]
                f.write("%s,%s,%d,%s,%s,%s\n" % (label, cap, threads, i,
                                                  v if isinstance(v, str) else "%.6g" % v,
                                                  " ".join(str(x) for x in runs[(label, cap, i)])))
    with open(os.path.join(outdir, "results.json"), "w") as f:
        json.dump({"machine": info,
                   "ratios": [dict({"scenario": label, "cap": cap},
                                   **{"%s_over_best_peer" % o:
                                      round_ratio(runs, label, cap, impls, o)
                                      for o in OURS if o in impls})
                              for (label, cap) in labels],
                   "results": [{"scenario": label, "cap": cap, "threads": threads, "impl": i,
                                "median": results[(label, cap, i)],
                                "runs": runs[(label, cap, i)]}
                               for (label, scenario, cap, threads, pin) in todo for i in impls]},
                  f, indent=1)
    plotted = not args.sweep and plot(outdir, results, impls)
    latest = os.path.join(args.out, "latest")
    if os.path.isdir(latest) and not os.path.islink(latest):
        # A folder, not a link: another driver (run_pubsub.py, run_limiter.py) ran alone
        # first and made it. Keep what it holds: move it into this run's folder.
        for name in os.listdir(latest):
            if not os.path.exists(os.path.join(outdir, name)):
                shutil.move(os.path.join(latest, name), outdir)
        shutil.rmtree(latest)
    elif os.path.lexists(latest):
        os.remove(latest)
    os.symlink(stamp, latest)
    print("\n" + header + "\n" + text)
    print("\nwrote %s/{table.txt,results.csv,results.json%s}" % (outdir, ",plot.png" if plotted else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
