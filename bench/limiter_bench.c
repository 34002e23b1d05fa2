/* SPDX-License-Identifier: MIT */
/*
 * bench/limiter_bench.c - the rate limiter's allow() and the semaphore's
 * acquire+release; bench/peers/go_limiter runs the same rows on
 * golang.org/x/time/rate and golang.org/x/sync/semaphore, and
 * bench/run_limiter.py runs both side by side.
 *
 * Rows (ROW MODE THREADS on the command line):
 *   allow allowed T    T threads call chan_limiter_allow() (which reads
 *                      chan_now()) on one limiter of a rate no thread count
 *                      reaches (1e9/s, burst 2^40): every call admitted,
 *                      every call a CAS.
 *   allow half T       the same at half the throughput a calibration run
 *                      (allowed, T threads, half the ops) measured
 *                      in the same invocation, burst 64: about half the
 *                      calls rejected (rejections are read-only, so a bit
 *                      more than half).
 *   accuracy - T       T threads call allow() for -d ms on a limiter of
 *                      1e5/s, burst 1000 (10 ms of tokens, so that a preempted
 *                      caller loses none): admitted vs the bound burst +
 *                      rate * (end - start), start read before the limiter
 *                      is created and end after the last call returned
 *                      (ratio <= 1 is the contract, close to 1 means no
 *                      tokens lost). With T = 1 also the spurious
 *                      rejections: calls refused although a lower bound of
 *                      the bucket's content, kept from the calls' own
 *                      timestamps, said it held at least 1.001 tokens.
 *                      max_gap_us: the longest time a thread went between
 *                      two calls (preempted): a gap over 10 ms loses tokens
 *                      at the bucket's cap, and the ratio drops below 1.
 *   allow_n fixed 1    one thread, allow_n() at a fixed time: the decision
 *                      and its CAS without the clock read.
 *   sem uncontended 1  one thread: chan_sem_acquire(1) + chan_sem_release(1).
 *   sem contended T    T threads on a semaphore of 4, acquire(1)+release(1).
 *
 * Each run prints one line: "bench=<b> mode=<m> threads=<t> ops=<n>
 * ns_per_op=<x> mops=<y> rejected=<fraction>" (ns_per_op = wall time *
 * threads / ops, the cost of one call on one thread; mops = ops / wall
 * time), or for accuracy "bench=limiter_accuracy mode=- threads=<t> ms=<d>
 * rate=<r> burst=<b> calls=<c> admitted=<a> bound=<b> ratio=<a/b>
 * max_gap_us=<g> spurious=<s|n/a>".
 * Usage: limiter_bench [-n ops per thread] [-d ms] [-r repeats] [-q] [ROW MODE THREADS]
 * Without a row: every row (allow at T = 1, 2, 4, 8; accuracy at 1 and 4;
 * sem contended at 8), -r runs each plus a "median" line. -q: quick.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include <chan/chan.h>

#define MAX_THREADS 64
#define ACC_RATE    1e5
#define ACC_BURST   1000
#define ACC_EPS	    1e-3 /* tokens: the model's slack for rounding (10 ns at 1e5/s) */

static long n_ops = 2000000;
static long acc_ms = 300;
static int repeats = 3;

struct worker {
	chan_limiter_t *l;
	chan_sem_t *s;
	long ops, admitted, calls, spurious;
	int64_t max_gap; /* accuracy: the longest time between two calls */
	int64_t until;	 /* accuracy: stop at this time */
	int64_t t0, t1;	 /* when this worker started and ended its loop */
	pthread_barrier_t *go;
	pthread_t th;
};

static void *allow_main(void *arg)
{
	struct worker *w = arg;
	long admitted = 0;

	pthread_barrier_wait(w->go);
	w->t0 = chan_now();
	for (long i = 0; i < w->ops; i++)
		admitted += chan_limiter_allow(w->l);
	w->t1 = chan_now();
	w->admitted = admitted;
	return NULL;
}

/*
 * Accuracy, one thread's loop. The model (meaningful only when one thread
 * calls) is a lower bound L of the bucket's content, kept from the calls'
 * own timestamps: full before the first call; before a call at tb, L =
 * min(burst, L + rate * (tb - ref)), ref = tb; after an admission that
 * returned at ta, L = max(0, L - 1), ref = ta (the token went at some
 * instant in [tb, ta], and the bucket held at least L then). A refusal
 * while L >= 1 + ACC_EPS is spurious: the bucket had a token.
 */
