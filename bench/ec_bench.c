/* SPDX-License-Identifier: MIT */
/*
 * bench/ec_bench.c - our parking against ConcurrencyKit's eventcount.
 *
 * Both sides use the same ring (ring/mpmc.h); only the blocking layer
 * differs:
 *   chan   chan_send/chan_recv: per-waiter futex words in a wait queue; a
 *          send that finds nobody waiting does one load of the waiter count.
 *   ck_ec  two ck_ec32 event counts (not_empty, not_full): every successful
 *          operation increments one (an atomic RMW on a word shared by all
 *          threads, as ck_ec requires), and a signal wakes every sleeper.
 * Workloads: spsc and mpmc (4+4) for capacities 1 and 1024, and a ping-pong
 * over two capacity-1 channels (ck_ec cannot express a rendezvous).
 * One line per workload: "bench=<w> cap=<c> impl=<chan|ck_ec> median ns_per_op=<x>".
 * Usage: ec_bench [-n msgs] [-r repeats]
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <ck_ec.h>

#include "bench_util.h"
#include <chan/chan.h>

#include "ring/ring.h"

static long n_msgs = 1000000;
static int repeats = 3;

/* ---- ck_ec's system operations, on Linux futexes ------------------------ */

static int ec_gettime(const struct ck_ec_ops *ops, struct timespec *out)
{
	(void)ops;
	return clock_gettime(CLOCK_MONOTONIC, out);
}

static void ec_wait32(const struct ck_ec_wait_state *st, const uint32_t *addr, uint32_t expect,
		      const struct timespec *deadline)
{
	(void)st;
	syscall(SYS_futex, addr, FUTEX_WAIT_BITSET_PRIVATE, expect, deadline, NULL,
		FUTEX_BITSET_MATCH_ANY);
}

