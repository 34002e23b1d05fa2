#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/run_pubsub.py - pub/sub benchmarks (issue 8), chan and its peers side by side.

Runs build/release/bench/pubsub_bench (chan), build/peers/go_pubsub (go_chan: a channel per
subscriber; go_seed: the seed's goroutine-per-message Publish) and build/peers/tokio_pubsub
(tokio: broadcast, paced to stay lossless; tokio_lossy: unpaced) on the same rows, round-robin
within each repeat, keeps the median of --repeats runs per cell and writes into --dir
(results/latest):

  pubsub_table.txt   ns per delivered copy (fanout) and ns per publish (churn) per impl, the
                     ratios chan/go_chan and chan/tokio, and the issue's targets
  pubsub.csv         one line per (row, impl): the median and every run
  pubsub_plot.png    (if gnuplot is installed) ns per delivered copy against the number of
                     subscribers, one panel per payload x burst; --replot redraws it from
                     pubsub.csv without running anything

Rows (every binary takes the same arguments and prints one key=value line per run; see the
header of bench/pubsub_bench.c):
  pubsub_fanout  subs {1,4,16,64,256,1024} x payload {8,256,ptr} x burst {1,64}
  pubsub_churn   rate {0,1000,10000} subscribe+unsubscribe per second, 4 subscribers

Targets (issue 8; benchmarks, not tests): per delivered copy at 64 subscribers, chan at most
go_chan's cost and within 2x of tokio broadcast (the paced, lossless tokio row).
"""
import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
IMPLS = {
    "chan": [os.path.join(ROOT, "build/release/bench/pubsub_bench")],
    "go_chan": [os.path.join(ROOT, "build/peers/go_pubsub"), "go_chan"],
    "go_seed": [os.path.join(ROOT, "build/peers/go_pubsub"), "go_seed"],
    "tokio": [os.path.join(ROOT, "build/peers/tokio_pubsub")],
    "tokio_lossy": [os.path.join(ROOT, "build/peers/tokio_pubsub"), "-l"],
}
SUBS = [1, 4, 16, 64, 256, 1024]
PAYLOADS = ["8", "256", "ptr"]
BURSTS = [1, 64]
RATES = [0, 1000, 10000]


def rows(args):
    out = []
    for s in args.subs:
        for p in PAYLOADS:
            for b in BURSTS:
                out.append(("pubsub_fanout", ["fanout", str(s), p, str(b), str(args.copies)],
                            "subs=%d payload=%s burst=%d" % (s, p, b)))
    for r in RATES:
        out.append(("pubsub_churn", ["churn", str(r), str(args.msgs)], "rate=%d" % r))
    return out


def plot(outdir, med):
    """pubsub_plot.png from the medians {(bench, label, impl): ns}; skipped without gnuplot."""
    if not shutil.which("gnuplot"):
        print("gnuplot not found: no plot", file=sys.stderr)
        return
    shown = ["chan", "go_chan", "tokio", "tokio_lossy"]
    dat = os.path.join(outdir, "pubsub_plot.dat")
    panels = []
    with open(dat, "w") as fh:
        for p in PAYLOADS:
            for b in BURSTS:
                fh.write("# payload=%s burst=%d\n" % (p, b))
                for s in SUBS:
                    label = "subs=%d payload=%s burst=%d" % (s, p, b)
                    vals = [med.get(("pubsub_fanout", label, i)) for i in shown]
                    fh.write("%d %s\n" % (s, " ".join("NaN" if v is None else "%.2f" % v
                                                       for v in vals)))
                fh.write("\n\n")
                panels.append("payload %s, burst %d" % (p, b))
    gp = os.path.join(outdir, "pubsub_plot.gp")
    with open(gp, "w") as f:
        f.write('set terminal pngcairo size 1500,900 font ",10" noenhanced\n')
        f.write('set output "%s"\n' % os.path.join(outdir, "pubsub_plot.png"))
        f.write("set multiplot layout 2,3 title 'pub/sub fan-out: ns per delivered copy "
                "(lower is better)'\n")
        f.write("set logscale x 4\nset logscale y\nset xlabel 'subscribers'\nset key top left\n")
        order = [(k, i) for i in range(len(BURSTS)) for k in range(len(PAYLOADS))]
        for k, i in order:
            idx = k * len(BURSTS) + i
            f.write("set title '%s'\n" % panels[idx])
            f.write("plot %s\n" % ", ".join(
                "'%s' index %d using 1:%d with linespoints title '%s'" % (dat, idx, c + 2, name)
                for c, name in enumerate(shown)))
        f.write("unset multiplot\n")
    subprocess.run(["gnuplot", gp], check=False)


def read_csv(outdir):
    med = {}
    with open(os.path.join(outdir, "pubsub.csv")) as fh:
        for row in csv.DictReader(fh):
            med[(row["bench"], row["row"], row["impl"])] = float(row["median"])
    return med


def run_once(impl, argv, timeout):
    cmd = IMPLS[impl] + argv
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        sys.stderr.write("  %s: timeout after %d s\n" % (" ".join(cmd), timeout))
        return None
    if out.returncode != 0:
        sys.stderr.write("  %s: exit %d: %s\n" % (" ".join(cmd), out.returncode,
                                                 out.stderr.strip()[-300:]))
        return None
    line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    f = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
    return None if f.get("secs") in (None, "n/a") else f


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: small sizes, 1 repeat")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--copies", type=int, default=2000000, help="deliveries per fanout run")
    ap.add_argument("--msgs", type=int, default=1000000, help="publishes per churn run")
    ap.add_argument("--impls", default=",".join(IMPLS))
    ap.add_argument("--subs", default=",".join(map(str, SUBS)),
                    help="subscriber counts of the fanout rows")
    ap.add_argument("--dir", default=os.path.join(ROOT, "results/latest"))
    ap.add_argument("--timeout", type=int, default=300)
    ap.add_argument("--replot", action="store_true",
                    help="only redraw pubsub_plot.png from --dir's pubsub.csv")
    args = ap.parse_args()
    args.subs = [int(x) for x in args.subs.split(",")]
    if args.replot:
        plot(args.dir, read_csv(args.dir))
        return
    if args.quick:
        args.repeats, args.copies, args.msgs = 1, 100000, 50000
    impls = [i for i in args.impls.split(",") if i in IMPLS and os.path.exists(IMPLS[i][0])]
    missing = [i for i in args.impls.split(",") if i not in impls]
    if missing:
        sys.stderr.write("run_pubsub: skipping %s (not built)\n" % ", ".join(missing))
    runs = {}  # (row label, impl) -> [values]
    metric = {"pubsub_fanout": "ns_per_copy", "pubsub_churn": "ns_per_publish"}
    table = rows(args)
    for rep in range(args.repeats):
        order = impls if rep % 2 == 0 else impls[::-1]
        for bench, argv, label in table:
            for impl in order:
                f = run_once(impl, argv, args.timeout)
                if f is not None:
                    print("bench=%s %s impl=%s %s=%s" % (bench, label, impl, metric[bench],
                                                         f[metric[bench]]), flush=True)
                    runs.setdefault((bench, label, impl), []).append(float(f[metric[bench]]))
    os.makedirs(args.dir, exist_ok=True)
    med = {k: statistics.median(v) for k, v in runs.items()}
    lines = ["pub/sub benchmarks: median of %d; ns per delivered copy (fanout), ns per publish "
             "(churn); ratio < 1: chan faster" % args.repeats, ""]
    head = "%-34s" % "row" + "".join("%13s" % i for i in impls) + "%13s%13s" % ("chan/go", "chan/tokio")
    lines.append(head)
    for bench, _, label in table:
        cells, c = [], med.get((bench, label, "chan"))
        for i in impls:
            v = med.get((bench, label, i))
            cells.append("%13s" % ("n/a" if v is None else "%.1f" % v))
        ratios = []
        for peer in ("go_chan", "tokio"):
            p = med.get((bench, label, peer))
            ratios.append("%13s" % ("n/a" if c is None or not p else "%.2f" % (c / p)))
        lines.append("%-34s" % (bench.split("_")[1] + " " + label) + "".join(cells) + "".join(ratios))
    lines += ["", "targets at 64 subscribers (per delivered copy): chan <= go_chan, chan <= 2 x tokio"]
    for p in PAYLOADS:
        for b in BURSTS:
            label = "subs=64 payload=%s burst=%d" % (p, b)
            c = med.get(("pubsub_fanout", label, "chan"))
            g = med.get(("pubsub_fanout", label, "go_chan"))
            t = med.get(("pubsub_fanout", label, "tokio"))
            if c is None:
                continue
            lines.append("  %-28s go_chan: %s   tokio: %s" % (
                label, "n/a" if not g else ("met" if c <= g else "missed by %.0f%%" % (100 * (c / g - 1))),
                "n/a" if not t else ("met" if c <= 2 * t else "missed by %.0f%%" % (100 * (c / (2 * t) - 1)))))
    text = "\n".join(lines) + "\n"
    with open(os.path.join(args.dir, "pubsub_table.txt"), "w") as fh:
        fh.write(text)
    with open(os.path.join(args.dir, "pubsub.csv"), "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["bench", "row", "impl", "metric", "median", "runs"])
        for (bench, label, impl), v in sorted(runs.items()):
            w.writerow([bench, label, impl, metric[bench], "%.2f" % med[(bench, label, impl)],
                        " ".join("%.2f" % x for x in v)])
    sys.stdout.write(text)
    plot(args.dir, med)


if __name__ == "__main__":
    main()
