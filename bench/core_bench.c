/* SPDX-License-Identifier: MIT */
/*
 * bench/core_bench.c - first numbers for the core engine.
 *
 *   uncontended   one thread: send then receive, capacity 1024 (ns per pair)
 *   spsc/mpmc     P producers, C consumers, capacity 0, 1 and 1024 (ns per msg)
 *   pingpong      round trip over two unbuffered channels (ns per round trip)
 *   select_cost   one thread: send + select-receive over {ready, empty}
 *                 channels, against send + chan_recv (ns per pair)
 * (select_shared, Go issue 20351, is in the side-by-side suite: chan_suite.)
 *
 * Each line: "bench=<name> cap=<c> threads=<p>x<c> msgs=<n> ns_per_op=<x> mops=<y>".
 * Usage: core_bench [-n messages] [-r repeats] [-b workload] [-q]  (-q: quick smoke run)
 * Repeats print one line each and a final "median" line per workload.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include <chan/chan.h>

static long n_msgs = 2000000;
static int repeats = 3;
static const char *only; /* -b: run only the workloads named in this list */

struct worker {
	chan_t *c;
	long count;
	uint64_t sum;
};

static void *producer(void *arg)
{
	struct worker *w = arg;

	for (long i = 1; i <= w->count; i++)
		if (chan_send(w->c, &i) != 0)
			abort();
	return NULL;
}

static void *consumer(void *arg)
{
	struct worker *w = arg;
	uint64_t sum = 0; /* local: the workers' records share cache lines */
	long v;

	while (chan_recv(w->c, &v) == 0)
		sum += (uint64_t)v;
	w->sum = sum;
	return NULL;
}

static double run_mpmc(size_t cap, int np, int nc, unsigned flags)
{
	chan_opts_t o = { .elem_size = sizeof(long), .capacity = cap, .flags = flags };
	chan_t *c = chan_new_opts(&o);
	pthread_t pt[64], ct[64];
	struct worker pw[64], cw[64];
	uint64_t sum = 0, want;
	long per = n_msgs / np;
	int64_t t0;

	t0 = chan_now();
	for (int i = 0; i < nc; i++) {
		cw[i] = (struct worker){ .c = c };
		pthread_create(&ct[i], NULL, consumer, &cw[i]);
	}
	for (int i = 0; i < np; i++) {
		pw[i] = (struct worker){ .c = c, .count = per };
		pthread_create(&pt[i], NULL, producer, &pw[i]);
	}
	for (int i = 0; i < np; i++)
		pthread_join(pt[i], NULL);
	chan_close(c);
	for (int i = 0; i < nc; i++) {
		pthread_join(ct[i], NULL);
		sum += cw[i].sum;
	}
	want = (uint64_t)np * (uint64_t)per * (uint64_t)(per + 1) / 2;
	if (sum != want) {
		fprintf(stderr, "core_bench: lost messages (sum %llu, want %llu)\n",
			(unsigned long long)sum, (unsigned long long)want);
		exit(1);
	}
	chan_release(c);
	return (double)(chan_now() - t0) / (double)(per * np);
}

static double run_uncontended(void)
{
	chan_t *c = chan_new(sizeof(long), 1024);
	long v = 0;
	int64_t t0 = chan_now();

	for (long i = 0; i < n_msgs; i++) {
		chan_send(c, &i);
		chan_recv(c, &v);
	}
	if (v != n_msgs - 1)
		abort();
	chan_release(c);
	return (double)(chan_now() - t0) / (double)n_msgs;
}

struct pong {
	chan_t *ping, *pong;
};

static void *ponger(void *arg)
{
	struct pong *p = arg;
	long v;

	while (chan_recv(p->ping, &v) == 0)
		chan_send(p->pong, &v);
	return NULL;
}

static double run_pingpong(long rounds)
{
	struct pong p = { chan_new(sizeof(long), 0), chan_new(sizeof(long), 0) };
	pthread_t t;
	long v;
	int64_t t0;

	pthread_create(&t, NULL, ponger, &p);
	t0 = chan_now();
	for (long i = 0; i < rounds; i++) {
		chan_send(p.ping, &i);
		chan_recv(p.pong, &v);
		if (v != i)
			abort();
	}
	double ns = (double)(chan_now() - t0) / (double)rounds;
	chan_close(p.ping);
	pthread_join(t, NULL);
	chan_release(p.ping);
	chan_release(p.pong);
	return ns;
}

