/* SPDX-License-Identifier: MIT */
/*
 * core/chan_pvt.h - the channel object (private), and the calls between the
 * files that implement it:
 *   chan.c             life cycle, snapshots, argument checks, and the
 *                      dispatch of each operation by kind;
 *   chan_buffered.c    the buffered protocol (ring and list kinds):
 *                      lock-free data path, eventcount waits;
 *   chan_unbuffered.c  the rendezvous protocol: pairing under the lock;
 *   chan_close.c       close, and why it wakes everyone exactly once;
 *   select.c           select, on top of the per-kind hooks below.
 *
 * Deadlines everywhere: absolute CLOCK_MONOTONIC ns; 0 means "try only" (the
 * call fails with @busy_err instead of waiting), CHAN__FOREVER "no limit".
 */
#ifndef CHAN_CORE_CHAN_PVT_H
#define CHAN_CORE_CHAN_PVT_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <chan/channel.h>
#include <chan/clock.h>
#include <chan/select.h>

#include "clock_pvt.h"
#include "lock_pvt.h"
#include "waitq_pvt.h"
#include "../ring/list.h"
#include "../ring/ring.h"

/* A hardware cache line (the unit of false sharing; CHAN_CACHELINE is two,
 * against the adjacent-line prefetcher, for the ring's hot indices). */
#define CHAN__LINE 64

enum chan_kind {
	CHAN_KIND_UNBUFFERED = 0,
	CHAN_KIND_RING,
	CHAN_KIND_LIST,
};

/*
 * Invariants:
 *   - kind, elem_size, cap, drop and the ring/list geometry never change
 *     after chan_new_opts() returns;
 *   - buffered kinds: "closed" is the ring's/list's tail mark bit, so a push
 *     and a close are ordered by one word; unbuffered: @closed, written
 *     under @lock (and read without it by the lock-free snapshots);
 *   - unbuffered: at most one of sendq/recvq holds entries of live waiters
 *     when the lock is free (a newcomer always pairs with a waiting partner
 *     before it queues itself);
 *   - every entry in a queue belongs to a thread that is inside a call on
 *     this channel, so the channel outlives it (callers hold references);
 *   - @overflow (CHAN_DROP_NEWEST, CHAN_DROP_OLDEST or 0) is 0 unless kind is
 *     CHAN_KIND_RING; with CHAN_DROP_OLDEST the ring has CAS pops (MPMC or
 *     SPMC), since the evicting sender acts as a consumer (ring/evict.h);
 *   - @dropped counts every value the overflow policy discarded, one
 *     increment per drop() call it makes (chan_dropped()).
 */
/*
 * Layout: three parts, each starting on a cache line of its own.
 *   [0, 64)      read-mostly fields (and refs);
 *   [64, 128)    the lock and the wait queues: written by every waiter and by
 *                rendezvous pairing, so on a line apart from what every
 *                operation reads;
 *   q, dropped   buffered kinds only (the ring keeps head and tail
 *                CHAN_CACHELINE apart, ring/slots.h).
 * An unbuffered channel is allocated as its first two lines only
 * (CHAN__UNBUF_SIZE bytes, aligned as the struct, CHAN_CACHELINE): nothing
 * may touch @q or @dropped of a CHAN_KIND_UNBUFFERED channel. A live
 * unbuffered channel is then 128 bytes, about 320 B of RSS with
 * aligned_alloc()'s overhead, instead of a full struct (966 B measured).
 */
struct chan {
	/* Read-mostly. */
	alignas(CHAN__LINE) enum chan_kind kind;
	size_t elem_size;
	size_t cap;
	void (*drop)(void *elem);
	_Atomic uint32_t refs;
	_Atomic bool closed; /* unbuffered only */
	bool is_static;	     /* static storage (CHAN__STATIC_UNBUFFERED): never freed */
	size_t mapped;	     /* bytes mmap()ed for this channel and its slots, or 0: malloc */
	unsigned overflow;   /* CHAN_DROP_NEWEST, CHAN_DROP_OLDEST or 0 */

	/* Wait queues: written only when somebody waits. */
	alignas(CHAN__LINE) struct chan__lock lock;
	struct chan__waitq recvq; /* receivers waiting for data */
	struct chan__waitq sendq; /* senders waiting for room or a receiver */

	union {
		struct ring ring;
		struct list list;
	} q;

	/* Written only by senders that discard, on a line of its own so that
	 * an overflowing channel does not bounce the read-mostly fields. */
	alignas(CHAN_CACHELINE) _Atomic uint64_t dropped;
	/* Ring slots follow the struct, in the same allocation, zero-filled. */
};

/* Bytes allocated for an unbuffered channel: up to the buffered-only part. */
#define CHAN__UNBUF_SIZE offsetof(struct chan, q)

_Static_assert(offsetof(struct chan, lock) == CHAN__LINE,
	       "the read-mostly fields outgrew their cache line");
