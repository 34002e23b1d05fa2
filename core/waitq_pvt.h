/* SPDX-License-Identifier: MIT */
/*
 * core/waitq_pvt.h - a channel's queue of waiters, and its eventcount
 * protocol (private).
 *
 * Each channel has two queues, receivers waiting for data and senders
 * waiting for room (or, unbuffered, for a receiver), guarded by the channel's
 * lock. An entry ties one waiter (core/park_pvt.h) to one queue; a select has
 * one entry per case, on its stack.
 *
 * The queue is used as an eventcount with per-waiter wakeups:
 *   prepare  lock; append entry; nwait++ (seq_cst RMW); unlock;
 *   re-check the channel's state with seq_cst loads; if the operation could
 *            now go through, abort the waiter and retry instead of sleeping;
 *   commit   chan__park().
 * and the side that changes the state does: change it (a seq_cst RMW on the
 * ring), then load nwait (seq_cst); only if it is non-zero, lock and claim.
 * Both pairs are seq_cst, so in the single total order either the waiter's
 * re-check sees the change, or the changer's load sees the waiter: no
 * wakeup is lost, and a changer that finds nwait == 0 makes no system call
 * and takes no lock. Unlike a shared-word eventcount (ck_ec), the claim picks
 * one waiter and removes it, so a burst of changes after one waiter went to
 * sleep wakes it once, not once per change.
 */
#ifndef CHAN_CORE_WAITQ_PVT_H
#define CHAN_CORE_WAITQ_PVT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dlist_pvt.h"
#include "park_pvt.h"

struct chan__wentry {
	struct chan__dlink link;	  /* in the queue; under the lock */
	struct chan__wentry *wake_next;	  /* a claimer's list of entries to unpark */
	struct chan__waiter *w;
	void *elem;	/* unbuffered: the sender's value or the receiver's
			   buffer (NULL: discard); unused otherwise */
	int err;	/* set by the claimer before chan__unpark(): 0 or -EPIPE */
	unsigned index; /* select: the case this entry stands for */
	bool queued;	/* under the lock: still linked in a queue */
};

struct chan__waitq {
	_Atomic uint32_t nwait;	   /* entries queued: read without the lock */
	_Atomic uint32_t arrivals; /* entries ever queued: select's double collect */
	struct chan__dlist list; /* of chan__wentry.link, under the channel lock */
};

static inline void chan__wentry_init(struct chan__wentry *e, struct chan__waiter *w, void *elem,
				     unsigned index)
{
	e->link.prev = e->link.next = NULL;
	e->wake_next = NULL;
	e->w = w;
	e->elem = elem;
	e->err = 0;
	e->index = index;
	e->queued = false;
}

static inline void chan__waitq_init(struct chan__waitq *q)
{
	atomic_init(&q->nwait, 0);
	atomic_init(&q->arrivals, 0);
	chan__dlist_init(&q->list);
}

/*
 * chan__waitq_has_waiters() - the changer's half of the protocol above.
 * Seq_cst: pairs with the seq_cst RMW in chan__waitq_push().
 */
static inline bool chan__waitq_has_waiters(struct chan__waitq *q)
{
	return atomic_load_explicit(&q->nwait, memory_order_seq_cst) != 0;
}

/* Lock held. Appends @e (FIFO: the longest waiter is claimed first). */
void chan__waitq_push(struct chan__waitq *q, struct chan__wentry *e);

/* Lock held. Unlinks @e if it is still queued (a claimer may have done it). */
void chan__waitq_remove(struct chan__waitq *q, struct chan__wentry *e);

/*
 * Lock held. Claims the first entry whose waiter is still WAITING, and
 * unlinks it; entries of waiters already claimed elsewhere or aborted are
 * unlinked on the way (their owners find them unqueued). @skip: a waiter
 * not to claim, or NULL (every caller today: a select never claims while
 * its own entries are queued, so it cannot meet itself).
 * Return: the claimed entry, or NULL. The caller fills it in and then, after
 * dropping the lock, calls chan__unpark(e->w).
 */
struct chan__wentry *chan__waitq_claim(struct chan__waitq *q, const struct chan__waiter *skip);

/*
 * Lock held. Claims every waiting entry with @err and chains the claimed ones
 * through ->wake_next into *@wake (to unpark after the lock is dropped, with
 * chan__wake_list()). Dead entries are unlinked.
 */
void chan__waitq_claim_all(struct chan__waitq *q, int err, struct chan__wentry **wake);

/* Lock not held. Unparks each entry of a list made by the claims above. */
void chan__wake_list(struct chan__wentry *list);

#endif /* CHAN_CORE_WAITQ_PVT_H */
