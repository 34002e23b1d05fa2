/* SPDX-License-Identifier: MIT */
/*
 * bench/sched_bench.c - micro-benchmarks of the M:N scheduler (issue 9):
 * what a goroutine costs. bench/peers/go_sched is the Go side, with the same
 * command line and output; bench/run_sched.py runs both.
 *
 * Usage: sched_bench <bench> [n=N] [procs=P]
 *   switch          two goroutines alternate with chan_yield(); ns per switch
 *                   (2n switches). Run it with procs=1.
 *   spawn           a goroutine loops n times: chan_wg_add(1), chan_go() of a
 *                   function that only calls chan_wg_done(), chan_wg_wait():
 *                   one goroutine's whole life (its stack comes from the
 *                   worker's cache: the previous one has exited); ns per
 *                   goroutine.
 *   pingpong        two goroutines, two unbuffered channels; ns per round trip.
 *   xworker         the cross-worker hand-off: goroutine A sends on a
 *                   capacity-1 channel to goroutine B, parked in its receive,
 *                   then spins on chan_try_recv() for B's reply, so that it
 *                   never gives its worker up: B can only run on the other
 *                   worker (procs=2), which is spinning for work. ns per round
 *                   trip, plus p50_ns and max_ns of the single round trips.
 *   xworker_thread  as xworker, with A a plain thread (not a goroutine): B is
 *                   readied from outside the scheduler, onto the global queue,
 *                   and the one worker (procs=1) that spins for work runs it.
 *   park            n goroutines (default 1e6) park on one channel at once;
 *                   then chan_close() wakes them all. Reports the peak RSS
 *                   (VmHWM) and the thread count (Threads) of
 *                   /proc/self/status while all are parked, spawn_ns per
 *                   goroutine, and ns_per_op: from the close until the last
 *                   has exited, per goroutine.
 *   procs           the worker count (chan_go_opts_t.workers; 0: default).
 *
 * Every bench but xworker_thread runs its main role in a goroutine, as Go's
 * main is. One line: "impl=chan bench=<b> procs=<p> n=<n> secs=<s>
 * ns_per_op=<x> [p50_ns= max_ns=] [rss_kib= threads= spawn_ns=]", where
 * procs is the worker count in use. Exit status: 0, 1 when a check failed,
 * 2 on a usage error.
 */
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <chan/chan.h>

#include "bench_util.h"

static const char *bench;
static long n;
static unsigned procs;
static double ns_per_op, extra_p50 = -1, extra_max = -1, spawn_ns = -1;
static long rss_kib = -1, nthreads = -1;
static int64_t secs_ns;

static void die(const char *what)
{
	fprintf(stderr, "sched_bench: %s: %s\n", bench, what);
	exit(1);
}

static chan_t *mk(size_t cap)
{
	chan_t *c = chan_new(sizeof(uint64_t), cap);

	if (!c)
		die("chan_new");
	return c;
}

static void go(void (*fn)(void *), void *arg)
{
	if (chan_go(fn, arg) != 0)
		die("chan_go");
}

/* VmHWM and Threads of /proc/self/status. */
static void proc_status(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "VmHWM:", 6) == 0)
			rss_kib = strtol(line + 6, NULL, 10);
		else if (strncmp(line, "Threads:", 8) == 0)
			nthreads = strtol(line + 8, NULL, 10);
	}
	fclose(f);
}

/* ---- switch ----------------------------------------------------------- */

static void yielder(void *arg)
{
	for (long i = 0; i < n; i++)
		chan_yield();
	chan_wg_done(arg);
}

static void run_switch(void)
{
	chan_wg_t wg;
	int64_t t0;

	chan_wg_init(&wg);
	chan_wg_add(&wg, 2);
	t0 = chan_now();
	go(yielder, &wg);
	go(yielder, &wg);
	chan_wg_wait(&wg);
	secs_ns = chan_now() - t0;
	ns_per_op = (double)secs_ns / (2.0 * (double)n);
}

/* ---- spawn ------------------------------------------------------------ */

static void trivial(void *arg)
{
	chan_wg_done(arg);
}

static void run_spawn(void)
{
	chan_wg_t wg;
	int64_t t0;

	chan_wg_init(&wg);
	t0 = chan_now();
	for (long i = 0; i < n; i++) {
		chan_wg_add(&wg, 1);
		go(trivial, &wg);
		chan_wg_wait(&wg);
	}
	secs_ns = chan_now() - t0;
	ns_per_op = (double)secs_ns / (double)n;
}

/* ---- pingpong --------------------------------------------------------- */

struct pong {
	chan_t *a, *b;
	chan_wg_t wg;
};

static void ponger(void *arg)
{
	struct pong *p = arg;
	uint64_t v;

	for (long i = 0; i < n; i++) {
		chan_recv(p->a, &v);
		chan_send(p->b, &v);
	}
	chan_wg_done(&p->wg);
}

static void run_pingpong(void)
{
	struct pong p = { mk(0), mk(0), CHAN_WG_INIT };
	uint64_t v;
	int64_t t0;

	chan_wg_add(&p.wg, 1);
	go(ponger, &p);
	t0 = chan_now();
	for (long i = 0; i < n; i++) {
		v = (uint64_t)i;
		chan_send(p.a, &v);
		chan_recv(p.b, &v);
		if (v != (uint64_t)i)
			die("pingpong: wrong value");
	}
	secs_ns = chan_now() - t0;
	ns_per_op = (double)secs_ns / (double)n;
	chan_wg_wait(&p.wg);
	chan_release(p.a);
	chan_release(p.b);
}

