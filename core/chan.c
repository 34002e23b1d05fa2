/* SPDX-License-Identifier: MIT */
/*
 * core/chan.c - channels: life cycle and snapshots. The operations are in
 * core/chan_buffered.c (with the public entry points, next to the fast path
 * they inline), core/chan_unbuffered.c and core/chan_close.c.
 *
 * Invariants: see chan_pvt.h. The channel and its ring slots are one
 * allocation; the last chan_release() runs drop() on what is still buffered
 * and frees both. A channel in static storage (is_static) is never freed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chan/channel.h>
#include <chan/clock.h>
#include <chan/select.h>

#include "chan_pvt.h"
#include "../ring/fault.h"

_Static_assert(CHAN_CAPACITY_MAX <= RING_CAP_MAX, "bounded capacities must fit the ring");

/* ---- life cycle -------------------------------------------------------- */

#define DROP_FLAGS  ((unsigned)(CHAN_DROP_NEWEST | CHAN_DROP_OLDEST))
#define KNOWN_FLAGS ((unsigned)(CHAN_SINGLE_PRODUCER | CHAN_SINGLE_CONSUMER) | DROP_FLAGS)

static bool opts_valid(const chan_opts_t *o)
{
	unsigned policy;

	if (!o || o->elem_size == 0 || o->elem_size > CHAN_ELEM_SIZE_MAX)
		return false;
	if (o->capacity > CHAN_CAPACITY_MAX && o->capacity != CHAN_UNBOUNDED)
		return false;
	if ((o->flags & ~KNOWN_FLAGS) != 0)
		return false;
	/* A drop policy: one of the two, and only where there is a buffer to
	 * overflow (not a rendezvous, not a list that never fills). */
	policy = o->flags & DROP_FLAGS;
	if (policy == DROP_FLAGS)
		return false;
	return policy == 0 || (o->capacity != 0 && o->capacity != CHAN_UNBOUNDED);
}

static enum ring_kind ring_kind_of(unsigned flags)
{
	/* DROP_OLDEST: the evicting sender is a second consumer, so the
	 * single-consumer rings (a plain head store) are out (ring/evict.h). */
	bool sp = flags & CHAN_SINGLE_PRODUCER;
	bool sc = (flags & CHAN_SINGLE_CONSUMER) && !(flags & CHAN_DROP_OLDEST);

	if (sp && sc)
		return RING_SPSC;
	if (sp)
		return RING_SPMC;
	if (sc)
		return RING_MPSC;
	return RING_MPMC;
}

/*
 * Large rings are mmap()ed: fresh pages are zero, which is the slots'
 * initial state (ring/slots.h), so nothing is computed at creation; from
 * CHAN__MAP_MIN on, rather than malloc() and memset(). From CHAN__HUGE_MIN on
 * the mapping is aligned to a transparent huge page and advised
 * MADV_HUGEPAGE: committing and using it costs a fault and a TLB entry per
 * 2 MiB instead of per 4 KiB (A/B in the README's engine choices: creation
 * 37-43 -> 16-25 ms for 80 MB, and the message phase 5-30 % faster).
 *
 * The pages are committed as the producers approach them, a chunk at a time
 * (chan__ring_commit_lazily(), ring/ring.c), so creation is O(1) and memory
 * follows use. Not simply left to fault in: the first access to a slot is a
 * stamp load (a producer's full check, or a consumer that caught up), which
 * maps the shared zero page; the first store then breaks it copy-on-write,
 * and with the ring's threads on both CPUs every break is a TLB shootdown
 * (an IPI). Measured on 4 KiB pages, 5M messages through a capacity-5M ring
 * (80 MB of slots): spsc 0.10-0.25 s committed against 0.52-0.66 s faulted
 * in, mpmc T=4 0.08-0.21 s against 0.42-0.43 s.
 *
 * Rings of a few chunks, and kernels without MADV_POPULATE_WRITE, are
 * committed whole at creation; -ENOMEM then fails chan_new() rather than
 * the first push that reaches a page that is not there. A ring committed
 * ahead cannot know that in advance: like any memory the kernel commits on
 * first touch (a large malloc() too), a page it cannot provide then is the
 * kernel's OOM handling, not an error return.
 */
#define CHAN__MAP_MIN  (256 * 1024)
#define CHAN__HUGE     ((size_t)2 << 20) /* a transparent huge page (x86-64, arm64 with 4K pages) */
#define CHAN__HUGE_MIN (4 * CHAN__HUGE)

