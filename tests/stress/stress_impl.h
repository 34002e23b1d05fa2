/* SPDX-License-Identifier: MIT */
/*
 * tests/stress/stress_impl.h - the conservation checker shared by the stress
 * tests (style rule 18/19): P producers send unique values, C consumers
 * receive them, and at the end
 *   - every value that was sent successfully was received exactly once
 *     ("received twice" / "lost");
 *   - no value whose send failed was received ("failed send delivered");
 *   - each consumer saw each producer's values in increasing order
 *     ("FIFO per producer").
 * A flavour supplies how to send and receive (struct stress_ops).
 *
 * Sizes: STRESS_MSGS messages per configuration (total over producers),
 * scaled by the environment variable CHAN_STRESS_SCALE (a float, default 1)
 * and divided by 8 under ThreadSanitizer.
 */
#ifndef CHAN_TESTS_STRESS_IMPL_H
#define CHAN_TESTS_STRESS_IMPL_H

#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ring/compiler.h"

#ifndef STRESS_MSGS
#define STRESS_MSGS 40000
#endif
#define STRESS_MAX_THREADS 8

struct stress_ops {
	/* 0 on success, <0 when the channel is closed (the value was not sent). */
	int (*send)(void *ch, uint64_t v);
	/* Receive up to @max values into @out: how many (>= 1), or 0 when closed
	 * and drained. */
	size_t (*recv)(void *ch, uint64_t *out, size_t max);
};

struct stress_run {
	void *ch;
	const struct stress_ops *ops;
	int producers, consumers;
	uint64_t per_producer;
	_Atomic uint64_t *seen;	  /* one bit per (producer, seq) */
	uint64_t sent_ok[STRESS_MAX_THREADS];
	_Atomic int producers_left;
	void (*all_sent)(void *ch); /* called once when the last producer is done */
	_Atomic uint64_t close_after; /* producers stop after this many total sends */
	_Atomic uint64_t total_sent;
};

struct stress_thread {
	struct stress_run *run;
	int id;
};

/*
 * Worker threads must not call cr_assert (it unwinds the test's own
 * thread): they record the first broken invariant and carry on draining,
 * and the test thread reports it.
 */
static _Atomic int stress_failed;
/* Clear when values of one producer may take different channels (fan-out):
 * then order per producer is not defined, and only conservation is checked. */
static bool stress_fifo = true;
static char stress_msg[256];

#define STRESS_EXPECT(cond, ...)                                                      \
	do {                                                                          \
		if (chan__unlikely(!(cond)) && atomic_exchange(&stress_failed, 1) == 0) \
			snprintf(stress_msg, sizeof(stress_msg), __VA_ARGS__);        \
	} while (0)

static inline uint64_t stress_scaled(uint64_t n)
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

static void *stress_producer(void *arg)
{
	struct stress_thread *t = arg;
	struct stress_run *r = t->run;
	uint64_t seq;

	for (seq = 0; seq < r->per_producer; seq++) {
		if (r->ops->send(r->ch, ((uint64_t)t->id << 40) | seq) != 0)
			break; /* closed: every later send fails too */
		atomic_fetch_add_explicit(&r->total_sent, 1, memory_order_relaxed);
	}
	r->sent_ok[t->id] = seq;
	if (atomic_fetch_sub(&r->producers_left, 1) == 1 && r->all_sent)
		r->all_sent(r->ch);
	return NULL;
}

