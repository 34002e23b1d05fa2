/* SPDX-License-Identifier: MIT */
/*
 * ring/evict.h - the evicting push (private): when the ring is full, discard
 * the oldest element and enqueue the new one as one step. The channel layer
 * uses it for CHAN_DROP_OLDEST. Valid only on rings whose pops claim with a
 * CAS on head (RING_MPMC, RING_SPMC): the evicting producer acts as one more
 * consumer, so a single-consumer ring (MPSC, SPSC: a plain head store) must
 * never see it.
 *
 * Algorithm, for a push of x (labels new here; C1 R1 A1 S2 are mpmc.h's):
 *   1. as ring_try_push_mpmc(): a free slot at tail (stamp == tail) is
 *      claimed with C1 and x is published with R1; a slot that a consumer is
 *      still copying out of, or a stale tail, is waited out. Only where that
 *      push would report full, i.e. A1 found the slot at T = tail holding the
 *      element of h = T - one_lap (stamp h + 1) and S2 read head == h:
 *   2. EV1: CAS tail T -> next(T). The producer position T is ours although
 *      its slot still holds h's element: x is committed (a close can no
 *      longer refuse it), and tail is for a moment one lap + 1 ahead of head.
 *   3. EV2: CAS head h -> next(h), once (strong): the consumers' claim of h.
 *   4a. EV2 won: we are h's consumer. A1 acquired h's publication (R1 of h),
 *      and nobody else touches the slot now (h's consumer and T's producer
 *      are both us), so we take h's element out (a copy, or in place for
 *      large elements), write x and publish it (R1, stamp T + 1).
 *   4b. EV2 lost: a pop claimed h, so the ring was not full after all; that
 *      pop frees the slot (R2, stamp T), and we wait for it (A1 in
 *      ring_wait_stamp()), then write and publish x, as ring_fill() does.
 * The evicted element goes to @evict, after R1 when it was copied out (so a
 * slow evict() delays no receiver), before it when it is large.
 *
 * Why not "pop the oldest, then push" (two operations)? Between them
 * receivers may drain the ring, and the value was discarded though it would
 * have fit; and a close between them refuses the push after the eviction
 * happened. Claiming tail first makes the push unconditional, and the
 * eviction conditional on the ring still being full.
 *
 * Linearization. EV2 won: head == h both at S2 and at EV2 (head only grows),
 * and tail == T from our read to EV1, so at EV1 head + one_lap == tail: the
 * ring was full. Between EV1 and EV2 no other thread claims anything: a pop
 * would CAS head from h (and make EV2 fail); a C1 at T + 1 needs that slot
 * freed, i.e. head past h + 1; an EV1 at T + 1 needs S2 to read head h + 1.
 * So "evict h, enqueue x" is one atomic step at EV1. EV2 lost: the pop P
 * that claimed h did so after our S2; linearize our push as a plain one at
 * max(EV1, P's claim), where the ring had room; nothing else was claimed in
 * between, by the same argument. Either way a close that set mark_bit after
 * EV1 comes after the push, and x is delivered before -EPIPE; one that came
 * before EV1 makes EV1 fail, and nothing was evicted.
 *
 * No value twice, none skipped: position h is claimed by exactly one CAS on
 * head from h (a pop's C2 or our EV2), so exactly one of a receiver and an
 * evictor gets h's element. The evicted position is always head itself, so
 * [head, tail) stays contiguous: the missing values are the oldest ones.
 * Bound: claims of tail at a full ring (EV1) need head + one_lap == tail at
 * S2, before the CAS, so tail <= head + one_lap + 1 always; head never
 * passes tail (EV2 moves head to h + 1 <= T). ring_count_snapshot() reads
 * such a pair as cap.
 *
 * Progress: lock-free like the plain push, except that between one
 * evictor's EV1 and EV2 (no user code, a few instructions) the other
 * producers find tail a lap + 1 ahead and wait for EV2 or for a pop of h.
 */
#ifndef CHAN_RING_EVICT_H
#define CHAN_RING_EVICT_H

#include <stdalign.h>

#include "mpmc.h"

/* Elements up to this size are copied out and handed to evict() after the
 * new one is published; larger ones are handed over in place, before. */
#define RING_EVICT_COPY_MAX 256

