/* SPDX-License-Identifier: MIT */
/*
 * core/chan_buffered.c - the buffered protocol: a ring (or the unbounded
 * block list) for the data, wait queues for the blocked, a lock only where
 * somebody waits (crossbeam-channel's array/list flavours, with the parking
 * of core/waitq_pvt.h).
 *
 * A send pushes into the ring lock-free and then checks the receivers'
 * waiter count; only if someone waits does it take the lock and claim one
 * waiter, who wakes and retries its own pop (and symmetrically for a
 * receive and the senders). A waiter is woken to retry, not handed a value,
 * so FIFO order stays the ring's order.
 *
 * Invariants (besides those in chan_pvt.h):
 *   - every claim is followed by exactly one chan__unpark(), after the
 *     claimer's last write to the entry, outside the lock;
 *   - a waiter never leaves a call while it is claimed but not yet unparked
 *     (its entry and waiter live on its stack);
 *   - a woken waiter retries its operation; a wake is a hint, never a value.
 *
 * No lost wakeup: the eventcount proof of waitq_pvt.h. The changer's seq_cst
 * RMW is the ring's C1 (push) or C2 (pop) in ring/mpmc.h, or the list's QC1/
 * QC2 in ring/list.c; its seq_cst load is chan__waitq_has_waiters() in
 * notify(). The waiter's seq_cst RMW is the count in chan__waitq_push(); its
 * seq_cst loads are the re-check (chan__buf_recv_ready/send_ready). In the
 * single total order of those four, either the re-check sees the change or
 * the changer sees the waiter. A spurious wake or EINTR only costs a retry.
 * Close: see core/chan_close.c.
 *
 * Overflow policies (CHAN_DROP_NEWEST/OLDEST, ring kind only) act only where
 * a push found the ring full, so the fast path never reads them: DROP_NEWEST
 * discards the value (the push's S2 load saw the ring full: that is the
 * send's linearization point), DROP_OLDEST retries with the evicting push of
 * ring/evict.h. Either way the send is done, and it notifies the receivers
 * like any push (the evicting push's tail CAS EV1 is the changer's seq_cst
 * RMW; a discard changes nothing, and its notify only hurries a waiter that
 * the pushes which filled the ring already claimed). Senders never wait on
 * such a channel, so evictions, which move head, notify nobody.
 */
#include <errno.h>

#include <chan/channel.h>
#include <chan/clock.h>
#include <chan/select.h>

#include "chan_pvt.h"
#include "debug_pvt.h"

/* ---- readiness (the waiters' re-check) --------------------------------- */

bool chan__buf_recv_ready(chan_t *c)
{
	return c->kind == CHAN_KIND_RING ? chan__ring_recv_ready(&c->q.ring)
					 : chan__list_recv_ready(&c->q.list);
}

bool chan__buf_send_ready(chan_t *c)
{
	/* The list never fills; a drop policy makes room or discards. */
	return c->kind == CHAN_KIND_RING ? c->overflow || chan__ring_send_ready(&c->q.ring) : true;
}

uint64_t chan__buf_case_version(chan_t *c, int op)
{
	if (c->kind == CHAN_KIND_RING)
		return op == CHAN_OP_RECV ? ring_recv_version(&c->q.ring)
					  : ring_send_version(&c->q.ring);
	/* A send on the list is always ready: nothing to validate. */
	return op == CHAN_OP_RECV ? list_recv_version(&c->q.list) : 0;
}

/* ---- the data path ------------------------------------------------------ */

/* One push: RING_OK, RING_WOULD_BLOCK (full; for the list: out of memory) or RING_CLOSED. */
static inline enum ring_status push_one(chan_t *c, const void *elem)
{
	enum ring_status st;

	if (c->kind == CHAN_KIND_RING)
		return ring_try_push(&c->q.ring, elem);
	chan__list_push_burst(&c->q.list, elem, 1, &st);
	return st;
}

static inline enum ring_status pop_one(chan_t *c, void *elem)
{
	enum ring_status st;

	if (c->kind == CHAN_KIND_RING)
		return ring_try_pop(&c->q.ring, elem);
	chan__list_pop_burst(&c->q.list, elem, 1, &st);
	return st;
}

/* ---- waking and waiting ------------------------------------------------ */

static void notify_slow(chan_t *c, struct chan__waitq *q, size_t n)
{
	struct chan__wentry *wake = NULL, *e;

	chan__lock_acquire(&c->lock);
	while (n-- > 0 && (e = chan__waitq_claim(q, NULL)) != NULL) {
		e->wake_next = wake;
		wake = e;
	}
	chan__lock_release(&c->lock);
	chan__wake_list(wake);
}

/*
 * After a push (pop) of @n: wake up to @n receivers (senders), if any wait.
 * The changer's half of the eventcount: the seq_cst load of the count comes
 * after the ring's seq_cst RMW.
 */