static void *stress_consumer(void *arg)
{
	struct stress_thread *t = arg;
	struct stress_run *r = t->run;
	uint64_t last[STRESS_MAX_THREADS], buf[16];
	size_t n;

	for (int p = 0; p < STRESS_MAX_THREADS; p++)
		last[p] = UINT64_MAX;
	while ((n = r->ops->recv(r->ch, buf, 1 + (size_t)t->id % 16)) > 0) {
		for (size_t i = 0; i < n; i++) {
			uint64_t v = buf[i], p = v >> 40, seq = v & ((1ull << 40) - 1);
			uint64_t bit = p * r->per_producer + seq;

			if (p >= (uint64_t)r->producers || seq >= r->per_producer) {
				STRESS_EXPECT(false, "received a value never sent: %llx",
					      (unsigned long long)v);
				continue;
			}
			STRESS_EXPECT(!stress_fifo || last[p] == UINT64_MAX || seq > last[p],
				  "FIFO per producer broken: %llu after %llu from producer %llu",
				  (unsigned long long)seq, (unsigned long long)last[p],
				  (unsigned long long)p);
			last[p] = seq;
			uint64_t old = atomic_fetch_or(&r->seen[bit / 64], 1ull << (bit % 64));
			STRESS_EXPECT((old & (1ull << (bit % 64))) == 0, "received twice: %llu/%llu",
				  (unsigned long long)p, (unsigned long long)seq);
		}
	}
	return NULL;
}

/*
 * stress_check() - run one configuration. @close_mid: if true, a closer
 * thread closes the channel while the producers are still sending (after
 * about half the messages); otherwise all_sent closes it at the end.
 */
static inline void stress_check(void *ch, const struct stress_ops *ops, int producers,
				int consumers, uint64_t msgs, void (*closer)(void *ch),
				bool close_mid)
{
	struct stress_run r = { .ch = ch, .ops = ops, .producers = producers,
				.consumers = consumers };
	struct stress_thread pt[STRESS_MAX_THREADS], ct[STRESS_MAX_THREADS];
	pthread_t ptid[STRESS_MAX_THREADS], ctid[STRESS_MAX_THREADS];
	uint64_t words;

	cr_assert(producers >= 1 && producers <= STRESS_MAX_THREADS);
	cr_assert(consumers >= 1 && consumers <= STRESS_MAX_THREADS);
	r.per_producer = msgs / (uint64_t)producers;
	words = (r.per_producer * (uint64_t)producers + 63) / 64;
	r.seen = calloc(words, sizeof(*r.seen));
	cr_assert_not_null(r.seen);
	atomic_init(&r.producers_left, producers);
	r.all_sent = close_mid ? NULL : closer;

	for (int i = 0; i < consumers; i++) {
		ct[i] = (struct stress_thread){ &r, i };
		pthread_create(&ctid[i], NULL, stress_consumer, &ct[i]);
	}
	for (int i = 0; i < producers; i++) {
		pt[i] = (struct stress_thread){ &r, i };
		pthread_create(&ptid[i], NULL, stress_producer, &pt[i]);
	}
	if (close_mid) {
		uint64_t half = r.per_producer * (uint64_t)producers / 2;

		while (atomic_load_explicit(&r.total_sent, memory_order_relaxed) < half &&
		       atomic_load(&r.producers_left) > 0)
			sched_yield();
		closer(ch);
	}
	for (int i = 0; i < producers; i++)
		pthread_join(ptid[i], NULL);
	for (int i = 0; i < consumers; i++)
		pthread_join(ctid[i], NULL);
	cr_assert(!atomic_load(&stress_failed), "P=%d C=%d: %s", producers, consumers, stress_msg);

	for (int p = 0; p < producers; p++) {
		for (uint64_t seq = 0; seq < r.per_producer; seq++) {
			uint64_t bit = (uint64_t)p * r.per_producer + seq;
			bool got = atomic_load(&r.seen[bit / 64]) & (1ull << (bit % 64));

			if (seq < r.sent_ok[p])
				cr_assert(got, "lost: producer %d seq %llu (P=%d C=%d)", p,
					  (unsigned long long)seq, producers, consumers);
			else
				cr_assert(!got, "failed send delivered: producer %d seq %llu", p,
					  (unsigned long long)seq);
		}
	}
	free(r.seen);
}

#endif /* CHAN_TESTS_STRESS_IMPL_H */
