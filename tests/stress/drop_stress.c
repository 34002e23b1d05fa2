/* SPDX-License-Identifier: MIT */
/*
 * tests/stress/drop_stress.c - receivers racing senders that discard or
 * evict (CHAN_DROP_NEWEST, CHAN_DROP_OLDEST): P senders x C receivers (1, 2,
 * 4 each) x capacities 1, 3 and 64, with the single-producer/consumer flags
 * where the thread counts allow them, plain, burst and select sends, and
 * plain, burst and try receives. Invariants, each expect_failure named:
 *   - every value sent is exactly one of received, discarded (drop() while
 *     the channel is in use) or left at the last release (drop() then):
 *     "received twice", "dropped twice", "received and dropped", "lost";
 *     nothing invented;
 *   - each receiver sees each sender's values in increasing order ("FIFO per
 *     producer");
 *   - chan_dropped() equals the number of discards ("dropped count");
 *   - chan_len() never exceeds the capacity, sampled while evictions run
 *     ("len above cap");
 *   - with one sender, which is then the only evictor, DROP_OLDEST discards
 *     that sender's values in increasing order ("evicted out of order").
 * Half the runs close and drain; the other half stop the receivers without
 * draining, so that the last release has values left to drop(). In builds
 * with CHAN_DEBUG_HOOKS (debug, tsan) the ring's windows yield at random,
 * most often between an evicting push's tail and head CASes.
 *
 * The checker is not stress_impl.h's: that one requires every sent value to
 * be received, which is exactly what a drop policy gives up.
 * Sizes: DROP_MSGS per configuration, scaled by CHAN_STRESS_SCALE and divided
 * by 8 under ThreadSanitizer, as in stress_impl.h.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <chan/chan.h>

#include "tests/common/expect.h"

#include "ring/compiler.h"
#include "ring/slots.h"

#ifndef DROP_MSGS
#define DROP_MSGS 12000
#endif
#define MAXT 4

static uint64_t scaled(uint64_t n)
{
	const char *s = getenv("CHAN_STRESS_SCALE");
	double scale = s ? atof(s) : 1.0;

	if (scale <= 0)
		scale = 1.0;
#if CHAN__TSAN
	scale /= 8;
#endif
	n = (uint64_t)((double)n * scale);
	return n < 64 ? 64 : n;
}


enum { RECEIVED, DROPPED, LEFT, NMAPS };

struct run {
	chan_t *c;
	size_t cap;
	int producers, consumers;
	uint64_t per_producer;
	bool drain; /* close and drain, or stop the receivers and leave the rest */
	_Atomic uint64_t *map[NMAPS]; /* one bit per (producer, seq) */
	_Atomic uint64_t discards;    /* drop() calls while in use */
	_Atomic int producers_left;
	_Atomic bool stop;	/* receivers: stop now (the !drain runs) */
	_Atomic bool releasing; /* drop() calls now come from the last release */
	uint64_t last_evicted;	/* one producer only: its last discarded seq + 1 */
	unsigned policy;
};

static struct run R; /* drop() has no argument but the element */

static void mark(int which, uint64_t v, const char *twice)
{
	uint64_t p = v >> 40, seq = v & ((1ull << 40) - 1);

	if (p >= (uint64_t)R.producers || seq >= R.per_producer) {
		EXPECT(false, "value never sent: %llx", (unsigned long long)v);
		return;
	}
	uint64_t bit = p * R.per_producer + seq;
	/* Seq_cst RMW (the default): the maps are read after the joins; the
	 * RMW only has to be atomic. */
	uint64_t old = atomic_fetch_or(&R.map[which][bit / 64], 1ull << (bit % 64));

	EXPECT((old & (1ull << (bit % 64))) == 0, "%s: producer %llu seq %llu", twice,
	       (unsigned long long)p, (unsigned long long)seq);
}

static void on_drop(void *elem)
{
	uint64_t v;

	memcpy(&v, elem, sizeof(v));
	if (atomic_load(&R.releasing)) {
		mark(LEFT, v, "left twice at release");
		return;
	}
	mark(DROPPED, v, "dropped twice");
	atomic_fetch_add(&R.discards, 1);
	if (R.producers == 1 && R.policy == CHAN_DROP_OLDEST) {
		/* The only evictor is the one producer: its evictions are
		 * sequential, and each takes the oldest value. */
		uint64_t seq = v & ((1ull << 40) - 1);

		EXPECT(seq + 1 > R.last_evicted, "evicted out of order: seq %llu after %llu",
		       (unsigned long long)seq, (unsigned long long)R.last_evicted - 1);
		R.last_evicted = seq + 1;
	}
}

/* ---- senders ---------------------------------------------------------------- */