static void *accuracy_main(void *arg)
{
	struct worker *w = arg;
	double model = ACC_BURST;
	int64_t ref = INT64_MAX, prev = INT64_MAX;

	pthread_barrier_wait(w->go);
	w->t0 = chan_now();
	for (;;) {
		int64_t tb = chan_now();

		if (tb >= w->until)
			break;
		if (tb > prev && tb - prev > w->max_gap)
			w->max_gap = tb - prev;
		prev = tb;
		if (tb > ref)
			model += ACC_RATE * (double)(tb - ref) / 1e9;
		if (model > ACC_BURST)
			model = ACC_BURST;
		ref = tb;
		w->calls++;
		if (chan_limiter_allow(w->l)) {
			w->admitted++;
			model = model >= 1 ? model - 1 : 0;
			ref = chan_now();
		} else if (model >= 1 + ACC_EPS) {
			w->spurious++;
		}
	}
	w->t1 = chan_now();
	return NULL;
}

static void *sem_main(void *arg)
{
	struct worker *w = arg;

	pthread_barrier_wait(w->go);
	w->t0 = chan_now();
	for (long i = 0; i < w->ops; i++) {
		chan_sem_acquire(w->s, 1, chan_ctx_background());
		chan_sem_release(w->s, 1);
	}
	w->t1 = chan_now();
	return NULL;
}

/*
 * Run @threads workers of @ops each; returns the wall time in ns, from the
 * first worker's start to the last one's end as the workers read them (the
 * main thread may be descheduled after the barrier for longer than a run).
 */
static double run(void *(*fn)(void *), struct worker *w, chan_limiter_t *l, chan_sem_t *s,
		  int threads, long ops, int64_t until)
{
	pthread_barrier_t go;
	int64_t t0 = INT64_MAX, t1 = INT64_MIN;

	pthread_barrier_init(&go, NULL, (unsigned)threads + 1);
	for (int i = 0; i < threads; i++) {
		w[i] = (struct worker){.l = l, .s = s, .ops = ops, .until = until, .go = &go};
		pthread_create(&w[i].th, NULL, fn, &w[i]);
	}
	pthread_barrier_wait(&go);
	for (int i = 0; i < threads; i++) {
		pthread_join(w[i].th, NULL);
		t0 = w[i].t0 < t0 ? w[i].t0 : t0;
		t1 = w[i].t1 > t1 ? w[i].t1 : t1;
	}
	pthread_barrier_destroy(&go);
	return (double)(t1 - t0);
}

struct result {
	double ns, rejected; /* wall ns; fraction */
	long ops;
};

static void line(const char *name, const char *mode, int threads, const struct result *r,
		 const char *tag)
{
	double ops = (double)r->ops;

	printf("bench=%s mode=%s threads=%d ops=%.0f ns_per_op=%.2f mops=%.2f rejected=%.3f%s\n",
	       name, mode, threads, ops, r->ns * threads / ops, ops / r->ns * 1e3, r->rejected,
	       tag);
	fflush(stdout);
}

/* allow, allowed or half: one run at @threads. */
static struct result allow_row(bool half, int threads)
{
	struct worker w[MAX_THREADS];
	struct result r = {.ops = n_ops * threads};
	chan_limiter_t *l;
	long admitted = 0;

	if (half) {
		long cal = n_ops / 2 > 0 ? n_ops / 2 : 1;

		l = chan_limiter_new(1e9, (size_t)1 << 40);
		double ns = run(allow_main, w, l, NULL, threads, cal, 0);
		chan_limiter_destroy(l);
		l = chan_limiter_new((double)cal * threads / ns * 1e9 / 2, 64);
	} else {
		l = chan_limiter_new(1e9, (size_t)1 << 40);
	}
	r.ns = run(allow_main, w, l, NULL, threads, n_ops, 0);
	for (int i = 0; i < threads; i++)
		admitted += w[i].admitted;
	r.rejected = 1.0 - (double)admitted / (double)r.ops;
	chan_limiter_destroy(l);
	return r;
}

static void accuracy_row(int threads)
{
	struct worker w[MAX_THREADS];
	int64_t start = chan_now(), end;
	chan_limiter_t *l = chan_limiter_new(ACC_RATE, ACC_BURST);
	long calls = 0, admitted = 0, spurious = 0;
	int64_t gap = 0;
	double bound;

	run(accuracy_main, w, l, NULL, threads, 0, chan_now() + acc_ms * 1000000);
	end = chan_now();
	for (int i = 0; i < threads; i++) {
		calls += w[i].calls;
		admitted += w[i].admitted;
		spurious += w[i].spurious;
		gap = w[i].max_gap > gap ? w[i].max_gap : gap;
	}
	bound = ACC_BURST + ACC_RATE * (double)(end - start) / 1e9;
	printf("bench=limiter_accuracy mode=- threads=%d ms=%ld rate=%.0f burst=%d calls=%ld "
	       "admitted=%ld bound=%.1f ratio=%.6f max_gap_us=%.0f spurious=",
	       threads, acc_ms, ACC_RATE, ACC_BURST, calls, admitted, bound,
	       (double)admitted / bound, (double)gap / 1e3);
	if (threads == 1)
		printf("%ld\n", spurious);
	else
		printf("n/a\n");
	chan_limiter_destroy(l);
	fflush(stdout);
}

