/* SPDX-License-Identifier: MIT */
/*
 * core/chan_close.c - chan_close(): no more sends, and every waiter wakes.
 *
 * Buffered kinds: "closed" is the mark bit in the ring's (list's) tail, set
 * with a seq_cst RMW (chan__ring_close(), chan__list_close()), so a push and
 * the close are ordered by one word: a push either got in before the mark
 * (and is received before -EPIPE) or fails with RING_CLOSED. Unbuffered:
 * @closed, stored under the channel lock.
 *
 * No lost wakeup: close sets the mark (or @closed) before it takes the lock
 * to claim every queued entry. A waiter that queued before that lock is
 * claimed by it; one that queues after re-checks after its own seq_cst count
 * RMW under the lock, so the lock orders its re-check after the mark and it
 * sees the close (buffered), or it pairs under the lock and finds @closed
 * (unbuffered). Each claimed waiter is unparked exactly once, outside the
 * lock. Receivers then drain what is buffered and get -EPIPE; senders get
 * -EPIPE at once.
 */
#include <errno.h>

#include <chan/channel.h>

#include "chan_pvt.h"
#include "debug_pvt.h"

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
	CHAN__DEBUG_WINDOW("close: marked, before waking");
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
