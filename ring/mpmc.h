/* SPDX-License-Identifier: MIT */
/*
 * ring/mpmc.h - the multi-producer multi-consumer ring (private).
 *
 * Vyukov's bounded MPMC queue (per-slot sequence numbers), in the lap
 * encoding of crossbeam-channel's array flavour, with close folded into
 * tail as mark_bit so that "closed" and "claimed a slot" are one atomic
 * step. See ring/ring.h for the invariants.
 *
 * Ordering labels used by every stamped flavour:
 *   C1  tail CAS (seq_cst): claims a producer position. Seq_cst because the
 *       channel's wait protocol reads the receivers' waiter count right after
 *       it (Dekker pair with the waiter's seq_cst RMW and its tail re-check).
 *   R1  stamp = pos + 1 (release): publishes the element; pairs with A2.
 *   A1  producer's stamp load (acquire): pairs with R2, the slot's previous
 *       value has been copied out before we overwrite it.
 *   C2  head CAS (seq_cst): claims a consumer position; Dekker pair with the
 *       senders' waiter count, as C1.
 *   A2  consumer's stamp load (acquire): pairs with R1.
 *   R2  stamp = pos + one_lap (release): frees the slot; pairs with A1.
 *   S1  tail load when the slot looks empty (seq_cst): a mark_bit seen here
 *       makes the close happen-before the RING_CLOSED result.
 *   S2  head load when the slot looks full (seq_cst): pairs with C2.
 */
#ifndef CHAN_RING_MPMC_H
#define CHAN_RING_MPMC_H

#include "slots.h"

/* Lock-free. A stalled producer delays only the consumer of its slot. */
static inline enum ring_status ring_try_push_mpmc(struct ring *r, const void *elem)
{
	unsigned step = 0;
	/* Relaxed: only a guess, validated by the stamp (A1) and the CAS (C1). */
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);

	for (;;) {
		if (tail & r->mark_bit)
			return RING_CLOSED;

		struct ring_slot *s = ring_slot_at(r, tail);
		/* A1: pairs with R2 in the pops: the slot was emptied. */
		uint64_t stamp = ring_stamp_acquire(r, s, tail);

		if (stamp == tail) {
			/* C1 */
			if (atomic_compare_exchange_weak_explicit(&r->tail, &tail, ring_next(r, tail),
								  memory_order_seq_cst,
								  memory_order_relaxed)) {
				RING_DEBUG_HOOK(r, "push: slot claimed, before publish");
				ring_copy(s->data, elem, r->elem_size);
				/* R1: publishes s->data; pairs with A2 in the pops. */
				ring_stamp_release(r, s, tail, tail + 1);
				ring_commit_check(r, tail, 1);
				return RING_OK;
			}
			/* The failed CAS reloaded tail. */
			ring_cas_backoff(&step);
		} else if (stamp + r->one_lap == tail + 1) {
			/* The slot holds last lap's value: full, unless a consumer
			 * has claimed it and is still copying out. */
			/* S2: pairs with C2. */
			uint64_t head = atomic_load_explicit(&r->head, memory_order_seq_cst);

			if (head + r->one_lap == tail)
				return RING_WOULD_BLOCK;
			ring_backoff(&step);
			tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
		} else {
			/* Another producer took this position; catch up. */
			ring_backoff(&step);
			tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
		}
	}
}

/* Lock-free. @elem may be NULL: the element is discarded. */
static inline enum ring_status ring_try_pop_mpmc(struct ring *r, void *elem)
{
	unsigned step = 0;
	/* Relaxed: a guess, validated by the stamp (A2) and the CAS (C2). */
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);

	for (;;) {
		struct ring_slot *s = ring_slot_at(r, head);
		/* A2: pairs with R1: the element is written. */
		uint64_t stamp = ring_stamp_acquire(r, s, head);

		if (stamp == head + 1) {
			/* C2 */
			if (atomic_compare_exchange_weak_explicit(&r->head, &head, ring_next(r, head),
								  memory_order_seq_cst,
								  memory_order_relaxed)) {
				RING_DEBUG_HOOK(r, "pop: slot claimed, before copy-out");
				if (elem)
					ring_copy(elem, s->data, r->elem_size);
				/* R2: frees the slot; pairs with A1 in the pushes. */
				ring_stamp_release(r, s, head, head + r->one_lap);
				return RING_OK;
			}
			/* The failed CAS reloaded head. */
			ring_cas_backoff(&step);
		} else if (stamp == head) {
			/* Nothing written here yet: empty, unless a producer has
			 * claimed the slot and is still copying in. */
			/* S1: pairs with C1 and with chan__ring_close(). */
			uint64_t tail = atomic_load_explicit(&r->tail, memory_order_seq_cst);

			if ((tail & ~r->mark_bit) == head)
				return (tail & r->mark_bit) ? RING_CLOSED : RING_WOULD_BLOCK;
			ring_backoff(&step);
			head = atomic_load_explicit(&r->head, memory_order_relaxed);
		} else {
			ring_backoff(&step);
			head = atomic_load_explicit(&r->head, memory_order_relaxed);
		}
	}
}

/*
 * Wait until a slot we own by position reaches @want: the thread of the
 * previous lap (or the producer of this one) is inside its copy window.
 */
static inline struct ring_slot *ring_wait_stamp(const struct ring *r, uint64_t pos, uint64_t want)
{
	struct ring_slot *s = ring_slot_at(r, pos);
	unsigned step = 0;

	/* A1/A2: the acquire that pairs with R2/R1 of the other side. */
	while (ring_stamp_acquire(r, s, pos) != want)
		ring_backoff(&step);
	return s;
}