_Static_assert(CHAN__UNBUF_SIZE == 2 * CHAN__LINE,
	       "the lock and wait queues outgrew their cache line");

/*
 * CHAN__STATIC_UNBUFFERED() - the initializer of an unbuffered channel in
 * static storage, usable before main() and without any allocation (the
 * background context's done channel). Zero is a free lock and empty wait
 * queues; chan_release() never frees it.
 */
#define CHAN__STATIC_UNBUFFERED(esize)                                                \
	{                                                                             \
		.kind = CHAN_KIND_UNBUFFERED, .elem_size = (esize), .refs = 1,        \
		.is_static = true                                                     \
	}

/* ---- shared by both protocols ------------------------------------------ */

/* A deadline that has come: a try (0), or a timed wait whose time is up. */
static inline bool chan__due(int64_t deadline)
{
	return deadline == 0 || (deadline != CHAN__FOREVER && chan_now() >= deadline);
}

/* Unlink @e from @q if no claimer did it first. Lock not held. */
static inline void chan__unqueue(chan_t *c, struct chan__waitq *q, struct chan__wentry *e)
{
	chan__lock_acquire(&c->lock);
	chan__waitq_remove(q, e);
	chan__lock_release(&c->lock);
}

static inline struct chan__waitq *chan__waitq_of(chan_t *c, int op)
{
	return op == CHAN_OP_SEND ? &c->sendq : &c->recvq;
}

/* ---- per kind: chan_buffered.c and chan_unbuffered.c --------------------- */

/*
 * chan__unbuf_send() and the receive (the buffered ones are static in
 * chan_buffered.c): one element, until @deadline. 0; -EPIPE closed;
 * @busy_err when @deadline is 0 and the operation would wait; -ETIMEDOUT.
 * Arguments already checked. A failed call had no effect.
 */
int chan__unbuf_send(chan_t *c, const void *elem, int64_t deadline, int busy_err);
int chan__unbuf_recv(chan_t *c, void *elem, int64_t deadline, int busy_err);

/*
 * Unbuffered bursts (the buffered ones are static in chan_buffered.c): how
 * many moved, or 0 with errno EPIPE, or EAGAIN for a try (@deadline 0).
 * @n >= 1, arguments checked.
 */
size_t chan__unbuf_send_burst(chan_t *c, const void *elems, size_t n, int64_t deadline);
size_t chan__unbuf_recv_burst(chan_t *c, void *elems, size_t max, int64_t deadline);

/* Non-consuming readiness checks, for a waiter's re-check (seq_cst loads). */
bool chan__buf_recv_ready(chan_t *c);
bool chan__buf_send_ready(chan_t *c);
bool chan__unbuf_recv_ready(chan_t *c);
bool chan__unbuf_send_ready(chan_t *c);

static inline bool chan__ready(chan_t *c, int op)
{
	if (c->kind == CHAN_KIND_UNBUFFERED)
		return op == CHAN_OP_SEND ? chan__unbuf_send_ready(c) : chan__unbuf_recv_ready(c);
	return op == CHAN_OP_SEND ? chan__buf_send_ready(c) : chan__buf_recv_ready(c);
}

/*
 * chan__case_version() - a word that changes whenever @op on @c may have
 * become ready: pushes or close for a receive, pops or close for a send,
 * a partner's arrival or close on an unbuffered channel. A non-blocking
 * select that saw every case not ready, and then sees every version
 * unchanged, knows that at one instant no case was ready (a double collect).
 */
uint64_t chan__buf_case_version(chan_t *c, int op);
uint64_t chan__unbuf_case_version(chan_t *c, int op);

static inline uint64_t chan__case_version(chan_t *c, int op)
{
	return c->kind == CHAN_KIND_UNBUFFERED ? chan__unbuf_case_version(c, op)
					       : chan__buf_case_version(c, op);
}

/*
 * chan__try_case() - one attempt at @op (CHAN_OP_SEND/RECV) that never
 * queues: 0 done, -EPIPE closed (the case fires with that error), -EAGAIN
 * not ready, -ENOMEM (unbounded send without memory). Lock not held.
 */
int chan__buf_try_case(chan_t *c, int op, void *elem);
int chan__unbuf_try_case(chan_t *c, int op, void *elem);

static inline int chan__try_case(chan_t *c, int op, void *elem)
{
	return c->kind == CHAN_KIND_UNBUFFERED ? chan__unbuf_try_case(c, op, elem)
					       : chan__buf_try_case(c, op, elem);
}

/*
 * chan__pair_locked() - unbuffered only, c->lock held: pair @op with a
 * waiting partner and copy the value. 0: done, *@peer must be unparked
 * after the lock is dropped; -EPIPE: closed; -EAGAIN: nobody waits.
 */
int chan__pair_locked(chan_t *c, int op, void *elem, struct chan__wentry **peer);

#endif /* CHAN_CORE_CHAN_PVT_H */