struct worker {
	int id;
	uint64_t rng;
};

static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * Random pauses on both sides, so that the ring is sometimes full with
 * receivers active (evictions racing pops), sometimes drained: without
 * them, discarding senders finish before a receiver is even scheduled.
 */
static void pause_a_little(uint64_t *rng)
{
	uint64_t x = next_rand(rng);

	if (x % 16 == 0) {
		sched_yield();
		return;
	}
	for (uint64_t i = (x >> 8) % 256; i > 0; i--)
		chan__cpu_relax();
}

static _Thread_local uint64_t hook_rng;

static void ring_hook(struct ring *r, const char *where)
{
	(void)r;
	if (!hook_rng)
		hook_rng = (uint64_t)(uintptr_t)&hook_rng | 1;
	if (next_rand(&hook_rng) % (strncmp(where, "evict", 5) == 0 ? 4 : 64) == 0)
		sched_yield();
}

static void *producer(void *arg)
{
	struct worker *w = arg;
	uint64_t base = (uint64_t)w->id << 40, seq = 0, buf[16];

	while (seq < R.per_producer) {
		unsigned how = (unsigned)(next_rand(&w->rng) % 4);
		int r;

		if (how == 0) {
			/* A burst: every value goes in or is discarded. */
			size_t n = 1 + next_rand(&w->rng) % 16;

			if (n > R.per_producer - seq)
				n = (size_t)(R.per_producer - seq);
			for (size_t i = 0; i < n; i++)
				buf[i] = base | (seq + i);
			EXPECT(chan_send_burst(R.c, buf, n) == n, "a policy burst came back short");
			seq += n;
			pause_a_little(&w->rng);
			continue;
		}
		buf[0] = base | seq;
		if (how == 1) {
			chan_case_t cs = {.chan = R.c, .op = CHAN_OP_SEND, .elem = buf};

			r = chan_select(&cs, 1);
			EXPECT(r == 0 && cs.err == 0, "select send: %d, err %d", r, cs.err);
		} else if (how == 2) {
			r = chan_try_send(R.c, buf);
			EXPECT(r == 0, "try_send on a policy channel: %d", r);
		} else {
			r = chan_send(R.c, buf);
			EXPECT(r == 0, "send: %d", r);
		}
		seq++;
		pause_a_little(&w->rng);
	}
	if (atomic_fetch_sub(&R.producers_left, 1) == 1 && R.drain)
		chan_close(R.c);
	return NULL;
}

/* ---- receivers --------------------------------------------------------------- */

static void *consumer(void *arg)
{
	struct worker *w = arg;
	uint64_t last[MAXT], buf[16];

	for (int p = 0; p < MAXT; p++)
		last[p] = UINT64_MAX;
	for (;;) {
		size_t n = 0;
		int how = (int)(next_rand(&w->rng) % 3);

		if (!R.drain && atomic_load(&R.stop))
			break;
		if (how == 0 && R.drain) {
			n = chan_recv_burst(R.c, buf, 1 + next_rand(&w->rng) % 16);
			if (n == 0)
				break; /* closed and drained */
		} else if (how == 1 && R.drain) {
			int r = chan_recv(R.c, buf);

			if (r == -EPIPE)
				break;
			n = r == 0;
		} else {
			int r = chan_try_recv(R.c, buf);

			if (r == -EPIPE)
				break;
			if (r == -EAGAIN)
				sched_yield();
			n = r == 0;
		}
		for (size_t i = 0; i < n; i++) {
			uint64_t p = buf[i] >> 40, seq = buf[i] & ((1ull << 40) - 1);

			if (p < MAXT) {
				EXPECT(last[p] == UINT64_MAX || seq > last[p],
				       "FIFO per producer: seq %llu after %llu from producer %llu",
				       (unsigned long long)seq, (unsigned long long)last[p],
				       (unsigned long long)p);
				last[p] = seq;
			}
			mark(RECEIVED, buf[i], "received twice");
		}
		pause_a_little(&w->rng);
	}
	return NULL;
}

static void *len_sampler(void *arg)
{
	(void)arg;
	while (atomic_load(&R.producers_left) > 0) {
		size_t len = chan_len(R.c);

		EXPECT(len <= R.cap, "len above cap: %zu > %zu", len, R.cap);
		sched_yield();
	}
	return NULL;
}

/* ---- one configuration -------------------------------------------------------- */

