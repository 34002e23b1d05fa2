/* SPDX-License-Identifier: MIT */
/*
 * ring/spmc.h - the single-producer multi-consumer ring (private).
 *
 * Consumers are those of ring/mpmc.h (labels C2, A2, R2 there). The single
 * producer owns tail but for close's mark_bit: its CAS (C1) never retries
 * against another producer, and fails only if the ring was closed.
 *
 *   A1  stamp load (acquire): pairs with R2, the slot was emptied.
 *   C1  tail CAS (seq_cst): claims the position, checks close, and is the
 *       producer's half of the channel's Dekker pair (see mpmc.h).
 *   R1  stamp = pos + 1 (release): publishes; pairs with A2.
 *   S2  head load (seq_cst): pairs with C2.
 */
#ifndef CHAN_RING_SPMC_H
#define CHAN_RING_SPMC_H

#include "mpmc.h"

/* Lock-free; waits only for a consumer inside its copy window. */
static inline enum ring_status ring_try_push_spmc(struct ring *r, const void *elem)
{
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed); /* ours */
	struct ring_slot *s = ring_slot_at(r, tail);

	if (tail & r->mark_bit)
		return RING_CLOSED;
	/* A1: pairs with R2. */
	if (ring_stamp_acquire(r, s, tail) != tail) {
		/* S2: pairs with C2. */
		uint64_t head = atomic_load_explicit(&r->head, memory_order_seq_cst);

		if (head + r->one_lap == tail)
			return RING_WOULD_BLOCK;
		/* A consumer claimed the slot and is still copying out. */
		s = ring_wait_stamp(r, tail, tail);
	}
	/* C1: fails only if close set mark_bit. */
	if (!atomic_compare_exchange_strong_explicit(&r->tail, &tail, ring_next(r, tail),
						     memory_order_seq_cst, memory_order_relaxed))
		return RING_CLOSED;
	RING_DEBUG_HOOK(r, "push: slot claimed, before publish");
	ring_copy(s->data, elem, r->elem_size);
	/* R1: publishes s->data; pairs with A2. */
	ring_stamp_release(r, s, tail, tail + 1);
	ring_commit_check(r, tail, 1);
	return RING_OK;
}

static inline size_t ring_push_burst_spmc(struct ring *r, const void *elems, size_t n, bool *closed)
{
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed); /* ours */
	uint64_t k;

	*closed = (tail & r->mark_bit) != 0;
	if (*closed || n == 0)
		return 0;
	/* Only free slots (see ring_scan()): no waiting for a consumer still
	 * copying out, unless no slot is free yet. */
	k = ring_scan(r, tail, 0, n < r->cap ? n : r->cap);
	if (k == 0) {
		/* S2: pairs with C2. */
		uint64_t head = atomic_load_explicit(&r->head, memory_order_seq_cst);

		if (head + r->one_lap == tail)
			return 0; /* full */
		ring_wait_stamp(r, tail, tail); /* a consumer is copying out */
		k = ring_scan(r, tail, 0, n < r->cap ? n : r->cap);
	}
	/* C1: fails only if close set mark_bit. */
	if (!atomic_compare_exchange_strong_explicit(&r->tail, &tail, ring_advance(r, tail, k),
						     memory_order_seq_cst, memory_order_relaxed)) {
		*closed = true;
		return 0;
	}
	ring_fill(r, tail, elems, k);
	ring_commit_check(r, tail, k);
	return (size_t)k;
}

static inline enum ring_status ring_try_pop_spmc(struct ring *r, void *elem)
{
	return ring_try_pop_mpmc(r, elem);
}

static inline size_t ring_pop_burst_spmc(struct ring *r, void *elems, size_t max, bool *closed)
{
	return ring_pop_burst_mpmc(r, elems, max, closed);
}

#endif /* CHAN_RING_SPMC_H */
