/* SPDX-License-Identifier: MIT */
/*
 * core/chan_unbuffered.c - the rendezvous protocol of unbuffered channels
 * (Go's chan.go).
 *
 * Everything happens under the channel lock. A sender that finds a waiting
 * receiver copies its value straight into the receiver's buffer; otherwise
 * it queues an entry pointing at its value and parks, and the receiver that
 * claims it copies the value out before waking it. Either way the sender
 * returns only after a receiver has the value: a true rendezvous.
 *
 * Invariants (besides those in chan_pvt.h):
 *   - at most one of sendq/recvq holds entries of live waiters when the lock
 *     is free: a newcomer always pairs with a waiting partner before it
 *     queues itself;
 *   - a claimed entry's value has been copied (and its err set) before the
 *     claimer drops the lock; its unpark follows outside the lock.
 *
 * No lost wakeup: queueing and pairing happen in one critical section, so a
 * sender and a receiver cannot both queue without seeing each other; a
 * waiter that times out withdraws with the CAS on its sel word, and if a
 * partner's claim won that CAS first, the exchange counts and the waiter
 * waits for its unpark (chan__park_withdraw()). Close: core/chan_close.c.
 */
#include <errno.h>

#include <chan/channel.h>
#include <chan/clock.h>
#include <chan/select.h>

#include "chan_pvt.h"
#include "debug_pvt.h"

/* ---- readiness and versions (lock-free snapshots) ---------------------- */

bool chan__unbuf_recv_ready(chan_t *c)
{
	/* Seq_cst: a waiting sender is visible through its queue's count,
	 * closed is stored under the lock. The count first, as Go checks
	 * empty before closed: a sender that a close wakes between the two
	 * loads still leaves us seeing the close. */
	return chan__waitq_has_waiters(&c->sendq) ||
	       atomic_load_explicit(&c->closed, memory_order_seq_cst);
}

bool chan__unbuf_send_ready(chan_t *c)
{
	return chan__waitq_has_waiters(&c->recvq) ||
	       atomic_load_explicit(&c->closed, memory_order_seq_cst);
}

uint64_t chan__unbuf_case_version(chan_t *c, int op)
{
	struct chan__waitq *partners = op == CHAN_OP_SEND ? &c->recvq : &c->sendq;

	/* Seq_cst loads, after the attempt they validate: pair with the
	 * arrivals RMW in chan__waitq_push() and the store in chan_close(). */
	return (uint64_t)atomic_load_explicit(&partners->arrivals, memory_order_seq_cst) * 2 +
	       atomic_load_explicit(&c->closed, memory_order_seq_cst);
}

/* ---- pairing ----------------------------------------------------------- */

int chan__pair_locked(chan_t *c, int op, void *elem, struct chan__wentry **peer)
{
	/* Relaxed: closed is written under the lock we hold. */
	bool closed = atomic_load_explicit(&c->closed, memory_order_relaxed);
	struct chan__wentry *p;

	if (op == CHAN_OP_SEND) {
		if (closed)
			return -EPIPE;
		p = chan__waitq_claim(&c->recvq, NULL);
		if (!p)
			return -EAGAIN;
		if (p->elem)
			ring_copy(p->elem, elem, c->elem_size);
	} else {
		/* Close wakes every sender, so a closed channel has none. */
		p = chan__waitq_claim(&c->sendq, NULL);
		if (!p)
			return closed ? -EPIPE : -EAGAIN;
		if (elem)
			ring_copy(elem, p->elem, c->elem_size);
	}
	p->err = 0;
	*peer = p;
	return 0;
}

static int unbuf_op(chan_t *c, int op, void *elem, int64_t deadline, int busy_err)
{
	struct chan__waitq *q = chan__waitq_of(c, op);
	struct chan__waiter w;
	struct chan__wentry e, *peer;
	int r;

	chan__lock_acquire(&c->lock);
	r = chan__pair_locked(c, op, elem, &peer);
	if (r != -EAGAIN) {
		chan__lock_release(&c->lock);
		if (r == 0)
			chan__unpark(peer->w);
		return r;
	}
	if (chan__due(deadline)) {
		chan__lock_release(&c->lock);
		return deadline == 0 ? busy_err : -ETIMEDOUT;
	}
	chan__waiter_init(&w);
	chan__wentry_init(&e, &w, elem, 0);
	chan__waitq_push(q, &e);
	chan__lock_release(&c->lock);
	CHAN__DEBUG_WINDOW("unbuffered: queued, before parking");
	if (chan__park_withdraw(&w, NULL, deadline) < 0) {
		chan__unqueue(c, q, &e);
		return -ETIMEDOUT; /* nothing happened */
	}
	/* Claimed (maybe as time ran out: the exchange is done and counts). */
	return e.err;
}

int chan__unbuf_send(chan_t *c, const void *elem, int64_t deadline, int busy_err)
{
	/* The cast only threads @elem through the entry: a send never
	 * writes through it. */
	return unbuf_op(c, CHAN_OP_SEND, (void *)elem, deadline, busy_err);
}

int chan__unbuf_recv(chan_t *c, void *elem, int64_t deadline, int busy_err)
{
	return unbuf_op(c, CHAN_OP_RECV, elem, deadline, busy_err);
}

int chan__unbuf_try_case(chan_t *c, int op, void *elem)
{
	struct chan__wentry *peer;
	int r;

	/* Look before locking: a select that finds nobody waiting here must
	 * not touch the lock's cache line (Go issue 20351). */
	if (!(op == CHAN_OP_SEND ? chan__unbuf_send_ready(c) : chan__unbuf_recv_ready(c)))
		return -EAGAIN;
	chan__lock_acquire(&c->lock);
	r = chan__pair_locked(c, op, elem, &peer);
	chan__lock_release(&c->lock);
	if (r == 0)
		chan__unpark(peer->w);
	return r;
}

/* ---- bursts: the first element waits (or not, per @deadline); the rest go
 * only to partners already waiting. ---------------------------------------- */

size_t chan__unbuf_send_burst(chan_t *c, const void *elems, size_t n, int64_t deadline)
{
	const unsigned char *src = elems;
	size_t k;
	int r = chan__unbuf_send(c, src, deadline, -EAGAIN);

	if (r != 0) {
		chan__set_errno(-r); /* EPIPE, or EAGAIN for a try */
		return 0;
	}
	for (k = 1; k < n; k++)
		if (chan__unbuf_send(c, src + k * c->elem_size, 0, -EAGAIN) != 0)
			break;
	return k;
}

size_t chan__unbuf_recv_burst(chan_t *c, void *elems, size_t max, int64_t deadline)
{
	unsigned char *dst = elems;
	size_t k;
	int r = chan__unbuf_recv(c, dst, deadline, -EAGAIN);

	if (r != 0) {
		chan__set_errno(-r); /* EPIPE, or EAGAIN for a try */
		return 0;
	}
	for (k = 1; k < max; k++)
		if (chan__unbuf_recv(c, dst ? dst + k * c->elem_size : NULL, 0, -EAGAIN) != 0)
			break;
	return k;
}