/* Fill the @k reserved positions from @start, publishing each (R1). */
static inline void ring_fill(struct ring *r, uint64_t start, const unsigned char *src, uint64_t k)
{
	uint64_t pos = start;

	for (uint64_t i = 0; i < k; i++) {
		struct ring_slot *s = ring_wait_stamp(r, pos, pos);

		ring_copy(s->data, src + i * r->elem_size, r->elem_size);
		/* R1: publishes s->data; pairs with A2 in the pops. */
		ring_stamp_release(r, s, pos, pos + 1);
		pos = ring_next(r, pos);
	}
}

/* Empty the @k reserved positions from @start, freeing each (R2). */
static inline void ring_empty(struct ring *r, uint64_t start, unsigned char *dst, uint64_t k)
{
	uint64_t pos = start;

	for (uint64_t i = 0; i < k; i++) {
		struct ring_slot *s = ring_wait_stamp(r, pos, pos + 1);

		if (dst)
			ring_copy(dst + i * r->elem_size, s->data, r->elem_size);
		/* R2: frees the slot; pairs with A1 in the pushes. */
		ring_stamp_release(r, s, pos, pos + r->one_lap);
		RING_DEBUG_HOOK(r, "slot freed");
		pos = ring_next(r, pos);
	}
}

/*
 * How many consecutive slots from @pos have stamp == position + @delta
 * (delta 0: free for the producer of that position; 1: published for its
 * consumer), at most @max <= cap. Acquire loads: A1/A2.
 *
 * Bursts reserve only slots found ready this way, never slots another
 * thread has claimed and not finished: so a burst never waits for a thread
 * that may be preempted (with 8 threads on 2 cores, waiting for a stalled
 * partner's copy turned every cap-1 burst into a sched_yield storm). The
 * stamps stay as read until our CAS, because only the thread that claims a
 * position touches its slot, and the CAS proves nobody else claimed them.
 */
static inline uint64_t ring_scan(const struct ring *r, uint64_t pos, uint64_t delta, uint64_t max)
{
	uint64_t k = 0;

	while (k < max) {
		const struct ring_slot *s = ring_slot_at(r, pos);

		if (ring_stamp_acquire(r, s, pos) != pos + delta)
			break;
		k++;
		pos = ring_next(r, pos);
	}
	return k;
}

/*
 * Push up to @n elements with one reservation (one CAS on tail). Returns how
 * many went in; 0 when full, or with *@closed set if the ring is closed.
 * The capacity needs no count: a slot is free (stamp == pos) only after head
 * has passed its previous element (ring.h), so free slots never put tail
 * more than a lap ahead of head.
 */
static inline size_t ring_push_burst_mpmc(struct ring *r, const void *elems, size_t n, bool *closed)
{
	unsigned step = 0;
	uint64_t k;
	/* Acquire (and on CAS failure): orders the stamp and head loads below
	 * after it, on weakly ordered CPUs too. */
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);

	*closed = false;
	if (n == 0)
		return 0;
	for (;;) {
		if (tail & r->mark_bit) {
			*closed = true;
			return 0;
		}
		k = ring_scan(r, tail, 0, n < r->cap ? n : r->cap);
		if (k > 0) {
			/* C1 */
			if (atomic_compare_exchange_weak_explicit(&r->tail, &tail,
								  ring_advance(r, tail, k),
								  memory_order_seq_cst,
								  memory_order_acquire))
				break;
			continue;
		}
		/* The slot at tail is not free: full, or a consumer is still
		 * copying out of it, or tail is stale. As in the single push. */
		uint64_t stamp = ring_stamp_acquire(r, ring_slot_at(r, tail), tail);

		if (stamp + r->one_lap == tail + 1) {
			/* S2: pairs with C2. */
			uint64_t head = atomic_load_explicit(&r->head, memory_order_seq_cst);

			if (head + r->one_lap == tail)
				return 0;
		}
		if (stamp != tail)
			ring_backoff(&step);
		tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	}
	RING_DEBUG_HOOK(r, "push burst: slots claimed, before publish");
	ring_fill(r, tail, elems, k);
	ring_commit_check(r, tail, k);
	return (size_t)k;
}

/*
 * Pop up to @max published elements with one reservation (one CAS on head).
 * Returns how many came out; 0 when empty, or with *@closed set if the ring
 * is closed and drained. @elems may be NULL to discard.
 */
static inline size_t ring_pop_burst_mpmc(struct ring *r, void *elems, size_t max, bool *closed)
{
	unsigned step = 0;
	uint64_t k;
	/* Acquire (and on CAS failure): see the push. */
	uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);

	*closed = false;
	if (max == 0)
		return 0;
	for (;;) {
		k = ring_scan(r, head, 1, max < r->cap ? max : r->cap);
		if (k > 0) {
			/* C2 */
			if (atomic_compare_exchange_weak_explicit(&r->head, &head,
								  ring_advance(r, head, k),
								  memory_order_seq_cst,
								  memory_order_acquire))
				break;
			continue;
		}
		/* S1: pairs with C1 and with chan__ring_close(). */
		uint64_t tail = atomic_load_explicit(&r->tail, memory_order_seq_cst);

		if ((tail & ~r->mark_bit) == head) {
			*closed = (tail & r->mark_bit) != 0;
			return 0;
		}
		/* A producer claimed the slot at head and is still copying in,
		 * or head is stale: as in the single pop. */
		ring_backoff(&step);
		head = atomic_load_explicit(&r->head, memory_order_acquire);
	}
	RING_DEBUG_HOOK(r, "pop burst: slots claimed, before copy-out");
	ring_empty(r, head, elems, k);
	return (size_t)k;
}

#endif /* CHAN_RING_MPMC_H */