/* ---- xworker, xworker_thread ------------------------------------------ */

/* A's side: send, then spin for the reply without ever parking. */
static void run_xworker(void)
{
	struct pong p = { mk(1), mk(1), CHAN_WG_INIT };
	double *rt = malloc((size_t)n * sizeof(*rt));
	uint64_t v;
	int64_t t0, t1, t;

	if (!rt)
		die("malloc");
	chan_wg_add(&p.wg, 1);
	go(ponger, &p);
	t0 = chan_now();
	for (long i = 0; i < n; i++) {
		t = chan_now();
		v = (uint64_t)i;
		chan_send(p.a, &v);
		while (chan_try_recv(p.b, &v) != 0)
			;
		if (v != (uint64_t)i)
			die("xworker: wrong value");
		rt[i] = (double)(chan_now() - t);
	}
	t1 = chan_now();
	secs_ns = t1 - t0;
	ns_per_op = (double)secs_ns / (double)n;
	chan_wg_wait(&p.wg);
	extra_max = 0;
	for (long i = 0; i < n; i++)
		if (rt[i] > extra_max)
			extra_max = rt[i];
	extra_p50 = bench_median(rt, (size_t)n);
	free(rt);
	chan_release(p.a);
	chan_release(p.b);
}

/* ---- park ------------------------------------------------------------- */

struct park {
	chan_t *c;
	chan_wg_t started, exited;
};

static void parker(void *arg)
{
	struct park *p = arg;
	uint64_t v;

	chan_wg_done(&p->started);
	if (chan_recv(p->c, &v) != -EPIPE)
		abort(); /* nobody sends: only the close ends the wait */
	chan_wg_done(&p->exited);
}

static void run_park(void)
{
	struct park p = { mk(0), CHAN_WG_INIT, CHAN_WG_INIT };
	int64_t t0;

	chan_wg_add(&p.started, (int)n);
	chan_wg_add(&p.exited, (int)n);
	t0 = chan_now();
	for (long i = 0; i < n; i++)
		go(parker, &p);
	chan_wg_wait(&p.started);
	spawn_ns = (double)(chan_now() - t0) / (double)n;
	/* Those that counted themselves started but have not parked yet
	 * are a few per worker: let them get there. */
	{
		chan_t *never = mk(0);

		chan_recv_timeout(never, &(uint64_t){ 0 }, 100 * 1000000LL);
		chan_release(never);
	}
	proc_status();
	t0 = chan_now();
	chan_close(p.c);
	chan_wg_wait(&p.exited);
	secs_ns = chan_now() - t0;
	ns_per_op = (double)secs_ns / (double)n;
	chan_release(p.c);
}

/* ---- main ------------------------------------------------------------- */

static void body(void *arg)
{
	if (!strcmp(bench, "switch"))
		run_switch();
	else if (!strcmp(bench, "spawn"))
		run_spawn();
	else if (!strcmp(bench, "pingpong"))
		run_pingpong();
	else if (!strcmp(bench, "xworker") || !strcmp(bench, "xworker_thread"))
		run_xworker();
	else if (!strcmp(bench, "park"))
		run_park();
	if (arg)
		chan_wg_done(arg);
}

static int usage(void)
{
	fprintf(stderr, "usage: sched_bench switch|spawn|pingpong|xworker|xworker_thread|park "
			"[n=N] [procs=P]\n");
	return 2;
}

int main(int argc, char **argv)
{
	static const char *const benches[] = {"switch",	 "spawn",	   "pingpong",
					      "xworker", "xworker_thread", "park"};
	static const long defaults[] = {5000000, 1000000, 1000000, 20000, 20000, 1000000};
	chan_wg_t wg = CHAN_WG_INIT;
	int k;

	if (argc < 2)
		return usage();
	bench = argv[1];
	for (k = 0; k < 6 && strcmp(bench, benches[k]); k++)
		;
	if (k == 6)
		return usage();
	n = defaults[k];
	for (int i = 2; i < argc; i++) {
		if (strncmp(argv[i], "n=", 2) == 0)
			n = atol(argv[i] + 2);
		else if (strncmp(argv[i], "procs=", 6) == 0)
			procs = (unsigned)strtoul(argv[i] + 6, NULL, 10);
		else
			return usage();
	}
	if (n < 1 || n > INT32_MAX)
		return usage();
	if (procs && chan_go_configure(&(chan_go_opts_t){ .workers = procs }) != 0)
		die("chan_go_configure");
	if (!procs) {
		const char *env = getenv("CHAN_PROCS");
		cpu_set_t set;

		procs = env && *env ? (unsigned)atoi(env) : 0;
		if (!procs && sched_getaffinity(0, sizeof(set), &set) == 0)
			procs = (unsigned)CPU_COUNT(&set);
	}

	if (!strcmp(bench, "xworker_thread")) {
		body(NULL); /* A on this thread, B a goroutine */
	} else {
		chan_wg_add(&wg, 1);
		go(body, &wg);
		chan_wg_wait(&wg);
	}
	printf("impl=chan bench=%s procs=%u n=%ld secs=%.6f ns_per_op=%.1f", bench, procs, n,
	       (double)secs_ns / 1e9, ns_per_op);
	if (extra_p50 >= 0)
		printf(" p50_ns=%.0f max_ns=%.0f", extra_p50, extra_max);
	if (rss_kib >= 0)
		printf(" rss_kib=%ld threads=%ld spawn_ns=%.1f", rss_kib, nthreads, spawn_ns);
	printf("\n");
	return 0;
}