static double run_select_cost(int use_select)
{
	chan_t *a = chan_new(sizeof(long), 1024), *b = chan_new(sizeof(long), 1024);
	long v = 0;
	chan_case_t cs[2] = { { .chan = a, .op = CHAN_OP_RECV, .elem = &v },
			      { .chan = b, .op = CHAN_OP_RECV, .elem = &v } };
	int64_t t0 = chan_now();

	for (long i = 0; i < n_msgs; i++) {
		chan_send(a, &i);
		if (use_select ? chan_select(cs, 2) != 0 : chan_recv(a, &v) != 0)
			abort();
	}
	chan_release(a);
	chan_release(b);
	return (double)(chan_now() - t0) / (double)n_msgs;
}

static void report(const char *name, size_t cap, int np, int nc, double (*fn)(void *), void *arg)
{
	double v[32];

	if (only && !strstr(only, name))
		return;
	for (int r = 0; r < repeats; r++) {
		v[r] = fn(arg);
		printf("bench=%s cap=%zu threads=%dx%d msgs=%ld run=%d ns_per_op=%.1f mops=%.2f\n",
		       name, cap, np, nc, n_msgs, r, v[r], 1e3 / v[r]);
		fflush(stdout);
	}
	double med = bench_median(v, (size_t)repeats);

	printf("bench=%s cap=%zu threads=%dx%d msgs=%ld median ns_per_op=%.1f mops=%.2f\n", name,
	       cap, np, nc, n_msgs, med, 1e3 / med);
	fflush(stdout);
}

struct mpmc_args {
	size_t cap;
	int np, nc;
	unsigned flags;
};

static double mpmc_thunk(void *a)
{
	struct mpmc_args *m = a;

	return run_mpmc(m->cap, m->np, m->nc, m->flags);
}

static double uncontended_thunk(void *a)
{
	(void)a;
	return run_uncontended();
}

static double select_cost_thunk(void *a)
{
	return run_select_cost(*(int *)a);
}

static double pingpong_thunk(void *a)
{
	(void)a;
	return run_pingpong(n_msgs / 10);
}

int main(int argc, char **argv)
{
	int opt;

	while ((opt = getopt(argc, argv, "n:r:qb:")) != -1) {
		switch (opt) {
		case 'n':
			n_msgs = atol(optarg);
			break;
		case 'r':
			repeats = atoi(optarg);
			break;
		case 'b':
			only = optarg;
			break;
		case 'q':
			n_msgs = 100000;
			repeats = 1;
			break;
		default:
			fprintf(stderr, "usage: %s [-n messages] [-r repeats] [-b workload] [-q]\n", argv[0]);
			return 2;
		}
	}
	if (repeats < 1 || repeats > 32 || n_msgs < 8) {
		fprintf(stderr, "core_bench: bad -n or -r\n");
		return 2;
	}
	report("uncontended", 1024, 1, 1, uncontended_thunk, NULL);
	static const size_t caps[] = { 0, 1, 1024 };
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		struct mpmc_args spsc = { caps[i], 1, 1, 0 };
		struct mpmc_args spscf = { caps[i], 1, 1,
					   CHAN_SINGLE_PRODUCER | CHAN_SINGLE_CONSUMER };
		struct mpmc_args mpmc = { caps[i], 4, 4, 0 };

		report("spsc", caps[i], 1, 1, mpmc_thunk, &spsc);
		if (caps[i])
			report("spsc_flags", caps[i], 1, 1, mpmc_thunk, &spscf);
		report("mpmc", caps[i], 4, 4, mpmc_thunk, &mpmc);
	}
	report("pingpong", 0, 1, 1, pingpong_thunk, NULL);
	static int recv_only = 0, with_select = 1;
	report("recv_cost", 1024, 1, 1, select_cost_thunk, &recv_only);
	report("select_cost", 1024, 1, 1, select_cost_thunk, &with_select);

	return 0;
}