static void run_one(unsigned policy, size_t cap, int np, int nc, unsigned flags, bool drain,
		    uint64_t msgs, uint64_t seed)
{
	chan_opts_t o = {.elem_size = 8, .capacity = cap, .flags = policy | flags, .drop = on_drop};
	pthread_t pt[MAXT], ct[MAXT], sampler;
	struct worker pw[MAXT], cw[MAXT];
	uint64_t words, dropped_count;

	memset(&R, 0, sizeof(R));
	chan__ring_debug_hook = ring_hook;
	R.c = chan_new_opts(&o);
	cr_assert_not_null(R.c);
	R.cap = cap;
	R.producers = np;
	R.consumers = nc;
	R.per_producer = msgs / (uint64_t)np;
	R.drain = drain;
	R.policy = policy;
	words = (R.per_producer * (uint64_t)np + 63) / 64;
	for (int m = 0; m < NMAPS; m++) {
		R.map[m] = calloc(words, sizeof(uint64_t));
		cr_assert_not_null(R.map[m]);
	}
	atomic_init(&R.producers_left, np);
	for (int i = 0; i < nc; i++) {
		cw[i] = (struct worker){i, seed * 77 + (uint64_t)i * 2 + 1};
		pthread_create(&ct[i], NULL, consumer, &cw[i]);
	}
	for (int i = 0; i < np; i++) {
		pw[i] = (struct worker){i, seed * 131 + (uint64_t)i * 2 + 1};
		pthread_create(&pt[i], NULL, producer, &pw[i]);
	}
	pthread_create(&sampler, NULL, len_sampler, NULL);
	for (int i = 0; i < np; i++)
		pthread_join(pt[i], NULL);
	atomic_store(&R.stop, true);
	for (int i = 0; i < nc; i++)
		pthread_join(ct[i], NULL);
	pthread_join(sampler, NULL);
	dropped_count = chan_dropped(R.c);
	atomic_store(&R.releasing, true);
	chan_release(R.c);

	const char *cfg = policy == CHAN_DROP_NEWEST ? "DROP_NEWEST" : "DROP_OLDEST";

	cr_assert(!expect_failed(), "%s cap %zu P=%d C=%d flags %#x %s: %s", cfg, cap, np, nc,
		  flags, drain ? "drain" : "leave", expect_failure);
	cr_assert_eq(dropped_count, atomic_load(&R.discards),
		     "dropped count: chan_dropped %llu, drop() ran %llu times (%s cap %zu)",
		     (unsigned long long)dropped_count,
		     (unsigned long long)atomic_load(&R.discards), cfg, cap);
	uint64_t got[NMAPS] = {0};

	for (uint64_t bit = 0; bit < R.per_producer * (uint64_t)np; bit++) {
		int n = 0;

		for (int m = 0; m < NMAPS; m++) {
			bool set = atomic_load(&R.map[m][bit / 64]) & (1ull << (bit % 64));

			n += set;
			got[m] += set;
		}
		cr_assert_eq(n, 1, "%s: producer %llu seq %llu (%s cap %zu P=%d C=%d)",
			     n == 0 ? "lost" : "received and dropped",
			     (unsigned long long)(bit / R.per_producer),
			     (unsigned long long)(bit % R.per_producer), cfg, cap, np, nc);
	}
	if (getenv("DROP_STRESS_VERBOSE"))
		fprintf(stderr,
			"%s cap %zu P=%d C=%d flags %#x %s: received %llu dropped %llu left %llu\n",
			cfg, cap, np, nc, flags, drain ? "drain" : "leave",
			(unsigned long long)got[RECEIVED], (unsigned long long)got[DROPPED],
			(unsigned long long)got[LEFT]);
	if (drain)
		cr_assert_eq(got[LEFT], 0, "closed and drained, yet values were left");
	cr_assert_leq(got[LEFT], cap);
	for (int m = 0; m < NMAPS; m++)
		free((void *)R.map[m]);
}

static void run_matrix(unsigned policy)
{
	static const size_t caps[] = {1, 3, 64};
	static const int threads[] = {1, 2, 4};
	uint64_t msgs = scaled(DROP_MSGS), seed = 1;

	for (size_t c = 0; c < 3; c++) {
		for (size_t p = 0; p < 3; p++) {
			for (size_t q = 0; q < 3; q++) {
				int np = threads[p], nc = threads[q];
				unsigned flags = (np == 1 ? CHAN_SINGLE_PRODUCER : 0) |
						 (nc == 1 ? CHAN_SINGLE_CONSUMER : 0);

				for (int drain = 0; drain < 2; drain++, seed++)
					run_one(policy, caps[c], np, nc, seed % 2 ? flags : 0,
						drain, msgs, seed);
			}
		}
	}
}

Test(drop_stress, newest_receivers_race_discarding_senders, .timeout = 600)
{
	run_matrix(CHAN_DROP_NEWEST);
}

Test(drop_stress, oldest_receivers_race_evicting_senders, .timeout = 600)
{
	run_matrix(CHAN_DROP_OLDEST);
}
