/* SPDX-License-Identifier: MIT */
/*
 * ring/list.c - the unbounded block list (see ring/list.h).
 *
 * Ordering labels (Q for the queue; every label is unique across the tree):
 *   QC1  tail.index CAS (seq_cst): claims positions; the producer half of the
 *        channel's Dekker pair with waiting receivers (as C1 in ring/mpmc.h).
 *   QC2  head.index CAS (seq_cst): claims positions.
 *   QW1  slot state |= WRITE (release): publishes the element; pairs with QW2.
 *   QW2  slot state load until WRITE (acquire).
 *   QB1  next block published (release stores of block, index, next); pairs
 *        with the acquire loads of the same words (QB2).
 *   QD1  READ / DESTROY bits (acq_rel RMW): whoever sets the second of the
 *        two on a slot knows the other side is done with it, so the last
 *        reader of a block frees it, after every other reader has copied out.
 *   QS1  tail.index load in pop (seq_cst): pairs with QC1 and chan__list_close().
 */
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "list.h"

enum {
	SLOT_WRITE = 1,
	SLOT_READ = 2,
	SLOT_DESTROY = 4,
};

struct list_slot {
	_Atomic uint32_t state;
	uint32_t pad;
	unsigned char data[];
};

struct list_block {
	_Atomic(struct list_block *) next;
	unsigned char slots[];
};

static inline struct list_slot *slot_at(const struct list *l, struct list_block *b, uint64_t off)
{
	return (struct list_slot *)(b->slots + off * l->stride);
}

static struct list_block *block_new(const struct list *l)
{
	/* calloc: every state word starts at 0 and next at NULL. */
	return chan__calloc(1, l->block_size);
}

static inline uint64_t offset_of(uint64_t index)
{
	return (index >> LIST_SHIFT) % LIST_LAP;
}

/* Wait for the thread that took the last slot to install the next block. */
static struct list_block *wait_next(struct list_block *b)
{
	unsigned step = 0;
	struct list_block *next;

	/* QB2: pairs with the QB1 store of next. */
	while (!(next = atomic_load_explicit(&b->next, memory_order_acquire)))
		ring_backoff(&step);
	return next;
}

static struct list_slot *wait_write(const struct list *l, struct list_block *b, uint64_t off)
{
	struct list_slot *s = slot_at(l, b, off);
	unsigned step = 0;

	/* QW2: pairs with QW1: the element is in s->data. */
	while (!(atomic_load_explicit(&s->state, memory_order_acquire) & SLOT_WRITE))
		ring_backoff(&step);
	return s;
}

/*
 * Free @b once every slot from @start on has been read. A slot still being
 * read gets DESTROY instead, and its reader carries on from there (QD1).
 */
static void block_destroy(const struct list *l, struct list_block *b, uint64_t start)
{
	/* The last slot's reader is the one that calls us with start 0. */
	for (uint64_t i = start; i < LIST_BLOCK_CAP - 1; i++) {
		struct list_slot *s = slot_at(l, b, i);

		/* QD1 */
		if (!(atomic_load_explicit(&s->state, memory_order_acquire) & SLOT_READ) &&
		    !(atomic_fetch_or_explicit(&s->state, SLOT_DESTROY, memory_order_acq_rel) &
		      SLOT_READ))
			return;
	}
	free(b);
}

bool chan__list_init(struct list *l, size_t elem_size)
{
	struct list_block *b;

	memset(l, 0, sizeof(*l));
	l->elem_size = elem_size;
	l->stride = (sizeof(struct list_slot) + elem_size + 7) & ~(size_t)7;
	l->block_size = sizeof(struct list_block) + LIST_BLOCK_CAP * l->stride;
	b = block_new(l);
	if (!b)
		return false;
	/* Relaxed: published with the channel itself. */
	atomic_store_explicit(&l->head.block, b, memory_order_relaxed);
	atomic_store_explicit(&l->tail.block, b, memory_order_relaxed);
	atomic_store_explicit(&l->head.index, 0, memory_order_relaxed);
	atomic_store_explicit(&l->tail.index, 0, memory_order_relaxed);
	return true;
}

