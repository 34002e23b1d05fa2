/* SPDX-License-Identifier: MIT */
/*
 * ring/slots.h - the layout shared by the ring flavours (private): struct
 * ring, the lap encoding of positions, slot access, the backoff and the
 * debug hook. Users of rings include ring/ring.h, which dispatches to the
 * flavour headers (ring/mpmc.h, spsc.h, mpsc.h, spmc.h) built on this one.
 *
 * Positions use crossbeam-channel's lap encoding (array.rs), which gives an
 * exact capacity without a power-of-two slot count and without a division:
 *
 *   pos = lap | index      index in [0, cap), lap a multiple of one_lap
 *   mark_bit = next_pow2(cap + 1)    (bit above every index; set in tail
 *                                     when the ring is closed)
 *   one_lap  = 2 * mark_bit
 *
 * Invariants:
 *   - head <= tail & ~mark_bit in position order, and tail is at most one lap
 *     (cap elements) ahead of head. Every flavour therefore advances head
 *     before it frees the slots it read (stamp = pos + one_lap): a producer
 *     may take a freed slot at once, and must find head already past it.
 *     The one exception is the evicting push (ring/evict.h): between its two
 *     CASes tail is one lap + 1 ahead, which ring_count() would misread;
 *     snapshots of such rings use chan__ring_len(), which reads it as full;
 *   - every flavour has stamped slots: slot i holds stamp == pos when it is free
 *     for the producer at pos, and pos + 1 when it holds the value written at
 *     pos; a consumer at pos frees it with stamp = pos + one_lap (Vyukov's
 *     per-slot sequence, in lap form). The word in memory is the stamp minus
 *     the slot's index i (ring_stamp_acquire()/ring_stamp_release()), so the
 *     initial state, stamp == i everywhere, is all zeroes: a ring is laid out
 *     in zero-filled memory in O(1), and the pages of a large ring are
 *     committed as positions first reach them, not when it is made;
 *   - once mark_bit is set in tail no push succeeds, so the elements in
 *     [head, tail) at that moment are all the ring will ever deliver.
 */
#ifndef CHAN_RING_SLOTS_H
#define CHAN_RING_SLOTS_H

#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "compiler.h"

enum ring_kind {
	RING_MPMC = 0,
	RING_SPSC,
	RING_MPSC,
	RING_SPMC,
};

/* Results of the single-element operations. */
enum ring_status {
	RING_OK = 0,
	RING_WOULD_BLOCK, /* push: full; pop: empty */
	RING_CLOSED,      /* push: closed; pop: closed and drained */
};

/* A slot of a stamped flavour: the stamp, then elem_size bytes (8-aligned). */
struct ring_slot {
	_Atomic uint64_t stamp;
	unsigned char data[];
};

struct ring {
	/* Consumer side: written by every pop, read by pushes only to tell full. */
	alignas(CHAN_CACHELINE) _Atomic uint64_t head;

	/* Producer side: written by every push and by close (mark_bit). */
	alignas(CHAN_CACHELINE) _Atomic uint64_t tail;

	/* Read-only after chan__ring_init(): shared by both sides without traffic. */
	alignas(CHAN_CACHELINE) unsigned char *slots;
	uint64_t cap;
	uint64_t mark_bit;
	uint64_t index_mask; /* mark_bit - 1 */
	uint64_t one_lap;
	size_t elem_size;
	size_t stride; /* bytes from one slot to the next */
	enum ring_kind kind;
	/*
	 * Commit ahead (chan__ring_commit_lazily()): storage that the kernel
	 * commits as it is touched is committed a chunk at a time, RING_AHEAD
	 * chunks ahead of tail, by the producer whose reservation enters a
	 * chunk during the first lap. commit_below is cap for such a ring and
	 * 0 for every other (so the fast path's test fails at once);
	 * commit_shift is log2 of the slots per chunk.
	 */
	uint64_t commit_below;
	unsigned commit_shift;
};

_Static_assert(offsetof(struct ring, tail) - offsetof(struct ring, head) >= CHAN_CACHELINE,
	       "head and tail share a cache line");
_Static_assert(offsetof(struct ring, slots) - offsetof(struct ring, tail) >= CHAN_CACHELINE,
	       "tail and the read-only fields share a cache line");

/* Largest capacity: leaves 22 bits of lap above mark_bit, so laps never wrap
 * in the lifetime of a stalled thread's stale position. */
#define RING_CAP_MAX ((uint64_t)1 << 40)

/* ---- helpers shared by the flavour headers ---------------------------- */

static inline uint64_t ring_index(const struct ring *r, uint64_t pos)
{
	return pos & r->index_mask;
}

static inline uint64_t ring_lap(const struct ring *r, uint64_t pos)
{
	return pos & ~(r->one_lap - 1);
}

/* The position @k (<= cap) steps after @pos (which has no mark_bit). */
static inline uint64_t ring_advance(const struct ring *r, uint64_t pos, uint64_t k)
{
	uint64_t idx = ring_index(r, pos) + k;

	if (idx < r->cap)
		return pos + k;
	return ring_lap(r, pos) + r->one_lap + (idx - r->cap);
}

