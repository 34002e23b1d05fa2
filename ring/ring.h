/* SPDX-License-Identifier: MIT */
/*
 * ring/ring.h - bounded lock-free rings of fixed-size slots (private): the
 * interface the channel layer uses.
 *
 * One struct ring serves four flavours, chosen at creation and never mixed
 * on one ring: MPMC (ring/mpmc.h, the default), SPSC, MPSC and SPMC; they
 * share one slot layout (ring/slots.h) and differ in which side may skip the
 * CAS. Each flavour header has the same function set, suffixed with its
 * name: ring_try_push_<f>, ring_try_pop_<f>, ring_push_burst_<f>,
 * ring_pop_burst_<f>. The entry points below dispatch on the ring's kind (a
 * switch the branch predictor learns), so that no caller repeats the switch.
 *
 * Progress: push and pop are lock-free with respect to the indices, but a
 * consumer whose slot was reserved and not yet filled (or a producer whose
 * slot was reserved by a consumer still copying out) waits for that one
 * thread: the window is a memcpy long. Such waits spin briefly, then yield.
 *
 * The evicting push (ring/evict.h, for CHAN_DROP_OLDEST) is a push that
 * also acts as a pop when the ring is full; it exists for the flavours with
 * CAS pops only, and counts as a push and a pop in the table below.
 *
 * Concurrency table (per ring):
 *   flavour  concurrent pushes   concurrent pops   push || pop   close || any   push_evict
 *   mpmc     yes                 yes               yes           yes            yes
 *   mpsc     yes                 no                yes           yes            never used
 *   spmc     no                  yes               yes           yes            yes (as the push)
 *   spsc     no                  no                yes           yes            never used
 */
#ifndef CHAN_RING_RING_H
#define CHAN_RING_RING_H

#include "evict.h"
#include "mpmc.h"
#include "mpsc.h"
#include "slots.h"
#include "spmc.h"
#include "spsc.h"

/**
 * chan__ring_init() - lay out a ring in caller-provided memory.
 * @r:         the ring.
 * @kind:      flavour; ring_try_push() and the other entry points dispatch on it.
 * @elem_size: bytes per element (> 0).
 * @cap:       capacity, 1 .. RING_CAP_MAX.
 * @slots:     chan__ring_storage_size(kind, elem_size, cap) bytes, 8-aligned and
 *             zero-filled (the initial stamps; see ring/slots.h), owned by the
 *             caller, which frees it after the ring is done. O(1): nothing of
 *             @slots is touched, so fresh mmap()ed pages stay uncommitted.
 */
void chan__ring_init(struct ring *r, enum ring_kind kind, size_t elem_size, uint64_t cap,
		     void *slots);

/**
 * chan__ring_commit_lazily() - have @r's storage committed as tail reaches it.
 * @r: a ring just laid out by chan__ring_init() in storage that the kernel
 *     commits as it is touched (fresh mmap()ed memory), before any other
 *     thread sees it.
 *
 * Commits the first chunks now (MADV_POPULATE_WRITE) and from then on the
 * producer whose reservation enters a chunk commits the one a few chunks
 * ahead (ring/slots.h, ring_commit_check()). O(1) in the capacity.
 * Return: 0; -EINVAL if the ring is too small to bother or the kernel cannot
 * populate (before Linux 5.14), and the caller commits the storage itself;
 * -ENOMEM if the first chunks could not be committed.
 */
int chan__ring_commit_lazily(struct ring *r);

/** chan__ring_storage_size() - bytes of slot storage, or 0 if that overflows size_t. */
size_t chan__ring_storage_size(enum ring_kind kind, size_t elem_size, uint64_t cap);

/**
 * chan__ring_len() - elements in the ring now (a consistent snapshot of head
 * and tail), at most cap: an evicting push between its two CASes reads as a
 * full ring, which it is at that point of the linearization (ring/evict.h).
 */
uint64_t chan__ring_len(struct ring *r);

/**
 * chan__ring_close() - set mark_bit in tail: every later push gets RING_CLOSED.
 * Return: true if this call closed the ring, false if it was already closed.
 * Ordering: seq_cst RMW; pairs with the tail loads in pop that report
 * RING_CLOSED, so a close happens-before such a pop.
 */