size_t chan__list_push_burst(struct list *l, const void *elems, size_t n, enum ring_status *status)
{
	const unsigned char *src = elems;
	struct list_block *spare = NULL; /* the next block, allocated before we need it */
	unsigned step = 0;
	uint64_t tail, off, k;
	struct list_block *b;

	/* QB2: pairs with QB1; a stale pair only makes the CAS below fail. */
	tail = atomic_load_explicit(&l->tail.index, memory_order_acquire);
	b = atomic_load_explicit(&l->tail.block, memory_order_acquire);
	for (;;) {
		if (tail & LIST_MARK) {
			free(spare);
			*status = RING_CLOSED;
			return 0;
		}
		off = offset_of(tail);
		if (off == LIST_BLOCK_CAP) {
			/* In the gap: another pusher installs the next block. */
			ring_backoff(&step);
			tail = atomic_load_explicit(&l->tail.index, memory_order_acquire);
			b = atomic_load_explicit(&l->tail.block, memory_order_acquire);
			continue;
		}
		k = LIST_BLOCK_CAP - off;
		if (k > n)
			k = n;
		if (off + k == LIST_BLOCK_CAP && !spare) {
			spare = block_new(l);
			if (!spare) {
				*status = RING_WOULD_BLOCK;
				return 0;
			}
		}
		/* QC1 */
		if (atomic_compare_exchange_weak_explicit(&l->tail.index, &tail,
							  tail + (k << LIST_SHIFT),
							  memory_order_seq_cst, memory_order_acquire))
			break;
		/* Lost the race for these positions (the CAS reloaded tail). */
		b = atomic_load_explicit(&l->tail.block, memory_order_acquire);
		ring_cas_backoff(&step);
	}
	RING_DEBUG_HOOK(NULL, "list push: slots claimed, before publish");

	if (off + k == LIST_BLOCK_CAP) {
		/* We took the last slot: install the next block, then step
		 * tail over the gap. Fetch_add, not a store, keeps a LIST_MARK
		 * that close may have set meanwhile. */
		/* QB1 */
		atomic_store_explicit(&l->tail.block, spare, memory_order_release);
		atomic_fetch_add_explicit(&l->tail.index, (uint64_t)1 << LIST_SHIFT,
					  memory_order_release);
		atomic_store_explicit(&b->next, spare, memory_order_release);
		spare = NULL;
	}
	free(spare);

	for (uint64_t i = 0; i < k; i++) {
		struct list_slot *s = slot_at(l, b, off + i);

		ring_copy(s->data, src + i * l->elem_size, l->elem_size);
		/* QW1: publishes s->data; pairs with QW2. */
		atomic_fetch_or_explicit(&s->state, SLOT_WRITE, memory_order_release);
	}
	*status = RING_OK;
	return (size_t)k;
}

size_t chan__list_pop_burst(struct list *l, void *elems, size_t max, enum ring_status *status)
{
	unsigned char *dst = elems;
	unsigned step = 0;
	uint64_t head, off, k;
	struct list_block *b;

	*status = RING_WOULD_BLOCK;
	if (max == 0)
		return 0;
	/* QB2: pairs with QB1. */
	head = atomic_load_explicit(&l->head.index, memory_order_acquire);
	b = atomic_load_explicit(&l->head.block, memory_order_acquire);
	for (;;) {
		uint64_t new_head;

		off = offset_of(head);
		if (off == LIST_BLOCK_CAP) {
			/* In the gap: another popper installs the next block. */
			ring_backoff(&step);
			head = atomic_load_explicit(&l->head.index, memory_order_acquire);
			b = atomic_load_explicit(&l->head.block, memory_order_acquire);
			continue;
		}
		k = LIST_BLOCK_CAP - off;
		new_head = head;
		if (!(head & LIST_HAS_NEXT)) {
			/* QS1: pairs with QC1 and with chan__list_close(). */
			uint64_t tail = atomic_load_explicit(&l->tail.index, memory_order_seq_cst);
			uint64_t hpos = head >> LIST_SHIFT, tpos = tail >> LIST_SHIFT;

			if (hpos == tpos) {
				*status = (tail & LIST_MARK) ? RING_CLOSED : RING_WOULD_BLOCK;
				return 0;
			}
			if (hpos / LIST_LAP != tpos / LIST_LAP)
				new_head |= LIST_HAS_NEXT; /* tail is in a later block */
			else if (tpos - hpos < k)
				k = tpos - hpos;
		}
		if (k > max)
			k = max;
		new_head += k << LIST_SHIFT;
		/* QC2 */
		if (atomic_compare_exchange_weak_explicit(&l->head.index, &head, new_head,
							  memory_order_seq_cst, memory_order_acquire))
			break;
		/* Lost the race (the CAS reloaded head). */
		b = atomic_load_explicit(&l->head.block, memory_order_acquire);
		ring_cas_backoff(&step);
	}
	RING_DEBUG_HOOK(NULL, "list pop: slots claimed, before copy-out");

	if (off + k == LIST_BLOCK_CAP) {
		/* We took the last slot: move head to the next block. Nobody
		 * else writes head.index while it sits in the gap. */
		struct list_block *next = wait_next(b);
		uint64_t index = ((head + (k << LIST_SHIFT)) & ~(uint64_t)LIST_HAS_NEXT) +
				 ((uint64_t)1 << LIST_SHIFT);

		/* QB2: a next block of next means head need not check tail. */
		if (atomic_load_explicit(&next->next, memory_order_acquire))
			index |= LIST_HAS_NEXT;
		/* QB1 */
		atomic_store_explicit(&l->head.block, next, memory_order_release);
		atomic_store_explicit(&l->head.index, index, memory_order_release);
	}

	for (uint64_t i = 0; i < k; i++) {
		uint64_t o = off + i;
		struct list_slot *s = wait_write(l, b, o);

		if (dst)
			ring_copy(dst + i * l->elem_size, s->data, l->elem_size);
		if (o + 1 == LIST_BLOCK_CAP)
			block_destroy(l, b, 0);
		/* QD1: READ after the copy; a DESTROY already there hands us the
		 * rest of the block's teardown. */
		else if (atomic_fetch_or_explicit(&s->state, SLOT_READ, memory_order_acq_rel) &
			 SLOT_DESTROY)
			block_destroy(l, b, o + 1);
	}
	*status = RING_OK;
	return (size_t)k;
}