static void ec_wake32(const struct ck_ec_ops *ops, const uint32_t *addr)
{
	(void)ops;
	syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static const struct ck_ec_ops ec_ops = {
	.gettime = ec_gettime,
	.wait32 = ec_wait32,
	.wake32 = ec_wake32,
};
static const struct ck_ec_mode ec_mode = { .ops = &ec_ops, .single_producer = false };

struct ecchan {
	struct ring *r;
	void *slots;
	struct ck_ec32 not_empty, not_full;
};

static struct ecchan *ec_new(uint64_t cap)
{
	struct ecchan *c = calloc(1, sizeof(*c));

	c->r = aligned_alloc(CHAN_CACHELINE, sizeof(*c->r));
	c->slots = calloc(1, chan__ring_storage_size(RING_MPMC, 8, cap));
	chan__ring_init(c->r, RING_MPMC, 8, cap, c->slots);
	ck_ec32_init(&c->not_empty, 0);
	ck_ec32_init(&c->not_full, 0);
	return c;
}

static void ec_free(struct ecchan *c)
{
	free(c->r);
	free(c->slots);
	free(c);
}

/* The eventcount protocol: snapshot, re-check, wait for a change. */
static void ec_send(struct ecchan *c, uint64_t v)
{
	for (;;) {
		if (ring_try_push_mpmc(c->r, &v) == RING_OK)
			break;
		uint32_t snap = ck_ec32_value(&c->not_full);

		if (ring_try_push_mpmc(c->r, &v) == RING_OK)
			break;
		ck_ec32_wait(&c->not_full, &ec_mode, snap, NULL);
	}
	ck_ec32_inc(&c->not_empty, &ec_mode);
}

static uint64_t ec_recv(struct ecchan *c)
{
	uint64_t v;

	for (;;) {
		if (ring_try_pop_mpmc(c->r, &v) == RING_OK)
			break;
		uint32_t snap = ck_ec32_value(&c->not_empty);

		if (ring_try_pop_mpmc(c->r, &v) == RING_OK)
			break;
		ck_ec32_wait(&c->not_empty, &ec_mode, snap, NULL);
	}
	ck_ec32_inc(&c->not_full, &ec_mode);
	return v;
}

/* ---- workloads --------------------------------------------------------- */

struct job {
	int use_ec;
	chan_t *ch;
	struct ecchan *ec;
	long count;
	uint64_t sum;
};

static void *producer(void *arg)
{
	struct job *j = arg;

	for (long i = 1; i <= j->count; i++) {
		uint64_t v = (uint64_t)i;

		if (j->use_ec)
			ec_send(j->ec, v);
		else
			chan_send(j->ch, &v);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	struct job *j = arg;
	uint64_t sum = 0; /* local: the jobs share cache lines */

	for (long i = 0; i < j->count; i++) {
		uint64_t v = 0;

		if (j->use_ec)
			v = ec_recv(j->ec);
		else
			chan_recv(j->ch, &v);
		sum += v;
	}
	j->sum = sum;
	return NULL;
}

static double run_mpmc(int use_ec, uint64_t cap, int p)
{
	struct job pj[8], cj[8];
	pthread_t pt[8], ct[8];
	chan_t *ch = use_ec ? NULL : chan_new(8, cap);
	struct ecchan *ec = use_ec ? ec_new(cap) : NULL;
	long per = n_msgs / p;
	uint64_t sum = 0;
	int64_t t0 = chan_now();

	for (int i = 0; i < p; i++) {
		pj[i] = (struct job){ use_ec, ch, ec, per, 0 };
		cj[i] = pj[i];
		pthread_create(&ct[i], NULL, consumer, &cj[i]);
		pthread_create(&pt[i], NULL, producer, &pj[i]);
	}
	for (int i = 0; i < p; i++) {
		pthread_join(pt[i], NULL);
		pthread_join(ct[i], NULL);
		sum += cj[i].sum;
	}
	double ns = (double)(chan_now() - t0) / (double)(per * p);

	if (sum != (uint64_t)p * (uint64_t)per * (uint64_t)(per + 1) / 2) {
		fprintf(stderr, "ec_bench: lost messages\n");
		exit(1);
	}
	chan_release(ch);
	if (ec)
		ec_free(ec);
	return ns;
}

struct pp {
	int use_ec;
	chan_t *a, *b;
	struct ecchan *ea, *eb;
	long rounds;
};

static void *ponger(void *arg)
{
	struct pp *p = arg;

	for (long i = 0; i < p->rounds; i++) {
		uint64_t v;

		if (p->use_ec) {
			v = ec_recv(p->ea);
			ec_send(p->eb, v);
		} else {
			chan_recv(p->a, &v);
			chan_send(p->b, &v);
		}
	}
	return NULL;
}

static double run_pingpong(int use_ec)
{
	struct pp p = { use_ec, NULL, NULL, NULL, NULL, n_msgs / 10 };
	pthread_t t;
	int64_t t0;

	if (use_ec) {
		p.ea = ec_new(1);
		p.eb = ec_new(1);
	} else {
		p.a = chan_new(8, 1);
		p.b = chan_new(8, 1);
	}
	pthread_create(&t, NULL, ponger, &p);
	t0 = chan_now();
	for (long i = 0; i < p.rounds; i++) {
		uint64_t v = (uint64_t)i;

		if (use_ec) {
			ec_send(p.ea, v);
			v = ec_recv(p.eb);
		} else {
			chan_send(p.a, &v);
			chan_recv(p.b, &v);
		}
	}
	double ns = (double)(chan_now() - t0) / (double)p.rounds;

	pthread_join(t, NULL);
	if (use_ec) {
		ec_free(p.ea);
		ec_free(p.eb);
	} else {
		chan_release(p.a);
		chan_release(p.b);
	}
	return ns;
}

static void report(const char *name, uint64_t cap, int p)
{
	for (int use_ec = 0; use_ec < 2; use_ec++) {
		double v[15];

		for (int r = 0; r < repeats; r++)
			v[r] = p ? run_mpmc(use_ec, cap, p) : run_pingpong(use_ec);
		printf("bench=%s cap=%llu impl=%s msgs=%ld median ns_per_op=%.1f\n", name,
		       (unsigned long long)cap, use_ec ? "ck_ec" : "chan", n_msgs,
		       bench_median(v, (size_t)repeats));
		fflush(stdout);
	}
}

int main(int argc, char **argv)
{
	int opt;

	while ((opt = getopt(argc, argv, "n:r:")) != -1) {
		if (opt == 'n')
			n_msgs = atol(optarg);
		else if (opt == 'r')
			repeats = atoi(optarg);
		else
			return 2;
	}
	if (repeats < 1 || repeats > 15)
		return 2;
	report("spsc", 1, 1);
	report("spsc", 1024, 1);
	report("mpmc", 1, 4);
	report("mpmc", 1024, 4);
	report("pingpong", 1, 0);
	return 0;
}