static inline uint64_t ring_next(const struct ring *r, uint64_t pos)
{
	return ring_advance(r, pos, 1);
}

/*
 * Elements between @head and @tail (no mark_bit), assuming they are a
 * consistent pair: head <= tail <= head + one lap. Equal indices mean empty
 * if the positions are equal, and full if tail is a lap ahead.
 */
static inline uint64_t ring_count(const struct ring *r, uint64_t head, uint64_t tail)
{
	uint64_t hix = ring_index(r, head), tix = ring_index(r, tail);

	if (hix < tix)
		return tix - hix;
	if (hix > tix)
		return r->cap - hix + tix;
	return tail == head ? 0 : r->cap;
}

static inline struct ring_slot *ring_slot_at(const struct ring *r, uint64_t pos)
{
	return (struct ring_slot *)(r->slots + ring_index(r, pos) * r->stride);
}

/*
 * The stamp of @s, the slot of @pos (ring_slot_at(r, pos)), stored as
 * stamp - ring_index(pos): see the invariants above. Every access to a stamp
 * goes through these two, with the position whose slot it is; the orders are
 * those of the labels at each call site (A1/A2 acquire, R1/R2 release).
 */
static inline uint64_t ring_stamp_acquire(const struct ring *r, const struct ring_slot *s,
					  uint64_t pos)
{
	struct ring_slot *m = (struct ring_slot *)s; /* a load; the API wants non-const */

	return atomic_load_explicit(&m->stamp, memory_order_acquire) + ring_index(r, pos);
}

static inline void ring_stamp_release(const struct ring *r, struct ring_slot *s, uint64_t pos,
				      uint64_t stamp)
{
	atomic_store_explicit(&s->stamp, stamp - ring_index(r, pos), memory_order_release);
}

/*
 * After a reservation of [@pos, @pos + @k) (k >= 1, no mark_bit): if it
 * enters a chunk of a ring that commits ahead, commit the chunk RING_AHEAD
 * further on. Positions below cap are lap 0 (cap <= mark_bit), the only lap
 * that reaches untouched storage. One compare for every other ring.
 */
void chan__ring_commit_ahead(struct ring *r, uint64_t first_chunk, uint64_t last_chunk); /* ring.c */

static inline void ring_commit_check(struct ring *r, uint64_t pos, uint64_t k)
{
	if (chan__unlikely(pos < r->commit_below)) {
		/* pos - 1 wraps at 0, which counts as entering chunk 0. */
		uint64_t from = (pos - 1) >> r->commit_shift, to = (pos + k - 1) >> r->commit_shift;

		if (from != to)
			chan__ring_commit_ahead(r, pos == 0 ? 0 : from + 1, to);
	}
}

/* Copy one element; the common word sizes compile to a single move. */
static inline void ring_copy(void *dst, const void *src, size_t n)
{
	switch (n) {
	case 8:
		memcpy(dst, src, 8);
		break;
	case 4:
		memcpy(dst, src, 4);
		break;
	default:
		memcpy(dst, src, n);
		break;
	}
}

/*
 * A hook at protocol windows (STYLE.md rule 19): a test built with
 * -DCHAN_DEBUG_HOOKS can act, or yield, at the exact point where another
 * thread could interleave. Compiled out otherwise; the variable exists in
 * every build, so that a test can set it whatever the library was built with.
 */
extern void (*chan__ring_debug_hook)(struct ring *r, const char *where); /* ring.c */
#ifdef CHAN_DEBUG_HOOKS
#define RING_DEBUG_HOOK(r, where)                       \
	do {                                             \
		if (chan__ring_debug_hook)               \
			chan__ring_debug_hook((r), (where)); \
	} while (0)
#else
#define RING_DEBUG_HOOK(r, where) ((void)0)
#endif

/*
 * Wait for another thread that is inside its (short) slot window. Spin with
 * a growing pause first; once that has clearly failed, the other thread is
 * probably preempted, and yielding is the only way to let it finish. This is
 * a rare path (a preemption inside a memcpy), not a polling loop.
 */
/*
 * After a failed CAS on head or tail: another thread won the position we
 * wanted, and retrying at once only makes the line bounce again. Spin
 * 1, 2, 4 ... 64 pauses (crossbeam's Backoff::spin), never yield: the winner
 * is running, not preempted.
 */
static inline void ring_cas_backoff(unsigned *step)
{
	unsigned s = *step < 6 ? *step : 6;

	for (unsigned i = 0; i < (1u << s); i++)
		chan__cpu_relax();
	if (*step < 7)
		(*step)++;
}

static inline void ring_backoff(unsigned *step)
{
	if (*step < 7) {
		for (unsigned i = 0; i < (1u << *step); i++)
			chan__cpu_relax();
		(*step)++;
	} else {
		sched_yield();
	}
}

#endif /* CHAN_RING_SLOTS_H */
