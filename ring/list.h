/* SPDX-License-Identifier: MIT */
/*
 * ring/list.h - the unbounded MPMC queue: a linked list of fixed blocks
 * (private).
 *
 * The algorithm is that of crossbeam-channel's list flavour (list.rs), itself
 * after Vyukov's: positions are claimed with a CAS on a head or tail index;
 * every block holds LIST_BLOCK_CAP slots, and the position after the last
 * slot of a block is a "gap" during which the thread that took the last slot
 * installs the next block (the others wait). A block is freed by whichever
 * reader finishes it last, found with per-slot READ/DESTROY bits, so no
 * epoch or hazard pointer is needed.
 *
 * Invariants:
 *   - tail.index bit 0 (LIST_MARK) is set by close; no push succeeds after;
 *   - head.index bit 0 (LIST_HAS_NEXT) means head's block is not the last,
 *     so a pop there cannot find the queue empty and skips reading tail;
 *   - a slot is read only after its WRITE bit is set (release/acquire), and
 *     a block is freed only after every slot of it has been read.
 *
 * Progress: lock-free, except around a block boundary, where pushers (or
 * poppers) wait for the one thread installing the next block; and a pop
 * waits for the push that reserved its slot to finish copying.
 *
 * Concurrency: any number of concurrent pushes, pops and closes.
 */
#ifndef CHAN_RING_LIST_H
#define CHAN_RING_LIST_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"
#include "slots.h"

#define LIST_SHIFT     1
#define LIST_MARK      1u /* in tail.index: closed */
#define LIST_HAS_NEXT  1u /* in head.index: a next block exists */
#define LIST_LAP       32
#define LIST_BLOCK_CAP (LIST_LAP - 1)

struct list_block;

struct list_pos {
	_Atomic uint64_t index;
	_Atomic(struct list_block *) block;
};

struct list {
	alignas(CHAN_CACHELINE) struct list_pos head;
	alignas(CHAN_CACHELINE) struct list_pos tail;
	/* Read-only after chan__list_init(). */
	alignas(CHAN_CACHELINE) size_t elem_size;
	size_t stride;     /* bytes per slot: state word + element */
	size_t block_size; /* bytes per block */
};

_Static_assert(offsetof(struct list, tail) - offsetof(struct list, head) >= CHAN_CACHELINE,
	       "head and tail share a cache line");

/** chan__list_init() - set up an empty queue; allocates the first block. Return false on ENOMEM. */
bool chan__list_init(struct list *l, size_t elem_size);

/** chan__list_destroy() - call @fn (if not NULL) on each element left, free every block. Single-threaded. */
void chan__list_destroy(struct list *l, void (*fn)(void *elem, void *arg), void *arg);

/**
 * chan__list_push_burst() - push up to @n elements (all in one block, one CAS).
 * Return: how many went in (>= 1 unless closed or out of memory); *@status
 * says RING_OK, RING_CLOSED, or RING_WOULD_BLOCK for a failed allocation.
 */
size_t chan__list_push_burst(struct list *l, const void *elems, size_t n, enum ring_status *status);

/**
 * chan__list_pop_burst() - pop up to @max elements (from one block, one CAS).
 * @elems may be NULL to discard. Return: how many came out; 0 with *@status
 * RING_WOULD_BLOCK (empty) or RING_CLOSED (closed and drained).
 */
size_t chan__list_pop_burst(struct list *l, void *elems, size_t max, enum ring_status *status);

/** chan__list_close() - set LIST_MARK; true if this call closed it (seq_cst RMW). */
bool chan__list_close(struct list *l);

/** chan__list_len() - a consistent snapshot of the element count. */
uint64_t chan__list_len(struct list *l);

/** chan__list_recv_ready() - non-empty or closed (seq_cst loads: the waiters' re-check). */
bool chan__list_recv_ready(struct list *l);

/*
 * list_recv_version() - changes with every push and with close (both move
 * tail.index): a select's double collect. Seq_cst: pairs with QC1 and
 * chan__list_close().
 */
static inline uint64_t list_recv_version(struct list *l)
{
	return atomic_load_explicit(&l->tail.index, memory_order_seq_cst);
}

static inline bool list_is_closed(struct list *l)
{
	/* Acquire: pairs with the seq_cst RMW in chan__list_close(). */
	return (atomic_load_explicit(&l->tail.index, memory_order_acquire) & LIST_MARK) != 0;
}

#endif /* CHAN_RING_LIST_H */
