/* SPDX-License-Identifier: MIT */
/*
 * core/waitq.c - wait queues (see waitq_pvt.h for the protocol).
 *
 * Invariant: q->nwait equals the number of linked entries whenever the lock
 * is free. Only the lock holder links or unlinks.
 */
#include "waitq_pvt.h"

void chan__waitq_push(struct chan__waitq *q, struct chan__wentry *e)
{
	chan__dlist_push_back(&q->list, &e->link);
	e->queued = true;
	/* Seq_cst RMW: the waiter's half of the eventcount's Dekker pair; the
	 * re-check that follows (a seq_cst load) cannot be ordered before it.
	 * Pairs with chan__waitq_has_waiters(). */
	atomic_fetch_add_explicit(&q->nwait, 1, memory_order_seq_cst);
	/* Seq_cst, read by chan__case_version(): an arrival after a select's
	 * attempt must show up in its second collect. */
	atomic_fetch_add_explicit(&q->arrivals, 1, memory_order_seq_cst);
}

static void unlink_entry(struct chan__waitq *q, struct chan__wentry *e)
{
	chan__dlist_unlink(&q->list, &e->link);
	e->queued = false;
	/* Relaxed: a changer that still reads the old count only takes the
	 * lock for nothing; the lock orders the count among its holders. */
	atomic_fetch_sub_explicit(&q->nwait, 1, memory_order_relaxed);
}

void chan__waitq_remove(struct chan__waitq *q, struct chan__wentry *e)
{
	if (e->queued)
		unlink_entry(q, e);
}

struct chan__wentry *chan__waitq_claim(struct chan__waitq *q, const struct chan__waiter *skip)
{
	struct chan__dlink *n = q->list.first;

	while (n) {
		struct chan__wentry *e = chan__container_of(n, struct chan__wentry, link);

		n = n->next; /* before unlink_entry() clears it */
		if (e->w != skip) {
			unlink_entry(q, e);
			if (chan__waiter_claim(e->w, (uintptr_t)e))
				return e;
		}
	}
	return NULL;
}

void chan__waitq_claim_all(struct chan__waitq *q, int err, struct chan__wentry **wake)
{
	while (q->list.first) {
		struct chan__wentry *e =
			chan__container_of(q->list.first, struct chan__wentry, link);

		unlink_entry(q, e);
		if (chan__waiter_claim(e->w, (uintptr_t)e)) {
			e->err = err;
			e->wake_next = *wake;
			*wake = e;
		}
	}
}

void chan__wake_list(struct chan__wentry *list)
{
	while (list) {
		/* Read next first: after the unpark the entry may be gone. */
		struct chan__wentry *next = list->wake_next;

		chan__unpark(list->w);
		list = next;
	}
}
