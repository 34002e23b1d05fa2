/* SPDX-License-Identifier: MIT */
/*
 * core/chan.c - channels: a ring (or list) for the data, wait queues for
 * the blocked, a lock only where somebody waits.
 *
 * Buffered channels (crossbeam-channel's array/list flavours, with parking
 * as in core/waitq_pvt.h): a send pushes into the ring lock-free and then
 * checks the receivers' waiter count; only if someone waits does it take the
 * lock and claim one waiter, who wakes and retries its own pop. A waiter is
 * woken to retry, not handed a value, so FIFO order stays the ring's order.
 *
 * Unbuffered channels (Go's chan.go): everything happens under the channel
 * lock. A sender that finds a waiting receiver copies its value straight into
 * the receiver's buffer; otherwise it queues an entry pointing at its value
 * and parks, and the receiver that claims it copies the value out before
 * waking it. Either way the sender returns only after a receiver has the
 * value: a true rendezvous.
 *
 * Invariants (besides those in chan_pvt.h):
 *   - every claim is followed by exactly one chan__unpark(), after the
 *     claimer's last write to the entry, outside the lock;
 *   - a waiter never leaves a call while it is claimed but not yet unparked
 *     (its entry and waiter live on its stack).
 *
 * No lost wakeup, buffered: see the eventcount proof in waitq_pvt.h; the
 * seq_cst RMWs on the ring are labelled C1/C2 in ring/mpmc.h. Close sets the
 * mark bit (seq_cst RMW) before it takes the lock to wake everyone: a waiter
 * that queued before that lock is woken by it; one that queued after sees the
 * mark in its re-check, because the lock orders its re-check after the mark.
 * Unbuffered: queueing and pairing happen in one critical section, so a
 * sender and a receiver cannot both queue without seeing each other.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <chan/channel.h>
#include <chan/clock.h>
#include <chan/select.h>

#include "chan_pvt.h"
#include "clock_pvt.h"
#include "debug_pvt.h"
#include "../ring/fault.h"
#include "../ring/mpmc.h"
#include "../ring/mpsc.h"
#include "../ring/spmc.h"
#include "../ring/spsc.h"

/* ---- ring flavour dispatch (a switch the branch predictor learns) ------ */