/* @total bytes of zeroed memory at a CHAN__HUGE boundary, or NULL. */
static void *map_aligned(size_t total)
{
	size_t len = total + CHAN__HUGE;
	unsigned char *p, *a;

	if (len < total)
		return NULL;
	p = chan__map_zeroed(len);
	if (!p)
		return NULL;
	a = (unsigned char *)(((uintptr_t)p + CHAN__HUGE - 1) & ~(uintptr_t)(CHAN__HUGE - 1));
	if (a > p)
		munmap(p, (size_t)(a - p));
	if (p + len > a + total)
		munmap(a + total, (size_t)(p + len - (a + total)));
	return a;
}

/* A mapping for a ring of @total bytes (header included); nothing committed. */
static chan_t *map_large(size_t total)
{
	chan_t *c;

	if (total < CHAN__HUGE_MIN) {
		c = chan__map_zeroed(total);
	} else {
		/* Whole huge pages: a partial one at the end would be 4K pages. */
		total = (total + CHAN__HUGE - 1) & ~(size_t)(CHAN__HUGE - 1);
		c = map_aligned(total);
		if (c)
			(void)madvise(c, total, MADV_HUGEPAGE); /* EINVAL without THP: fine */
	}
	if (c)
		c->mapped = total;
	return c;
}

/* Commit the whole mapping of @c now: 0 or -ENOMEM. */
static int commit_all(chan_t *c)
{
	long page = sysconf(_SC_PAGESIZE);

	if (madvise(c, c->mapped, MADV_POPULATE_WRITE) == 0)
		return 0;
	if (errno != EINVAL)
		return -ENOMEM; /* the memory is not there: say so now */
	/* A kernel before 5.14: write-fault every page ourselves (nobody
	 * else can see the channel yet). */
	for (size_t off = 0; off < c->mapped; off += (size_t)(page > 0 ? page : 4096))
		((unsigned char *)c)[off] = 0; /* c escapes: the store stays */
	return 0;
}

/* Storage for a mapped ring just laid out: committed ahead, or all now. */
static int commit_mapped(chan_t *c)
{
	int r = chan__ring_commit_lazily(&c->q.ring);

	return r == -EINVAL ? commit_all(c) : r;
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
	if (o->capacity == 0) {
		/* The first two lines only (core/chan_pvt.h, "Layout"). */
		c = chan__aligned_alloc(_Alignof(struct chan), CHAN__UNBUF_SIZE);
		if (c)
			memset(c, 0, CHAN__UNBUF_SIZE);
	} else if (total < CHAN__MAP_MIN) {
		c = chan__aligned_alloc(CHAN_CACHELINE, total);
		if (c)
			memset(c, 0, total); /* the slots too: zero is their initial state */
	} else {
		c = map_large(total);
	}
	if (!c) {
		errno = ENOMEM;
		return NULL;
	}
	c->elem_size = o->elem_size;
	c->cap = o->capacity;
	c->drop = o->drop;
	c->overflow = o->flags & DROP_FLAGS;
	atomic_init(&c->refs, 1);
	atomic_init(&c->closed, false);
	chan__lock_init(&c->lock);
	chan__waitq_init(&c->recvq);
	chan__waitq_init(&c->sendq);
	if (o->capacity == 0) {
		c->kind = CHAN_KIND_UNBUFFERED;
	} else if (o->capacity == CHAN_UNBOUNDED) {
		atomic_init(&c->dropped, 0);
		c->kind = CHAN_KIND_LIST;
		if (!chan__list_init(&c->q.list, o->elem_size)) {
			free(c); /* small: never mapped */
			errno = ENOMEM;
			return NULL;
		}
	} else {
		atomic_init(&c->dropped, 0);
		c->kind = CHAN_KIND_RING;
		chan__ring_init(&c->q.ring, rkind, o->elem_size, o->capacity, c + 1);
		if (c->mapped && commit_mapped(c) != 0) {
			munmap(c, c->mapped);
			errno = ENOMEM;
			return NULL;
		}
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
	if (c->mapped)
		munmap(c, c->mapped);
	else
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

uint64_t chan_dropped(const chan_t *c)
{
	chan_t *m = (chan_t *)c;

	/* Relaxed: a counter; what orders a discard before this read is the
	 * caller's business (a join, a channel operation), as for chan_len(). */
	if (!c || c->kind == CHAN_KIND_UNBUFFERED)
		return 0; /* never discards, and has no @dropped (chan_pvt.h, "Layout") */
	return atomic_load_explicit(&m->dropped, memory_order_relaxed);
}
