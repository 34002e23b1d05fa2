/* SPDX-License-Identifier: MIT */
/*
 * core/chan_pvt.h - the channel object (private; shared with select).
 */
#ifndef CHAN_CORE_CHAN_PVT_H
#define CHAN_CORE_CHAN_PVT_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <chan/channel.h>
#include <chan/select.h>

#include "lock_pvt.h"
#include "waitq_pvt.h"
#include "../ring/list.h"
#include "../ring/ring.h"

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
 *     this channel, so the channel outlives it (callers hold references).
 */
struct chan {
	/* Read-mostly. */
	enum chan_kind kind;
	enum ring_kind rkind;
	size_t elem_size;
	size_t cap;
	void (*drop)(void *elem);
	_Atomic uint32_t refs;
	_Atomic bool closed; /* unbuffered only */
	bool is_static;	     /* static storage (CHAN__STATIC_UNBUFFERED): never freed */

	/* Wait queues: written only when somebody waits. */
	alignas(CHAN_CACHELINE) struct chan__lock lock;
	struct chan__waitq recvq; /* receivers waiting for data */
	struct chan__waitq sendq; /* senders waiting for room or a receiver */

	union {
		struct ring ring;
		struct list list;
	} q;
	/* Ring slots follow the struct, in the same allocation. */
};

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

/* Non-consuming readiness checks, for a waiter's re-check (seq_cst loads). */
bool chan__recv_ready(chan_t *c);
bool chan__send_ready(chan_t *c);

static inline bool chan__ready(chan_t *c, int op)
{
	return op == CHAN_OP_SEND ? chan__send_ready(c) : chan__recv_ready(c);
}

static inline struct chan__waitq *chan__waitq_of(chan_t *c, int op)
{
	return op == CHAN_OP_SEND ? &c->sendq : &c->recvq;
}

/*
 * chan__case_version() - a word that changes whenever @op on @c may have
 * become ready: pushes or close for a receive, pops or close for a send,
 * a partner's arrival or close on an unbuffered channel. A non-blocking
 * select that saw every case not ready, and then sees every version
 * unchanged, knows that at one instant no case was ready (a double collect).
 */
uint64_t chan__case_version(chan_t *c, int op);

/*
 * chan__try_case() - one attempt at @op (CHAN_OP_SEND/RECV) that never
 * queues: 0 done, -EPIPE closed (the case fires with that error), -EAGAIN
 * not ready, -ENOMEM (unbounded send without memory). Lock not held.
 */
int chan__try_case(chan_t *c, int op, void *elem);

/*
 * chan__pair_locked() - unbuffered only, c->lock held: pair @op with a
 * waiting partner and copy the value. 0: done, *@peer must be unparked
 * after the lock is dropped; -EPIPE: closed; -EAGAIN: nobody waits.
 */
int chan__pair_locked(chan_t *c, int op, void *elem, struct chan__wentry **peer);

#endif /* CHAN_CORE_CHAN_PVT_H */
