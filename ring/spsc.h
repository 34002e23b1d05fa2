/* SPDX-License-Identifier: MIT */
/*
 * ring/spsc.h - the single-producer single-consumer ring (private).
 *
 * Lamport's ring with cached opposite indices (each side re-reads the other's
 * index only when its cached copy says full/empty, so in steady state the two
 * sides share no written cache line but the slots). No stamps: the index
 * store publishes. Publication of tail is still a CAS, because close may set
 * mark_bit at any time and a send must not succeed after it (the CAS is
 * uncontended; it fails only when the ring was closed).
 *
 *   C1  tail CAS (seq_cst): publishes the slots written before it; pairs
 *       with S1. Seq_cst for the channel's Dekker pair (see mpmc.h).
 *   S1  consumer's tail load (seq_cst): acquires the data; sees mark_bit.
 *   C2  head store (seq_cst): frees the slots read before it; pairs with S2.
 *   S2  producer's head load (seq_cst): the slots it frees were read.
 */
#ifndef CHAN_RING_SPSC_H
#define CHAN_RING_SPSC_H

#include "ring.h"

static inline unsigned char *ring_data_at(const struct ring *r, uint64_t pos)
{
	return r->slots + ring_index(r, pos) * r->stride;
}

/* Room for at least @want more elements, refreshing the cached head if needed. */
static inline uint64_t ring_spsc_room(struct ring *r, uint64_t tail, uint64_t want)
{
	uint64_t room = r->cap - ring_count(r, r->head_cache, tail);

	if (room < want) {
		/* S2: pairs with C2. */
		r->head_cache = atomic_load_explicit(&r->head, memory_order_seq_cst);
		room = r->cap - ring_count(r, r->head_cache, tail);
	}
	return room;
}

/* Elements ready, refreshing the cached tail if needed; *@closed if closed and drained. */
static inline uint64_t ring_spsc_ready(struct ring *r, uint64_t head, uint64_t want, bool *closed)
{
	uint64_t ready = ring_count(r, head, r->tail_cache);

	*closed = false;
	if (ready < want) {
		/* S1: pairs with C1 and with ring_close(). */
		uint64_t tail = atomic_load_explicit(&r->tail, memory_order_seq_cst);

		r->tail_cache = tail & ~r->mark_bit;
		ready = ring_count(r, head, r->tail_cache);
		*closed = ready == 0 && (tail & r->mark_bit);
	}
	return ready;
}

/* Wait-free. */
static inline enum ring_status ring_try_push_spsc(struct ring *r, const void *elem)
{
	/* Relaxed: we are the only writer but for close's mark_bit, which the
	 * CAS below re-checks. */
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);

	if (tail & r->mark_bit)
		return RING_CLOSED;
	if (ring_spsc_room(r, tail, 1) == 0)
		return RING_WOULD_BLOCK;
	ring_copy(ring_data_at(r, tail), elem, r->elem_size);
	/* C1: publishes the slot; fails only if close set mark_bit. */
	if (!atomic_compare_exchange_strong_explicit(&r->tail, &tail, ring_next(r, tail),
						     memory_order_seq_cst, memory_order_relaxed))
		return RING_CLOSED;
	return RING_OK;
}

/* Wait-free. */
static inline enum ring_status ring_try_pop_spsc(struct ring *r, void *elem)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed); /* ours */
	bool closed;

	if (ring_spsc_ready(r, head, 1, &closed) == 0)
		return closed ? RING_CLOSED : RING_WOULD_BLOCK;
	if (elem)
		ring_copy(elem, ring_data_at(r, head), r->elem_size);
	/* C2: frees the slot; pairs with S2. */
	atomic_store_explicit(&r->head, ring_next(r, head), memory_order_seq_cst);
	return RING_OK;
}

static inline size_t ring_push_burst_spsc(struct ring *r, const void *elems, size_t n, bool *closed)
{
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	const unsigned char *src = elems;
	uint64_t k, pos = tail;

	*closed = (tail & r->mark_bit) != 0;
	if (*closed || n == 0)
		return 0;
	k = ring_spsc_room(r, tail, n);
	if (k > n)
		k = n;
	for (uint64_t i = 0; i < k; i++) {
		ring_copy(ring_data_at(r, pos), src + i * r->elem_size, r->elem_size);
		pos = ring_next(r, pos);
	}
	/* C1: publishes all k slots at once. */
	if (k && !atomic_compare_exchange_strong_explicit(&r->tail, &tail, pos, memory_order_seq_cst,
							  memory_order_relaxed)) {
		*closed = true;
		return 0;
	}
	return (size_t)k;
}

static inline size_t ring_pop_burst_spsc(struct ring *r, void *elems, size_t max, bool *closed)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	unsigned char *dst = elems;
	uint64_t k, pos = head;

	*closed = false;
	if (max == 0)
		return 0;
	k = ring_spsc_ready(r, head, max, closed);
	if (k > max)
		k = max;
	for (uint64_t i = 0; i < k; i++) {
		if (dst)
			ring_copy(dst + i * r->elem_size, ring_data_at(r, pos), r->elem_size);
		pos = ring_next(r, pos);
	}
	/* C2: frees all k slots at once. */
	if (k)
		atomic_store_explicit(&r->head, pos, memory_order_seq_cst);
	return (size_t)k;
}

#endif /* CHAN_RING_SPSC_H */