static inline enum ring_status rb_push(chan_t *c, const void *elem)
{
	struct ring *r = &c->q.ring;

	switch (c->rkind) {
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

static inline enum ring_status rb_pop(chan_t *c, void *elem)
{
	struct ring *r = &c->q.ring;

	switch (c->rkind) {
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

static size_t rb_push_burst(chan_t *c, const void *elems, size_t n, bool *closed)
{
	struct ring *r = &c->q.ring;

	switch (c->rkind) {
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

static size_t rb_pop_burst(chan_t *c, void *elems, size_t max, bool *closed)
{
	struct ring *r = &c->q.ring;

	switch (c->rkind) {
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

/* ---- readiness (the waiters' re-check) --------------------------------- */

bool chan__recv_ready(chan_t *c)
{
	switch (c->kind) {
	case CHAN_KIND_RING:
		return chan__ring_recv_ready(&c->q.ring);
	case CHAN_KIND_LIST:
		return chan__list_recv_ready(&c->q.list);
	default:
		/* Seq_cst: a waiting sender is visible through its queue's
		 * count, closed is stored under the lock. The count first, as
		 * Go checks empty before closed: a sender that a close wakes
		 * between the two loads still leaves us seeing the close. */
		return chan__waitq_has_waiters(&c->sendq) ||
		       atomic_load_explicit(&c->closed, memory_order_seq_cst);
	}
}

bool chan__send_ready(chan_t *c)
{
	switch (c->kind) {
	case CHAN_KIND_RING:
		return chan__ring_send_ready(&c->q.ring);
	case CHAN_KIND_LIST:
		return true; /* never full */
	default:
		return chan__waitq_has_waiters(&c->recvq) ||
		       atomic_load_explicit(&c->closed, memory_order_seq_cst);
	}
}

uint64_t chan__case_version(chan_t *c, int op)
{
	/* Seq_cst loads, after the attempt they validate. */
	switch (c->kind) {
	case CHAN_KIND_RING:
		if (op == CHAN_OP_RECV) /* pushes and close move tail */
			return atomic_load_explicit(&c->q.ring.tail, memory_order_seq_cst);
		/* pops move head; close sets the mark in tail */
		return atomic_load_explicit(&c->q.ring.head, memory_order_seq_cst) * 2 +
		       ring_is_closed(&c->q.ring);
	case CHAN_KIND_LIST:
		return op == CHAN_OP_RECV
			       ? atomic_load_explicit(&c->q.list.tail.index, memory_order_seq_cst)
			       : 0; /* a send is always ready */
	default: {
		struct chan__waitq *partners = op == CHAN_OP_SEND ? &c->recvq : &c->sendq;

		return (uint64_t)atomic_load_explicit(&partners->arrivals, memory_order_seq_cst) * 2 +
		       atomic_load_explicit(&c->closed, memory_order_seq_cst);
	}
	}
}

/* ---- waking and waiting ------------------------------------------------ */

static void notify_slow(chan_t *c, struct chan__waitq *q, size_t n)
{
	struct chan__wentry *wake = NULL, *e;

	chan__lock_acquire(&c->lock);
	while (n-- > 0 && (e = chan__waitq_claim(q, NULL)) != NULL) {
		e->next = wake;
		wake = e;
	}
	chan__lock_release(&c->lock);
	chan__wake_list(wake);
}

/* After a push (pop) of @n: wake up to @n receivers (senders), if any wait. */
static inline void notify(chan_t *c, struct chan__waitq *q, size_t n)
{
	if (chan__likely(!chan__waitq_has_waiters(q)))
		return;
	notify_slow(c, q, n);
}

static void unqueue(chan_t *c, struct chan__waitq *q, struct chan__wentry *e)
{
	chan__lock_acquire(&c->lock);
	chan__waitq_remove(q, e);
	chan__lock_release(&c->lock);
}

static bool recv_ready_poll(void *c)
{
	return chan__recv_ready(c);
}

static bool send_ready_poll(void *c)
{
	return chan__send_ready(c);
}

/*
 * Buffered: wait until @ready(c) may have become true (or the channel was
 * closed), or @deadline. Return 0 to retry the operation, or -ETIMEDOUT.
 *
 * First poll the ring for the spin budget without queueing: when the other
 * side is running, its next operation comes within a few hundred
 * nanoseconds, and a waiter that is not queued costs it nothing (its
 * waiter-count load still finds zero: no lock, no claim, no wake). Only if
 * that fails do we queue and sleep.
 */
static int wait_ready(chan_t *c, struct chan__waitq *q, bool (*ready)(void *), int64_t deadline)
{
	struct chan__wait wt;
	struct chan__waiter w;
	struct chan__wentry e;

	chan__wait_begin(&wt);
	if (chan__wait_spin(&wt, ready, c, deadline))
		return 0;
	if (deadline != CHAN__FOREVER && chan_now() >= deadline)
		return -ETIMEDOUT;
	chan__waiter_init(&w);
	chan__wentry_init(&e, &w, NULL, 0);
	chan__lock_acquire(&c->lock);
	chan__waitq_push(q, &e); /* prepare */
	chan__lock_release(&c->lock);
	/* Re-check, after our seq_cst count RMW (see waitq_pvt.h). */
	if (ready(c) && chan__waiter_abort(&w)) {
		unqueue(c, q, &e);
		return 0;
	}
	if (chan__park_wait(&w, &wt, deadline) < 0) { /* commit */
		if (chan__waiter_abort(&w)) {
			unqueue(c, q, &e);
			return -ETIMEDOUT;
		}
		/* Claimed as the deadline passed: take the unpark that follows.
		 * The caller retries once more before it reports a timeout. */
		chan__park(&w, CHAN__FOREVER);
	}
	return 0;
}

/* Unbuffered: wait in an already queued entry. Lock not held. */
static int unbuf_park(chan_t *c, struct chan__waitq *q, struct chan__waiter *w,
		      struct chan__wentry *e, int64_t deadline)
{
	if (chan__park(w, deadline) < 0) {
		if (chan__waiter_abort(w)) {
			unqueue(c, q, e);
			return -ETIMEDOUT; /* nothing happened */
		}
		/* A partner claimed us as time ran out: the exchange is done
		 * (or being done) and counts; wait for its unpark. */
		chan__park(w, CHAN__FOREVER);
	}
	return e->err;
}

static inline bool due(int64_t deadline)
{
	return deadline == 0 || (deadline != CHAN__FOREVER && chan_now() >= deadline);
}

/* ---- unbuffered -------------------------------------------------------- */

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
	struct chan__waitq *q = op == CHAN_OP_SEND ? &c->sendq : &c->recvq;
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
	if (due(deadline)) {
		chan__lock_release(&c->lock);
		return deadline == 0 ? busy_err : -ETIMEDOUT;
	}
	chan__waiter_init(&w);
	chan__wentry_init(&e, &w, elem, 0);
	chan__waitq_push(q, &e);
	chan__lock_release(&c->lock);
	return unbuf_park(c, q, &w, &e, deadline);
}

static int unbuf_send(chan_t *c, const void *elem, int64_t deadline, int busy_err)
{
	/* The cast only threads @elem through the entry: a send never
	 * writes through it. */
	return unbuf_op(c, CHAN_OP_SEND, (void *)elem, deadline, busy_err);
}

static int unbuf_recv(chan_t *c, void *elem, int64_t deadline, int busy_err)
{
	return unbuf_op(c, CHAN_OP_RECV, elem, deadline, busy_err);
}

/* ---- buffered ---------------------------------------------------------- */

static int buf_send(chan_t *c, const void *elem, int64_t deadline, int busy_err)
{
	for (;;) {
		enum ring_status st;

		if (c->kind == CHAN_KIND_RING) {
			st = rb_push(c, elem);
		} else {
			chan__list_push_burst(&c->q.list, elem, 1, &st);
			if (st == RING_WOULD_BLOCK)
				return -ENOMEM; /* the list never fills */
		}
		if (chan__likely(st == RING_OK)) {
			notify(c, &c->recvq, 1);
			return 0;
		}
		if (st == RING_CLOSED)
			return -EPIPE;
		if (deadline == 0)
			return busy_err;
		if (wait_ready(c, &c->sendq, send_ready_poll, deadline) < 0)
			return -ETIMEDOUT;
	}
}

static int buf_recv(chan_t *c, void *elem, int64_t deadline, int busy_err)
{
	for (;;) {
		enum ring_status st;

		if (c->kind == CHAN_KIND_RING)
			st = rb_pop(c, elem);
		else
			chan__list_pop_burst(&c->q.list, elem, 1, &st);
		if (chan__likely(st == RING_OK)) {
			notify(c, &c->sendq, 1);
			return 0;
		}
		if (st == RING_CLOSED)
			return -EPIPE;
		if (deadline == 0)
			return busy_err;
		if (wait_ready(c, &c->recvq, recv_ready_poll, deadline) < 0)
			return -ETIMEDOUT;
	}
}

int chan__try_case(chan_t *c, int op, void *elem)
{
	enum ring_status st;
	struct chan__wentry *peer;
	int r;

	switch (c->kind) {
	case CHAN_KIND_RING:
		st = op == CHAN_OP_SEND ? rb_push(c, elem) : rb_pop(c, elem);
		break;
	case CHAN_KIND_LIST:
		if (op == CHAN_OP_SEND) {
			chan__list_push_burst(&c->q.list, elem, 1, &st);
			if (st == RING_WOULD_BLOCK)
				return -ENOMEM;
		} else {
			chan__list_pop_burst(&c->q.list, elem, 1, &st);
		}
		break;
	default:
		/* Look before locking: a select that finds nobody waiting
		 * here must not touch the lock's cache line (Go issue 20351). */
		if (!(op == CHAN_OP_SEND ? chan__send_ready(c) : chan__recv_ready(c)))
			return -EAGAIN;
		chan__lock_acquire(&c->lock);
		r = chan__pair_locked(c, op, elem, &peer);
		chan__lock_release(&c->lock);
		if (r == 0)
			chan__unpark(peer->w);
		return r;
	}
	if (st == RING_OK) {
		notify(c, op == CHAN_OP_SEND ? &c->recvq : &c->sendq, 1);
		return 0;
	}
	return st == RING_CLOSED ? -EPIPE : -EAGAIN;
}

static int send_until(chan_t *c, const void *elem, int64_t deadline, int busy_err)
{
	if (chan__unlikely(!c || !elem))
		return -EINVAL;
	if (c->kind == CHAN_KIND_UNBUFFERED)
		return unbuf_send(c, elem, deadline, busy_err);
	return buf_send(c, elem, deadline, busy_err);
}

static int recv_until(chan_t *c, void *elem, int64_t deadline, int busy_err)
{
	if (chan__unlikely(!c))
		return -EINVAL;
	if (c->kind == CHAN_KIND_UNBUFFERED)
		return unbuf_recv(c, elem, deadline, busy_err);
	return buf_recv(c, elem, deadline, busy_err);
}

int chan_send(chan_t *c, const void *elem)
{
	return send_until(c, elem, CHAN__FOREVER, 0);
}

int chan_recv(chan_t *c, void *elem)
{
	return recv_until(c, elem, CHAN__FOREVER, 0);
}

int chan_try_send(chan_t *c, const void *elem)
{
	return send_until(c, elem, 0, -EAGAIN);
}

int chan_try_recv(chan_t *c, void *elem)
{
	return recv_until(c, elem, 0, -EAGAIN);
}

int chan_send_timeout(chan_t *c, const void *elem, int64_t timeout_ns)
{
	return send_until(c, elem, chan__deadline(timeout_ns), -ETIMEDOUT);
}

int chan_recv_timeout(chan_t *c, void *elem, int64_t timeout_ns)
{
	return recv_until(c, elem, chan__deadline(timeout_ns), -ETIMEDOUT);
}

/* ---- bursts ------------------------------------------------------------ */

/* Unbuffered: the first element waits (or not, per @deadline); the rest go
 * only to partners already waiting. */
static size_t unbuf_send_burst(chan_t *c, const unsigned char *src, size_t n, int64_t deadline)
{
	size_t k = 0;
	int r = unbuf_send(c, src, deadline, -EAGAIN);

	if (r != 0) {
		if (r == -EPIPE)
			errno = EPIPE;
		return 0;
	}
	for (k = 1; k < n; k++)
		if (unbuf_send(c, src + k * c->elem_size, 0, -EAGAIN) != 0)
			break;
	return k;
}

static size_t unbuf_recv_burst(chan_t *c, unsigned char *dst, size_t max, int64_t deadline)
{
	size_t k;
	int r = unbuf_recv(c, dst, deadline, -EAGAIN);

	if (r != 0) {
		if (r == -EPIPE)
			errno = EPIPE;
		return 0;
	}
	for (k = 1; k < max; k++)
		if (unbuf_recv(c, dst ? dst + k * c->elem_size : NULL, 0, -EAGAIN) != 0)
			break;
	return k;
}

static size_t send_burst(chan_t *c, const void *elems, size_t n, int64_t deadline)
{
	const unsigned char *src = elems;
	bool closed = false;
	size_t k;

	if (chan__unlikely(!c || !elems)) {
		errno = EINVAL;
		return 0;
	}
	if (n == 0)
		return 0;
	switch (c->kind) {
	case CHAN_KIND_UNBUFFERED:
		return unbuf_send_burst(c, src, n, deadline);
	case CHAN_KIND_LIST: {
		enum ring_status st = RING_OK;

		/* Never blocks: take everything, a block at a time. */
		for (k = 0; k < n && st == RING_OK;)
			k += chan__list_push_burst(&c->q.list, src + k * c->elem_size, n - k, &st);
		if (k)
			notify(c, &c->recvq, k);
		if (st == RING_WOULD_BLOCK)
			errno = ENOMEM;
		closed = st == RING_CLOSED;
		break;
	}
	default:
		for (;;) {
			k = rb_push_burst(c, src, n, &closed);
			if (k) {
				notify(c, &c->recvq, k);
				return k;
			}
			if (closed || deadline == 0 ||
			    wait_ready(c, &c->sendq, send_ready_poll, deadline) < 0)
				break;
		}
	}
	if (closed)
		errno = EPIPE;
	return k;
}

static size_t recv_burst(chan_t *c, void *elems, size_t max, int64_t deadline)
{
	bool closed = false;
	size_t k = 0;

	if (chan__unlikely(!c)) {
		errno = EINVAL;
		return 0;
	}
	if (max == 0)
		return 0;
	if (c->kind == CHAN_KIND_UNBUFFERED)
		return unbuf_recv_burst(c, elems, max, deadline);
	for (;;) {
		if (c->kind == CHAN_KIND_RING) {
			k = rb_pop_burst(c, elems, max, &closed);
		} else {
			enum ring_status st;

			k = chan__list_pop_burst(&c->q.list, elems, max, &st);
			closed = st == RING_CLOSED;
		}
		if (k) {
			notify(c, &c->sendq, k);
			return k;
		}
		if (closed) {
			errno = EPIPE;
			return 0;
		}
		if (deadline == 0 || wait_ready(c, &c->recvq, recv_ready_poll, deadline) < 0)
			return 0;
	}
}

size_t chan_send_burst(chan_t *c, const void *elems, size_t n)
{
	return send_burst(c, elems, n, CHAN__FOREVER);
}

size_t chan_recv_burst(chan_t *c, void *elems, size_t max)
{
	return recv_burst(c, elems, max, CHAN__FOREVER);
}

size_t chan_try_send_burst(chan_t *c, const void *elems, size_t n)
{
	return send_burst(c, elems, n, 0);
}

size_t chan_try_recv_burst(chan_t *c, void *elems, size_t max)
{
	return recv_burst(c, elems, max, 0);
}

/* ---- close ------------------------------------------------------------- */

int chan_close(chan_t *c)
{
	struct chan__wentry *wake = NULL;

	if (!c)
		return -EINVAL;
	switch (c->kind) {
	case CHAN_KIND_RING:
		if (!chan__ring_close(&c->q.ring))
			return -EPIPE;
		break;
	case CHAN_KIND_LIST:
		if (!chan__list_close(&c->q.list))
			return -EPIPE;
		break;
	default:
		break;
	}
	chan__lock_acquire(&c->lock);
	if (c->kind == CHAN_KIND_UNBUFFERED) {
		if (atomic_load_explicit(&c->closed, memory_order_relaxed)) {
			chan__lock_release(&c->lock);
			return -EPIPE;
		}
		/* Seq_cst: pairs with the lock-free readiness loads. */
		atomic_store_explicit(&c->closed, true, memory_order_seq_cst);
	}
	/* Wake everyone: receivers drain what is buffered, then see the
	 * close; senders see it at once. */
	chan__waitq_claim_all(&c->recvq, -EPIPE, &wake);
	chan__waitq_claim_all(&c->sendq, -EPIPE, &wake);
	chan__lock_release(&c->lock);
	chan__wake_list(wake);
	return 0;
}

/* ---- life cycle -------------------------------------------------------- */

static bool opts_valid(const chan_opts_t *o)
{
	if (!o || o->elem_size == 0 || o->elem_size > CHAN_ELEM_SIZE_MAX)
		return false;
	if (o->capacity > CHAN_CAPACITY_MAX && o->capacity != CHAN_UNBOUNDED)
		return false;
	return (o->flags & ~(unsigned)(CHAN_SINGLE_PRODUCER | CHAN_SINGLE_CONSUMER)) == 0;
}

static enum ring_kind ring_kind_of(unsigned flags)
{
	bool sp = flags & CHAN_SINGLE_PRODUCER, sc = flags & CHAN_SINGLE_CONSUMER;

	if (sp && sc)
		return RING_SPSC;
	if (sp)
		return RING_SPMC;
	if (sc)
		return RING_MPSC;
	return RING_MPMC;
}

chan_t *chan_new_opts(const chan_opts_t *o)
{
	enum ring_kind rkind = RING_MPMC;
	size_t storage = 0, total;
	chan_t *c;

	if (!opts_valid(o)) {
		errno = EINVAL;
		return NULL;
	}
	if (o->capacity != 0 && o->capacity != CHAN_UNBOUNDED) {
		rkind = ring_kind_of(o->flags);
		storage = chan__ring_storage_size(rkind, o->elem_size, o->capacity);
		if (storage == 0) {
			errno = ENOMEM; /* does not fit in the address space */
			return NULL;
		}
	}
	total = sizeof(*c) + storage;
	if (total < storage) {
		errno = ENOMEM;
		return NULL;
	}
	total = (total + CHAN_CACHELINE - 1) & ~(size_t)(CHAN_CACHELINE - 1);
	c = chan__aligned_alloc(CHAN_CACHELINE, total);
	if (!c) {
		errno = ENOMEM;
		return NULL;
	}
	memset(c, 0, sizeof(*c));
	c->elem_size = o->elem_size;
	c->cap = o->capacity;
	c->drop = o->drop;
	c->rkind = rkind;
	atomic_init(&c->refs, 1);
	atomic_init(&c->closed, false);
	chan__lock_init(&c->lock);
	chan__waitq_init(&c->recvq);
	chan__waitq_init(&c->sendq);
	if (o->capacity == 0) {
		c->kind = CHAN_KIND_UNBUFFERED;
	} else if (o->capacity == CHAN_UNBOUNDED) {
		c->kind = CHAN_KIND_LIST;
		if (!chan__list_init(&c->q.list, o->elem_size)) {
			free(c);
			errno = ENOMEM;
			return NULL;
		}
	} else {
		c->kind = CHAN_KIND_RING;
		chan__ring_init(&c->q.ring, rkind, o->elem_size, o->capacity, c + 1);
	}
	return c;
}

chan_t *chan_new(size_t elem_size, size_t capacity)
{
	chan_opts_t o = { .elem_size = elem_size, .capacity = capacity };

	return chan_new_opts(&o);
}

chan_t *chan_retain(chan_t *c)
{
	/* Relaxed: the caller already holds a reference, so the channel is
	 * alive; only the final decrement needs ordering. */
	if (c)
		atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
	return c;
}

static void drop_one(void *elem, void *arg)
{
	((chan_t *)arg)->drop(elem);
}

void chan_release(chan_t *c)
{
	if (!c || c->is_static)
		return;
	/* Acq_rel: every holder's uses happen-before the free done by the
	 * last one (release by each, acquire by the last). */
	if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
		return;
	switch (c->kind) {
	case CHAN_KIND_RING:
		if (c->drop)
			chan__ring_drain(&c->q.ring, drop_one, c);
		break;
	case CHAN_KIND_LIST:
		chan__list_destroy(&c->q.list, c->drop ? drop_one : NULL, c);
		break;
	default:
		break;
	}
	free(c);
}

/* ---- snapshots --------------------------------------------------------- */

size_t chan_len(const chan_t *c)
{
	chan_t *m = (chan_t *)c; /* loads only; the atomics API wants non-const */

	if (!c)
		return 0;
	switch (c->kind) {
	case CHAN_KIND_RING:
		return (size_t)chan__ring_len(&m->q.ring);
	case CHAN_KIND_LIST:
		return (size_t)chan__list_len(&m->q.list);
	default:
		return 0;
	}
}

size_t chan_cap(const chan_t *c)
{
	return c ? c->cap : 0;
}

size_t chan_elem_size(const chan_t *c)
{
	return c ? c->elem_size : 0;
}

bool chan_is_closed(const chan_t *c)
{
	chan_t *m = (chan_t *)c;

	if (!c)
		return false;
	switch (c->kind) {
	case CHAN_KIND_RING:
		return ring_is_closed(&m->q.ring);
	case CHAN_KIND_LIST:
		return list_is_closed(&m->q.list);
	default:
		/* Acquire: pairs with the seq_cst store in chan_close(). */
		return atomic_load_explicit(&m->closed, memory_order_acquire);
	}
}