static inline void notify(chan_t *c, struct chan__waitq *q, size_t n)
{
	if (chan__likely(!chan__waitq_has_waiters(q)))
		return;
	notify_slow(c, q, n);
}

static bool recv_ready_poll(void *c)
{
	return chan__buf_recv_ready(c);
}

static bool send_ready_poll(void *c)
{
	return chan__buf_send_ready(c);
}

/*
 * Wait until the operation of queue @q may have become possible (or the
 * channel was closed), or @deadline. Return 0 to retry it, or -ETIMEDOUT.
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
	CHAN__DEBUG_WINDOW("buffered: spun, before queueing");
	chan__lock_acquire(&c->lock);
	chan__waitq_push(q, &e); /* prepare */
	chan__lock_release(&c->lock);
	CHAN__DEBUG_WINDOW("buffered: queued, before the re-check");
	/* Re-check, after our seq_cst count RMW (see waitq_pvt.h). */
	if (ready(c)) {
		CHAN__DEBUG_WINDOW("buffered: re-check said ready, before the abort");
		if (chan__waiter_abort(&w)) {
			chan__unqueue(c, q, &e);
			return 0;
		}
		/* Claimed first: a change woke us; take its unpark below. */
	}
	CHAN__DEBUG_WINDOW("buffered: re-checked, before parking");
	/* Commit. A claim that won as time ran out still counts: the caller
	 * retries once more before it reports a timeout. */
	if (chan__park_withdraw(&w, &wt, deadline) < 0) {
		chan__unqueue(c, q, &e);
		return -ETIMEDOUT;
	}
	return 0;
}

/* ---- the overflow policies ---------------------------------------------- */

/* One value discarded by the policy: count it, then drop() it, once. */
static void discard(chan_t *c, void *elem)
{
	/* Relaxed: a counter (chan_dropped()); it orders nothing. Before
	 * drop(), so that the count never lags a drop() that has run. */
	atomic_fetch_add_explicit(&c->dropped, 1, memory_order_relaxed);
	if (c->drop)
		c->drop(elem);
}

/* ring_push_evict()'s callback: the evicted oldest value. */
static void discard_evicted(void *elem, void *arg)
{
	discard(arg, elem);
}

/*
 * A push of @elem found the ring full and @c has a drop policy: discard it,
 * or evict the oldest value and push it. RING_OK (the send is done: in, or
 * discarded) or RING_CLOSED (nothing changed).
 */
static enum ring_status overflow(chan_t *c, const void *elem)
{
	if (c->overflow == CHAN_DROP_OLDEST)
		return ring_push_evict(&c->q.ring, elem, discard_evicted, c);
	/* DROP_NEWEST. drop() only reads the sender's value (channel.h). */
	discard(c, (void *)elem);
	return RING_OK;
}

/* A send to a full policy channel: 0 or -EPIPE, never waits. Out of line,
 * so that the fast path of buf_send() stays as it was. */
static __attribute__((noinline)) int send_overflow(chan_t *c, const void *elem)
{
	if (overflow(c, elem) == RING_CLOSED)
		return -EPIPE;
	notify(c, &c->recvq, 1);
	return 0;
}

/* The rest of a send burst on a policy channel, from @k already sent: each
 * value goes in or is discarded, in order, until the channel is closed. */
static size_t overflow_burst(chan_t *c, const unsigned char *src, size_t n, size_t k)
{
	bool closed = false;
	size_t m;

	while (k < n) {
		if (c->overflow == CHAN_DROP_OLDEST) {
			/* Each value evicts, or finds room, on its own. */
			if (ring_push_evict(&c->q.ring, src + k * c->elem_size, discard_evicted,
					    c) != RING_OK)
				break;
			k++;
			continue;
		}
		m = ring_push_burst(&c->q.ring, src + k * c->elem_size, n - k, &closed);
		if (m) {
			k += m;
			continue;
		}
		if (closed)
			break;
		/* Full at the burst's S2: the rest are sends to a full channel. */
		for (; k < n; k++)
			discard(c, (void *)(src + k * c->elem_size));
	}
	return k;
}

/* ---- one element ------------------------------------------------------- */

static int buf_send(chan_t *c, const void *elem, int64_t deadline, int busy_err)
{
	for (;;) {
		enum ring_status st = push_one(c, elem);

		if (chan__likely(st == RING_OK)) {
			notify(c, &c->recvq, 1);
			return 0;
		}
		if (st == RING_CLOSED)
			return -EPIPE;
		if (c->kind == CHAN_KIND_LIST)
			return -ENOMEM; /* the list never fills: a block allocation failed */
		if (c->overflow)
			return send_overflow(c, elem);
		if (deadline == 0)
			return busy_err;
		if (wait_ready(c, &c->sendq, send_ready_poll, deadline) < 0)
			return -ETIMEDOUT;
	}
}