bool chan__list_close(struct list *l)
{
	/* Seq_cst RMW: pairs with QS1; orders the channel's wake-all after it. */
	uint64_t old = atomic_fetch_or_explicit(&l->tail.index, LIST_MARK, memory_order_seq_cst);

	return (old & LIST_MARK) == 0;
}

bool chan__list_recv_ready(struct list *l)
{
	/* Seq_cst: the receivers' half of the Dekker pair with QC1. Head first,
	 * then tail, as chan__ring_recv_ready() explains: "empty" is then true
	 * at the instant of the tail load. */
	uint64_t head = atomic_load_explicit(&l->head.index, memory_order_seq_cst);
	uint64_t tail = atomic_load_explicit(&l->tail.index, memory_order_seq_cst);

	return (tail & LIST_MARK) || (head >> LIST_SHIFT) != (tail >> LIST_SHIFT);
}

uint64_t chan__list_len(struct list *l)
{
	for (;;) {
		/* Tail twice around head: a consistent pair (crossbeam's len()). */
		uint64_t tail = atomic_load_explicit(&l->tail.index, memory_order_seq_cst);
		uint64_t head = atomic_load_explicit(&l->head.index, memory_order_seq_cst);

		if (atomic_load_explicit(&l->tail.index, memory_order_seq_cst) != tail)
			continue;
		tail >>= LIST_SHIFT;
		head >>= LIST_SHIFT;
		/* A position in a gap counts as the first of the next block. */
		if (tail % LIST_LAP == LIST_LAP - 1)
			tail++;
		if (head % LIST_LAP == LIST_LAP - 1)
			head++;
		/* One gap per block boundary between them holds no element. */
		return (tail - head) - (tail / LIST_LAP - head / LIST_LAP);
	}
}

void chan__list_destroy(struct list *l, void (*fn)(void *elem, void *arg), void *arg)
{
	/* Relaxed: single-threaded by contract. */
	uint64_t head = atomic_load_explicit(&l->head.index, memory_order_relaxed) >> LIST_SHIFT;
	uint64_t tail = atomic_load_explicit(&l->tail.index, memory_order_relaxed) >> LIST_SHIFT;
	struct list_block *b = atomic_load_explicit(&l->head.block, memory_order_relaxed);

	while (head != tail) {
		uint64_t off = head % LIST_LAP;

		if (off == LIST_BLOCK_CAP) {
			struct list_block *next = atomic_load_explicit(&b->next,
								       memory_order_relaxed);
			free(b);
			b = next;
		} else if (fn) {
			fn(slot_at(l, b, off)->data, arg);
		}
		head++;
	}
	free(b);
}