/**
 * ring_push_evict() - push @elem; if the ring is full, evict its oldest
 * element (see above) and push.
 * @r:     a RING_MPMC or RING_SPMC ring.
 * @elem:  elem_size bytes, copied in.
 * @evict: called exactly once, in this thread, with the evicted element (a
 *         pointer valid only during the call) and @arg, if one was evicted;
 *         it must not touch @r.
 *
 * Return: RING_OK (@elem is in; maybe one element was evicted) or
 * RING_CLOSED (nothing changed). Never RING_WOULD_BLOCK.
 */
static inline enum ring_status ring_push_evict(struct ring *r, const void *elem,
					       void (*evict)(void *elem, void *arg), void *arg)
{
	unsigned step = 0;
	/* Relaxed: a guess, validated by the stamp (A1) and the CASes. */
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	struct ring_slot *s;

	for (;;) {
		if (tail & r->mark_bit)
			return RING_CLOSED;
		s = ring_slot_at(r, tail);
		/* A1: pairs with R2 (the slot was emptied), or with R1 of the
		 * previous lap (its element, which we may evict, is visible). */
		uint64_t stamp = ring_stamp_acquire(r, s, tail);

		if (stamp == tail) {
			/* C1, as in ring_try_push_mpmc(). */
			if (atomic_compare_exchange_weak_explicit(
				    &r->tail, &tail, ring_next(r, tail), memory_order_seq_cst,
				    memory_order_relaxed)) {
				RING_DEBUG_HOOK(r, "push: slot claimed, before publish");
				ring_copy(s->data, elem, r->elem_size);
				/* R1: publishes s->data; pairs with A2 in the pops. */
				ring_stamp_release(r, s, tail, tail + 1);
				ring_commit_check(r, tail, 1);
				return RING_OK;
			}
			continue; /* the failed CAS reloaded tail */
		}
		if (stamp + r->one_lap == tail + 1) {
			/* S2: pairs with C2 and EV2. */
			uint64_t head = atomic_load_explicit(&r->head, memory_order_seq_cst);

			if (head + r->one_lap == tail) {
				/* Full. EV1: seq_cst, as C1: the channel reads the
				 * receivers' waiter count after it (the changer's half
				 * of the eventcount). It fails if tail moved or close
				 * set mark_bit: nothing is claimed then, start over. */
				if (atomic_compare_exchange_strong_explicit(
					    &r->tail, &tail, ring_next(r, tail),
					    memory_order_seq_cst, memory_order_relaxed))
					break;
				continue; /* the failed CAS reloaded tail */
			}
		}
		/* A consumer is copying out, another producer took tail, or an
		 * evictor is between EV1 and EV2: catch up. */
		ring_backoff(&step);
		tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	}
	RING_DEBUG_HOOK(r, "evict: tail claimed, before the head CAS");

	/* We own producer position T = tail; its slot held h's element at S2. */
	uint64_t h = tail - r->one_lap, expect = h;

	/* EV2: the consumers' claim of h; seq_cst like C2, which it races, and
	 * pairs with S2. Strong: a spurious failure would read as "a pop took h". */
	if (!atomic_compare_exchange_strong_explicit(&r->head, &expect, ring_next(r, h),
						     memory_order_seq_cst, memory_order_relaxed)) {
		/* 4b. A pop took h and frees the slot: ring_fill() waits for its
		 * R2 (the acquire in ring_wait_stamp(), A1), then publishes (R1). */
		ring_fill(r, tail, elem, 1);
		return RING_OK;
	}
	RING_DEBUG_HOOK(r, "evict: head claimed, before publish");
	if (r->elem_size <= RING_EVICT_COPY_MAX) {
		alignas(16) unsigned char old[RING_EVICT_COPY_MAX];

		ring_copy(old, s->data, r->elem_size);
		ring_copy(s->data, elem, r->elem_size);
		/* R1: publishes x at T; pairs with A2 in the pops. */
		ring_stamp_release(r, s, tail, tail + 1);
		evict(old, arg);
	} else {
		evict(s->data, arg);
		ring_copy(s->data, elem, r->elem_size);
		/* R1: publishes x at T; pairs with A2 in the pops. */
		ring_stamp_release(r, s, tail, tail + 1);
	}
	return RING_OK;
}

#endif /* CHAN_RING_EVICT_H */