static int buf_recv(chan_t *c, void *elem, int64_t deadline, int busy_err)
{
	for (;;) {
		enum ring_status st = pop_one(c, elem);

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

int chan__buf_try_case(chan_t *c, int op, void *elem)
{
	enum ring_status st = op == CHAN_OP_SEND ? push_one(c, elem) : pop_one(c, elem);

	if (st == RING_WOULD_BLOCK && op == CHAN_OP_SEND && c->overflow)
		st = overflow(c, elem); /* a policy send case is always ready */
	if (st == RING_OK) {
		notify(c, op == CHAN_OP_SEND ? &c->recvq : &c->sendq, 1);
		return 0;
	}
	if (st == RING_CLOSED)
		return -EPIPE;
	return op == CHAN_OP_SEND && c->kind == CHAN_KIND_LIST ? -ENOMEM : -EAGAIN;
}

/* ---- bursts ------------------------------------------------------------ */

static size_t buf_send_burst(chan_t *c, const void *elems, size_t n, int64_t deadline)
{
	const unsigned char *src = elems;
	bool closed = false;
	size_t k;

	if (c->kind == CHAN_KIND_LIST) {
		enum ring_status st = RING_OK;

		/* Never blocks: take everything, a block at a time. */
		for (k = 0; k < n && st == RING_OK;)
			k += chan__list_push_burst(&c->q.list, src + k * c->elem_size, n - k, &st);
		if (k) {
			notify(c, &c->recvq, k);
			return k; /* a partial count sets no errno */
		}
		chan__set_errno(st == RING_CLOSED ? EPIPE : ENOMEM);
		return 0;
	}
	for (;;) {
		k = ring_push_burst(&c->q.ring, src, n, &closed);
		if (chan__unlikely(k < n && !closed && c->overflow))
			k = overflow_burst(c, src, n, k);
		if (k) {
			notify(c, &c->recvq, k);
			return k;
		}
		if (closed || c->overflow) {
			chan__set_errno(EPIPE); /* a policy burst stops early only at a close */
			return 0;
		}
		if (deadline == 0) {
			chan__set_errno(EAGAIN);
			return 0;
		}
		/* Only chan_send_burst() waits, and without deadline. */
		wait_ready(c, &c->sendq, send_ready_poll, deadline);
	}
}

static size_t buf_recv_burst(chan_t *c, void *elems, size_t max, int64_t deadline)
{
	bool closed = false;
	size_t k;

	for (;;) {
		if (c->kind == CHAN_KIND_RING) {
			k = ring_pop_burst(&c->q.ring, elems, max, &closed);
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
			chan__set_errno(EPIPE);
			return 0;
		}
		if (deadline == 0) {
			chan__set_errno(EAGAIN);
			return 0;
		}
		wait_ready(c, &c->recvq, recv_ready_poll, deadline);
	}
}

/* ---- the public operations: check arguments, dispatch by kind ----------
 * They live here so that the buffered fast path (ring push, one waiter-count
 * load) inlines into chan_send()/chan_recv(); an unbuffered channel takes a
 * lock anyway, and pays one call more. */

static inline int send_until(chan_t *c, const void *elem, int64_t deadline, int busy_err)
{
	if (chan__unlikely(!c || !elem))
		return -EINVAL;
	if (c->kind == CHAN_KIND_UNBUFFERED)
		return chan__unbuf_send(c, elem, deadline, busy_err);
	return buf_send(c, elem, deadline, busy_err);
}

static inline int recv_until(chan_t *c, void *elem, int64_t deadline, int busy_err)
{
	if (chan__unlikely(!c))
		return -EINVAL;
	if (c->kind == CHAN_KIND_UNBUFFERED)
		return chan__unbuf_recv(c, elem, deadline, busy_err);
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

static size_t send_burst(chan_t *c, const void *elems, size_t n, int64_t deadline)
{
	if (chan__unlikely(!c || !elems)) {
		chan__set_errno(EINVAL);
		return 0;
	}
	if (n == 0)
		return 0;
	if (c->kind == CHAN_KIND_UNBUFFERED)
		return chan__unbuf_send_burst(c, elems, n, deadline);
	return buf_send_burst(c, elems, n, deadline);
}

static size_t recv_burst(chan_t *c, void *elems, size_t max, int64_t deadline)
{
	if (chan__unlikely(!c)) {
		chan__set_errno(EINVAL);
		return 0;
	}
	if (max == 0)
		return 0;
	if (c->kind == CHAN_KIND_UNBUFFERED)
		return chan__unbuf_recv_burst(c, elems, max, deadline);
	return buf_recv_burst(c, elems, max, deadline);
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
