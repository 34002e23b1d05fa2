/* SPDX-License-Identifier: MIT */
/*
 * bench/limiter_bench.c - the rate limiter's allow() and the semaphore's
 * uncontended path.
 *
 *   limiter_allow   T threads call chan_limiter_allow() (which reads
 *                   chan_now()) on one limiter: mode=allowed (a rate no
 *                   thread count reaches: every call admitted, every call a
 *                   CAS) and mode=half (the rate set to half the measured
 *                   allowed throughput: about 50 % rejected, and rejections
 *                   are read-only). T = 1, 2, 4, 8.
 *   limiter_allow_n one thread, allow_n() with a fixed time: the decision and
 *                   its CAS without the clock read.
 *   sem_uncontended one thread: chan_sem_acquire(1) + chan_sem_release(1).
 *   sem_contended   8 threads on a semaphore of 4, acquire(1)+release(1).
 *
 * Each line: "bench=<name> mode=<m> threads=<t> ops=<n> ns_per_op=<x> mops=<y>
 * rejected=<fraction>", ns_per_op = wall time * threads / ops (the cost of one
 * call on one thread), mops = ops / wall time. Repeats print one line each
 * and a final "median" line per configuration.
 * Usage: limiter_bench [-n ops per thread] [-r repeats] [-q]   (-q: quick)
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include <chan/chan.h>

static long n_ops = 2000000;
static int repeats = 3;

struct worker {
	chan_limiter_t *l;
	chan_sem_t *s;
	long ops, admitted;
	pthread_barrier_t *go;
	pthread_t th;
};

static void *allow_main(void *arg)
{
	struct worker *w = arg;
	long admitted = 0;

	pthread_barrier_wait(w->go);
	for (long i = 0; i < w->ops; i++)
		admitted += chan_limiter_allow(w->l);
	w->admitted = admitted;
	return NULL;
}

static void *sem_main(void *arg)
{
	struct worker *w = arg;

	pthread_barrier_wait(w->go);
	for (long i = 0; i < w->ops; i++) {
		chan_sem_acquire(w->s, 1, chan_ctx_background());
		chan_sem_release(w->s, 1);
	}
	return NULL;
}

/* Run @threads workers; returns the wall time in ns, *rejected the fraction. */
static double run(void *(*fn)(void *), chan_limiter_t *l, chan_sem_t *s, int threads,
		  double *rejected)
{
	struct worker w[8];
	pthread_barrier_t go;
	long admitted = 0;
	int64_t t0, t1;

	pthread_barrier_init(&go, NULL, (unsigned)threads + 1);
	for (int i = 0; i < threads; i++) {
		w[i] = (struct worker){ .l = l, .s = s, .ops = n_ops, .go = &go };
		pthread_create(&w[i].th, NULL, fn, &w[i]);
	}
	pthread_barrier_wait(&go);
	t0 = chan_now();
	for (int i = 0; i < threads; i++) {
		pthread_join(w[i].th, NULL);
		admitted += w[i].admitted;
	}
	t1 = chan_now();
	pthread_barrier_destroy(&go);
	if (rejected)
		*rejected = 1.0 - (double)admitted / ((double)n_ops * threads);
	return (double)(t1 - t0);
}

static void line(const char *name, const char *mode, int threads, double ns, double rej,
		 const char *tag)
{
	double ops = (double)n_ops * threads;

	printf("bench=%s mode=%s threads=%d ops=%.0f ns_per_op=%.2f mops=%.2f rejected=%.3f%s\n",
	       name, mode, threads, ops, ns * threads / ops, ops / ns * 1e3, rej, tag);
}

int main(int argc, char **argv)
{
	static const int ts[] = { 1, 2, 4, 8 };
	double v[16], rj[16], allowed_mops[4] = { 0 };
	int opt;

	while ((opt = getopt(argc, argv, "n:r:q")) != -1) {
		if (opt == 'n')
			n_ops = atol(optarg);
		else if (opt == 'r')
			repeats = atoi(optarg);
		else if (opt == 'q')
			n_ops = 200000, repeats = 1;
		else
			return fprintf(stderr, "usage: %s [-n ops] [-r repeats] [-q]\n", argv[0]), 2;
	}
	if (repeats < 1 || repeats > 16 || n_ops < 1)
		return 2;
	for (int k = 0; k < 4; k++) {
		for (int r = 0; r < repeats; r++) {
			chan_limiter_t *l = chan_limiter_new(1e9, (size_t)1 << 40);

			v[r] = run(allow_main, l, NULL, ts[k], &rj[r]);
			line("limiter_allow", "allowed", ts[k], v[r], rj[r], "");
			chan_limiter_destroy(l);
		}
		allowed_mops[k] = (double)n_ops * ts[k] / bench_median(v, (size_t)repeats) * 1e3;
		line("limiter_allow", "allowed", ts[k], bench_median(v, (size_t)repeats),
		     bench_median(rj, (size_t)repeats), " median");
	}
	for (int k = 0; k < 4; k++) {
		for (int r = 0; r < repeats; r++) {
			chan_limiter_t *l = chan_limiter_new(allowed_mops[k] * 1e6 / 2, 64);

			v[r] = run(allow_main, l, NULL, ts[k], &rj[r]);
			line("limiter_allow", "half", ts[k], v[r], rj[r], "");
			chan_limiter_destroy(l);
		}
		line("limiter_allow", "half", ts[k], bench_median(v, (size_t)repeats),
		     bench_median(rj, (size_t)repeats), " median");
	}
	for (int r = 0; r < repeats; r++) {
		chan_limiter_t *l = chan_limiter_new(CHAN_LIMIT_INF, 0);
		chan_limiter_t *f = chan_limiter_new(1e9, (size_t)1 << 40);
		int64_t t0 = chan_now(), now = t0, t1;

		(void)l;
		for (long i = 0; i < n_ops; i++)
			if (!chan_limiter_allow_n(f, now, 1))
				now++; /* never: the bucket holds 2^40 */
		t1 = chan_now();
		v[r] = (double)(t1 - t0);
		line("limiter_allow_n", "fixed_time", 1, v[r], 0, "");
		chan_limiter_destroy(l);
		chan_limiter_destroy(f);
	}
	line("limiter_allow_n", "fixed_time", 1, bench_median(v, (size_t)repeats), 0, " median");
	for (int r = 0; r < repeats; r++) {
		chan_sem_t *s = chan_sem_new(4);
		int64_t t0 = chan_now();

		for (long i = 0; i < n_ops; i++) {
			chan_sem_acquire(s, 1, chan_ctx_background());
			chan_sem_release(s, 1);
		}
		v[r] = (double)(chan_now() - t0);
		line("sem_uncontended", "acquire_release", 1, v[r], 0, "");
		chan_sem_destroy(s);
	}
	line("sem_uncontended", "acquire_release", 1, bench_median(v, (size_t)repeats), 0,
	     " median");
	for (int r = 0; r < repeats; r++) {
		chan_sem_t *s = chan_sem_new(4);

		v[r] = run(sem_main, NULL, s, 8, NULL);
		line("sem_contended", "size4", 8, v[r], 0, "");
		chan_sem_destroy(s);
	}
	line("sem_contended", "size4", 8, bench_median(v, (size_t)repeats), 0, " median");
	return 0;
}