static struct result allow_n_row(void)
{
	chan_limiter_t *f = chan_limiter_new(1e9, (size_t)1 << 40);
	int64_t t0 = chan_now(), now = t0;
	struct result r = {.ops = n_ops};

	for (long i = 0; i < n_ops; i++)
		if (!chan_limiter_allow_n(f, now, 1))
			now++; /* never: the bucket holds 2^40 */
	r.ns = (double)(chan_now() - t0);
	chan_limiter_destroy(f);
	return r;
}

static struct result sem_row(bool contended, int threads)
{
	struct worker w[MAX_THREADS];
	chan_sem_t *s = chan_sem_new(4);
	struct result r = {.ops = n_ops * (contended ? threads : 1)};

	if (contended) {
		r.ns = run(sem_main, w, NULL, s, threads, n_ops, 0);
	} else {
		int64_t t0 = chan_now();

		for (long i = 0; i < n_ops; i++) {
			chan_sem_acquire(s, 1, chan_ctx_background());
			chan_sem_release(s, 1);
		}
		r.ns = (double)(chan_now() - t0);
	}
	chan_sem_destroy(s);
	return r;
}

/* One row, by name. Returns 2 on an unknown row. */
static int one(const char *row, const char *mode, int threads, const char *tag, struct result *out)
{
	struct result r;

	if (strcmp(row, "allow") == 0 && (!strcmp(mode, "allowed") || !strcmp(mode, "half"))) {
		r = allow_row(mode[0] == 'h', threads);
		line("limiter_allow", mode, threads, &r, tag);
	} else if (strcmp(row, "accuracy") == 0) {
		accuracy_row(threads);
		return 0;
	} else if (strcmp(row, "allow_n") == 0) {
		r = allow_n_row();
		line("limiter_allow_n", "fixed_time", 1, &r, tag);
	} else if (strcmp(row, "sem") == 0 &&
		   (!strcmp(mode, "uncontended") || !strcmp(mode, "contended"))) {
		r = sem_row(mode[0] == 'c', threads);
		line("sem_acquire", mode, mode[0] == 'c' ? threads : 1, &r, tag);
	} else {
		return 2;
	}
	if (out)
		*out = r;
	return 0;
}

/* -r runs of a row, then its median line. */
static void repeated(const char *row, const char *mode, int threads)
{
	struct result r[16];
	double ns[16], rej[16];

	for (int i = 0; i < repeats; i++) {
		one(row, mode, threads, "", &r[i]);
		ns[i] = r[i].ns;
		rej[i] = r[i].rejected;
	}
	if (strcmp(row, "accuracy") == 0)
		return;
	r[0].ns = bench_median(ns, (size_t)repeats);
	r[0].rejected = bench_median(rej, (size_t)repeats);
	line(strcmp(row, "allow") == 0	   ? "limiter_allow"
	     : strcmp(row, "allow_n") == 0 ? "limiter_allow_n"
					   : "sem_acquire",
	     strcmp(row, "allow_n") == 0 ? "fixed_time" : mode, threads, &r[0], " median");
}

int main(int argc, char **argv)
{
	static const int ts[] = {1, 2, 4, 8};
	int opt;

	while ((opt = getopt(argc, argv, "n:d:r:q")) != -1) {
		if (opt == 'n')
			n_ops = atol(optarg);
		else if (opt == 'd')
			acc_ms = atol(optarg);
		else if (opt == 'r')
			repeats = atoi(optarg);
		else if (opt == 'q')
			n_ops = 200000, acc_ms = 50, repeats = 1;
		else
			goto usage;
	}
	if (repeats < 1 || repeats > 16 || n_ops < 1 || acc_ms < 1)
		goto usage;
	if (optind < argc) {
		int threads;

		if (argc - optind != 3)
			goto usage;
		threads = atoi(argv[optind + 2]);
		if (threads < 1 || threads > MAX_THREADS)
			goto usage;
		for (int i = 0; i < repeats; i++)
			if (one(argv[optind], argv[optind + 1], threads, "", NULL) != 0)
				goto usage;
		return 0;
	}
	for (int k = 0; k < 4; k++)
		repeated("allow", "allowed", ts[k]);
	for (int k = 0; k < 4; k++)
		repeated("allow", "half", ts[k]);
	repeated("accuracy", "-", 1);
	repeated("accuracy", "-", 4);
	repeated("allow_n", "fixed", 1);
	repeated("sem", "uncontended", 1);
	repeated("sem", "contended", 8);
	return 0;
usage:
	fprintf(stderr,
		"usage: %s [-n ops] [-d ms] [-r repeats] [-q] [allow allowed|half T | accuracy - T "
		"|"
		" allow_n fixed 1 | sem uncontended 1 | sem contended T]\n",
		argv[0]);
	return 2;
}