bool chan__ring_close(struct ring *r);

/** ring_is_closed() - whether chan__ring_close() has run (acquire). */
static inline bool ring_is_closed(struct ring *r)
{
	/* Acquire: pairs with the seq_cst RMW in chan__ring_close(). */
	return (atomic_load_explicit(&r->tail, memory_order_acquire) & r->mark_bit) != 0;
}

/**
 * chan__ring_recv_ready() - a pop could succeed now, or the ring is closed.
 * chan__ring_send_ready() - a push could succeed now, or the ring is closed.
 * Seq_cst loads: these are the waiters' re-checks in the channel's Dekker
 * pairs (recv: head first, then tail; send: tail first, then head; see
 * ring.c for why this order). They may say "ready" spuriously; "not ready"
 * was true at the instant of their second load.
 */
bool chan__ring_recv_ready(struct ring *r);
bool chan__ring_send_ready(struct ring *r);

/**
 * chan__ring_drain() - call @fn on each element left in a ring nobody uses anymore
 * (the last step before freeing it). Single-threaded.
 */
void chan__ring_drain(struct ring *r, void (*fn)(void *elem, void *arg), void *arg);

/* ---- one entry point per operation ------------------------------------- */

/** ring_try_push() - push one element: RING_OK, RING_WOULD_BLOCK (full) or RING_CLOSED. */
static inline enum ring_status ring_try_push(struct ring *r, const void *elem)
{
	switch (r->kind) {
	case RING_SPSC:
		return ring_try_push_spsc(r, elem);
	case RING_MPSC:
		return ring_try_push_mpsc(r, elem);
	case RING_SPMC:
		return ring_try_push_spmc(r, elem);
	default:
		return ring_try_push_mpmc(r, elem);
	}
}

/** ring_try_pop() - pop one element (@elem NULL: discard it). */
static inline enum ring_status ring_try_pop(struct ring *r, void *elem)
{
	switch (r->kind) {
	case RING_SPSC:
		return ring_try_pop_spsc(r, elem);
	case RING_MPSC:
		return ring_try_pop_mpsc(r, elem);
	case RING_SPMC:
		return ring_try_pop_spmc(r, elem);
	default:
		return ring_try_pop_mpmc(r, elem);
	}
}

/** ring_push_burst() - push up to @n elements with one reservation; see the flavours. */
static inline size_t ring_push_burst(struct ring *r, const void *elems, size_t n, bool *closed)
{
	switch (r->kind) {
	case RING_SPSC:
		return ring_push_burst_spsc(r, elems, n, closed);
	case RING_MPSC:
		return ring_push_burst_mpsc(r, elems, n, closed);
	case RING_SPMC:
		return ring_push_burst_spmc(r, elems, n, closed);
	default:
		return ring_push_burst_mpmc(r, elems, n, closed);
	}
}

/** ring_pop_burst() - pop up to @max elements with one reservation; see the flavours. */
static inline size_t ring_pop_burst(struct ring *r, void *elems, size_t max, bool *closed)
{
	switch (r->kind) {
	case RING_SPSC:
		return ring_pop_burst_spsc(r, elems, max, closed);
	case RING_MPSC:
		return ring_pop_burst_mpsc(r, elems, max, closed);
	case RING_SPMC:
		return ring_pop_burst_spmc(r, elems, max, closed);
	default:
		return ring_pop_burst_mpmc(r, elems, max, closed);
	}
}

/*
 * ring_recv_version() / ring_send_version() - words that change whenever a
 * pop (push) may have become possible: every push and the close move tail;
 * every pop moves head, and close sets the mark. A select's double collect
 * compares them (core/select.c). Seq_cst loads, after the attempt they
 * validate: they pair with the seq_cst RMWs C1/C2 of the flavours and with
 * chan__ring_close().
 */
static inline uint64_t ring_recv_version(struct ring *r)
{
	return atomic_load_explicit(&r->tail, memory_order_seq_cst);
}

static inline uint64_t ring_send_version(struct ring *r)
{
	return atomic_load_explicit(&r->head, memory_order_seq_cst) * 2 + ring_is_closed(r);
}

#endif /* CHAN_RING_RING_H */
