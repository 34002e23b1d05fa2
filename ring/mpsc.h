/* SPDX-License-Identifier: MIT */
/*
 * ring/mpsc.h - the multi-producer single-consumer ring (private).
 *
 * Producers are those of ring/mpmc.h (labels C1, R1, A1 there). The single
 * consumer owns head: it needs no CAS, only a store, and it never meets a
 * slot claimed by another consumer.
 *
 *   A2  stamp load (acquire): pairs with R1, the element is written.
 *   C2  head store (seq_cst): pairs with S2 in the producers and is the
 *       consumer's half of the channel's Dekker pair (see mpmc.h). It comes
 *       before R2, as the CAS does in the MPMC pop (see ring.h).
 *   R2  stamp = pos + one_lap (release): frees the slot; pairs with A1.
 *   S1  tail load (seq_cst): pairs with C1 and chan__ring_close().
 */
#ifndef CHAN_RING_MPSC_H
#define CHAN_RING_MPSC_H

#include "mpmc.h"

static inline enum ring_status ring_try_push_mpsc(struct ring *r, const void *elem)
{
	return ring_try_push_mpmc(r, elem);
}

static inline size_t ring_push_burst_mpsc(struct ring *r, const void *elems, size_t n, bool *closed)
{
	return ring_push_burst_mpmc(r, elems, n, closed);
}

/* Elements published or reserved past @head; 0 with *@closed if closed. */
static inline uint64_t ring_sc_ready(struct ring *r, uint64_t head, bool *closed)
{
	/* S1: pairs with C1 and with chan__ring_close(). */
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_seq_cst);
	uint64_t t = tail & ~r->mark_bit;

	*closed = t == head && (tail & r->mark_bit);
	return ring_count(r, head, t);
}

/* Lock-free; waits only for a producer inside its copy window. */
static inline enum ring_status ring_try_pop_mpsc(struct ring *r, void *elem)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed); /* ours */
	struct ring_slot *s = ring_slot_at(r, head);
	bool closed;

	/* A2: pairs with R1. */
	if (ring_stamp_acquire(r, s, head) != head + 1) {
		if (ring_sc_ready(r, head, &closed) == 0)
			return closed ? RING_CLOSED : RING_WOULD_BLOCK;
		/* Reserved by a producer that is still copying in. */
		s = ring_wait_stamp(r, head, head + 1);
	}
	if (elem)
		ring_copy(elem, s->data, r->elem_size);
	/* C2 before R2: head must never lag a freed slot, or a producer could
	 * take it while tail - head = cap already (tests/regress/mpsc_overshoot.c). */
	atomic_store_explicit(&r->head, ring_next(r, head), memory_order_seq_cst);
	/* R2: frees the slot; pairs with A1. */
	ring_stamp_release(r, s, head, head + r->one_lap);
	RING_DEBUG_HOOK(r, "slot freed");
	return RING_OK;
}

static inline size_t ring_pop_burst_mpsc(struct ring *r, void *elems, size_t max, bool *closed)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed); /* ours */
	uint64_t k;

	*closed = false;
	if (max == 0)
		return 0;
	/* Only published slots (see ring_scan()): no waiting for a producer
	 * still copying in, unless none is published yet. */
	k = ring_scan(r, head, 1, max < r->cap ? max : r->cap);
	if (k == 0) {
		if (ring_sc_ready(r, head, closed) == 0)
			return 0;
		/* Reserved by a producer that is still copying in. */
		ring_wait_stamp(r, head, head + 1);
		k = ring_scan(r, head, 1, max < r->cap ? max : r->cap);
	}
	/* C2 before the R2s in ring_empty(), as in the MPMC burst: head never
	 * lags a freed slot. */
	atomic_store_explicit(&r->head, ring_advance(r, head, k), memory_order_seq_cst);
	ring_empty(r, head, elems, k);
	return (size_t)k;
}

#endif /* CHAN_RING_MPSC_H */
