/* SPDX-License-Identifier: MIT */
/*
 * core/dlist_pvt.h - an intrusive doubly linked list (private).
 *
 * The wait queues, the pool's idle workers and a context's children are
 * lists of records that live elsewhere (often on a blocked thread's stack)
 * and must be unlinked in O(1) from the middle. One implementation for all
 * three. Not thread-safe: every list is guarded by its owner's lock, which
 * the comments at each use name.
 *
 * Invariant: a node is linked iff its prev/next are those of its position
 * in exactly one list; chan__dlist_unlink() leaves both NULL.
 */
#ifndef CHAN_CORE_DLIST_PVT_H
#define CHAN_CORE_DLIST_PVT_H

#include <stddef.h>

struct chan__dlink {
	struct chan__dlink *prev, *next;
};

struct chan__dlist {
	struct chan__dlink *first, *last;
};

/* The record that contains @ptr, a pointer to its @member. */
#define chan__container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

static inline void chan__dlist_init(struct chan__dlist *l)
{
	l->first = l->last = NULL;
}

static inline void chan__dlist_push_back(struct chan__dlist *l, struct chan__dlink *n)
{
	n->next = NULL;
	n->prev = l->last;
	if (l->last)
		l->last->next = n;
	else
		l->first = n;
	l->last = n;
}

static inline void chan__dlist_push_front(struct chan__dlist *l, struct chan__dlink *n)
{
	n->prev = NULL;
	n->next = l->first;
	if (l->first)
		l->first->prev = n;
	else
		l->last = n;
	l->first = n;
}

static inline void chan__dlist_unlink(struct chan__dlist *l, struct chan__dlink *n)
{
	if (n->prev)
		n->prev->next = n->next;
	else
		l->first = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		l->last = n->prev;
	n->prev = n->next = NULL;
}

/* Unlink and return the first node, or NULL if @l is empty. */
static inline struct chan__dlink *chan__dlist_pop_front(struct chan__dlist *l)
{
	struct chan__dlink *n = l->first;

	if (n)
		chan__dlist_unlink(l, n);
	return n;
}

#endif /* CHAN_CORE_DLIST_PVT_H */
