/* SPDX-License-Identifier: MIT */
/*
 * core/stack.c - goroutine stacks (see stack_pvt.h): arenas, guards, the
 * per-worker cache and the process-wide free lists.
 *
 * An arena is one MAP_NORESERVE mapping of nslots slots of one size class,
 * each laid out as [guard | stack] (guard at the low end, where a
 * downward-growing stack overflows). The records (struct chan__stack) live in
 * the arena's header, a small malloc'ed array, not in the mapping: so making
 * a stack touches none of its pages, and a freed stack can be DONTNEED'ed
 * whole (a record page kept per stack would pin 4 GiB after a million
 * goroutines had come and gone). Arenas are never unmapped: a stack's memory
 * goes back to the kernel by MADV_DONTNEED, its address space is reused.
 *
 * Invariants (under global.lock):
 *  - every class has a distinct page-rounded size; class->free links only
 *    stacks of that size, each DONTNEED'ed, none in any cache; class->warm
 *    links stacks of that size freed beyond a cache and not cooled yet
 *    (global.nwarm counts them all); none is on two lists;
 *  - class->arena is the newest arena, its slots [class->carved, nslots) were
 *    never handed out; older arenas are fully carved;
 *  - every slot handed out has its guard installed (guards survive
 *    MADV_DONTNEED, and fork(): the child inherits them with the mapping).
 * A cache holds at most CHAN__STACK_CACHE_MAX stacks, of any sizes, still warm.
 *
 * Cooling is off the goroutine's exit path: a stack beyond its worker's
 * cache goes to its class's warm list (a lock and a push), and
 * chan__stack_scavenge(), called by the scheduler's monitor, cools warm
 * stacks in batches: sorted by address, neighbouring slots DONTNEED'ed as
 * one range (guards included: guard regions and PROT_NONE survive
 * MADV_DONTNEED), so that a burst of exits costs a few madvise() calls and
 * TLB shootdowns instead of one each (measured: 1M goroutines woken and
 * exited at once, 4.4-5.1 us each with a madvise() per exit). WARM_MAX
 * bounds the warm stacks if nobody scavenges: beyond it a put cools inline.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "stack_pvt.h"
#include "debug_pvt.h"
#include "lock_pvt.h"
#include "../ring/fault.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux 6.13 uapi; older headers lack it */
#endif
/* stack_test_mprotect builds this file with an advice every kernel rejects
 * (EINVAL), to run the mprotect() fallback on a kernel with guard regions. */
#ifdef CHAN__TEST_GUARD_ADVICE
#define GUARD_ADVICE CHAN__TEST_GUARD_ADVICE
#else
#define GUARD_ADVICE MADV_GUARD_INSTALL
#endif

/* Warm stacks beyond which chan__stack_put() cools inline. */
#define WARM_MAX (1u << 16)
/* Stacks one scavenging round takes off the warm lists. */
#define SCAVENGE_BATCH 256

/* An arena holds at least this many slots, more if they are small. */
#define ARENA_SLOTS_MIN 64
#define ARENA_BYTES	(4u << 20)

struct arena {
	struct arena *older; /* the class's previous arena (never unmapped) */
	char *base;
	size_t bytes;
	unsigned nslots;
	struct chan__stack rec[]; /* rec[i] describes slot i */
};

struct size_class {
	struct size_class *next;
	size_t size;		   /* usable bytes, page-rounded */
	struct chan__stack *free;  /* DONTNEED'ed stacks of this size */
	struct chan__stack *warm;  /* freed, not DONTNEED'ed yet */
	struct arena *arena;	   /* newest arena; slots from carved up are new */
	unsigned carved;
};

static struct {
	struct chan__lock lock;
	struct size_class *classes;
	size_t nwarm; /* stacks on the warm lists */
} global = { { 0 }, NULL, 0 };

/* Set once pthread_atfork() succeeded; register_lock serialises trying. */
static _Atomic bool atfork_registered;
static struct chan__lock register_lock = { 0 };

/* 0: not probed yet; 1: MADV_GUARD_INSTALL works; 2: mprotect() instead. */
static _Atomic int guard_mode;

static size_t page_size(void)
{
	static _Atomic size_t page;
	/* Relaxed: every thread computes the same value, so a racing second
	 * sysconf() is harmless; nothing else is published through it. */
	size_t p = atomic_load_explicit(&page, memory_order_relaxed);

	if (chan__unlikely(p == 0)) {
		long v = sysconf(_SC_PAGESIZE);

		p = v > 0 ? (size_t)v : 4096;
		atomic_store_explicit(&page, p, memory_order_relaxed);
	}
	return p;
}

size_t chan__stack_guard_size(void)
{
	return page_size();
}

int chan__stack_guard_install(void *addr, size_t len)
{
	/* Relaxed: a hint only; each mode works at any time, the probe result
	 * just saves a failing madvise() per stack on older kernels. */
	int mode = atomic_load_explicit(&guard_mode, memory_order_relaxed);

	if (mode != 2) {
		if (madvise(addr, len, GUARD_ADVICE) == 0) {
			if (mode == 0)
				atomic_store_explicit(&guard_mode, 1, memory_order_relaxed);
			return 0;
		}
		if (errno != EINVAL)
			return -errno;
		/* EINVAL: a kernel without guard regions (before 6.13). */
		atomic_store_explicit(&guard_mode, 2, memory_order_relaxed);
	}
	return mprotect(addr, len, PROT_NONE) == 0 ? 0 : -errno;
}

/* ---- fork: the child must not inherit global.lock held ------------------- */

static void fork_prepare(void)
{
	chan__lock_acquire(&global.lock);
}

static void fork_release(void)
{
	chan__lock_release(&global.lock);
}

/*
 * Not under global.lock: glibc holds its atfork lock while it runs the
 * prepare handlers, and pthread_atfork() takes it, so registering under
 * global.lock could deadlock with a fork() in fork_prepare().
 */
static void register_atfork(void)
{
	/* Acquire: pairs with the release below; true means registered. */
	if (chan__likely(atomic_load_explicit(&atfork_registered, memory_order_acquire)))
		return;
	chan__lock_acquire(&register_lock);
	/* Relaxed: register_lock orders the stores. */
	if (!atomic_load_explicit(&atfork_registered, memory_order_relaxed) &&
	    pthread_atfork(fork_prepare, fork_release, fork_release) == 0)
		/* Release: pairs with the acquire above. */
		atomic_store_explicit(&atfork_registered, true, memory_order_release);
	chan__lock_release(&register_lock);
}

/* ---- the global lists ------------------------------------------------------ */

/* The class of @size, created if missing; NULL if malloc failed. Locked. */
static struct size_class *class_of(size_t size)
{
	struct size_class *c;

	for (c = global.classes; c; c = c->next)
		if (c->size == size)
			return c;
	c = chan__malloc(sizeof(*c));
	if (!c)
		return NULL;
	*c = (struct size_class){ .next = global.classes, .size = size };
	global.classes = c;
	return c;
}

/*
 * A new arena for class @c, every guard installed; NULL with errno ENOMEM.
 * Locked: an mmap() of address space and a madvise() per slot are quick
 * (tens of microseconds), once per ARENA_SLOTS_MIN stacks or more; the
 * slots' pages are not touched.
 */
static struct arena *arena_new(struct size_class *c)
{
	size_t guard = page_size();
	size_t slot = guard + c->size;
	size_t n = ARENA_BYTES / slot;
	struct arena *a;
	char *base;
	unsigned i;

	if (n < ARENA_SLOTS_MIN)
		n = ARENA_SLOTS_MIN;
	if (slot > SIZE_MAX / n)
		return NULL;
	/* The allocation site that fault tests fail (the header below is a
	 * second one, through chan__malloc()). */
	if (chan__fault_hit(CHAN__FAULT_ALLOC))
		return NULL;
	base = mmap(NULL, slot * n, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (base == MAP_FAILED)
		return NULL;
	a = chan__malloc(sizeof(*a) + n * sizeof(a->rec[0]));
	if (!a)
		goto unmap;
	for (i = 0; i < n; i++) {
		/* mprotect() fallback: each guard splits the VMA, so the
		 * kernel's vm.max_map_count may stop us part-way. Keep the
		 * slots that got a guard. */
		if (chan__stack_guard_install(base + i * slot, guard) != 0)
			break;
		a->rec[i] = (struct chan__stack){ .lo = base + i * slot + guard, .size = c->size };
	}
	if (i == 0) {
		free(a);
		goto unmap;
	}
	a->older = c->arena;
	a->base = base;
	a->bytes = slot * n;
	a->nslots = i;
	return a;
unmap:
	munmap(base, slot * n);
	return NULL;
}

/* A stack of class size @size from the global lists; NULL, errno ENOMEM. */
static struct chan__stack *global_get(size_t size)
{
	struct size_class *c;
	struct chan__stack *s = NULL;
	struct arena *a;

	register_atfork(); /* before the first stack exists; see there */
	chan__lock_acquire(&global.lock);
	c = class_of(size);
	if (!c)
		goto out;
	if (c->warm) { /* no page faults for its next user */
		s = c->warm;
		c->warm = s->next;
		global.nwarm--;
		goto out;
	}
	if (c->free) {
		s = c->free;
		c->free = s->next;
		goto out;
	}
	if (!c->arena || c->carved == c->arena->nslots) {
		a = arena_new(c);
		if (!a)
			goto out;
		c->arena = a;
		c->carved = 0;
	}
	s = &c->arena->rec[c->carved++];
out:
	chan__lock_release(&global.lock);
	if (s)
		s->next = NULL;
	else
		errno = ENOMEM;
	return s;
}

/*
 * Give the pages of @s back to the kernel: the next user sees zero pages,
 * faulted in as it touches them. Not under the lock (a system call).
 */
static void cool(struct chan__stack *s)
{
	/* Cannot fail on a mapping we own, page-aligned; a failure would only
	 * keep the memory resident, so it is not worth a path. */
	(void)madvise(s->lo, s->size, MADV_DONTNEED);
}

/* The class of an existing stack's size. Locked. */
static struct size_class *class_had(size_t size)
{
	struct size_class *c;

	for (c = global.classes; c && c->size != size; c = c->next)
		;
	/* Its class exists if chan__stack_get() made it. */
	CHAN__ASSERT(c != NULL);
	return c;
}

/* Push the chain @first..@last (all DONTNEED'ed) onto the lists. */
static void global_put_chain(struct chan__stack *first)
{
	struct chan__stack *s, *next;
	struct size_class *c = NULL;

	chan__lock_acquire(&global.lock);
	for (s = first; s; s = next) {
		next = s->next;
		if (!c || c->size != s->size)
			c = class_had(s->size);
		s->next = c->free;
		c->free = s;
	}
	chan__lock_release(&global.lock);
}

/* ---- the interface --------------------------------------------------------- */

static size_t round_size(size_t size)
{
	size_t p = page_size();

	if (size == 0)
		size = CHAN__STACK_DEFAULT;
	if (size < CHAN__STACK_MIN)
		size = CHAN__STACK_MIN;
	if (size > SIZE_MAX / 2)
		return 0;
	return (size + p - 1) & ~(p - 1);
}

struct chan__stack *chan__stack_get(struct chan__stack_cache *cache, size_t size)
{
	struct chan__stack **link, *s;

	size = round_size(size);
	if (size == 0) {
		errno = ENOMEM;
		return NULL;
	}
	if (cache) {
		for (link = &cache->head; (s = *link) != NULL; link = &s->next) {
			if (s->size == size) {
				*link = s->next;
				cache->count--;
				s->next = NULL;
				return s;
			}
		}
	}
	return global_get(size);
}

void chan__stack_put(struct chan__stack_cache *cache, struct chan__stack *s)
{
	if (cache && cache->count < CHAN__STACK_CACHE_MAX) {
		s->next = cache->head;
		cache->head = s;
		cache->count++;
		return;
	}
	chan__lock_acquire(&global.lock);
	if (global.nwarm < WARM_MAX) {
		struct size_class *c = class_had(s->size);

		s->next = c->warm;
		c->warm = s;
		global.nwarm++;
		s = NULL;
	}
	chan__lock_release(&global.lock);
	if (s) { /* nobody scavenges enough: cool it here */
		cool(s);
		s->next = NULL;
		global_put_chain(s);
	}
}

static int by_address(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)(*(struct chan__stack *const *)a)->lo;
	uintptr_t y = (uintptr_t)(*(struct chan__stack *const *)b)->lo;

	return (x > y) - (x < y);
}

/* DONTNEED the @n stacks at @v (sorted by address), neighbours as one range. */
static void cool_batch(struct chan__stack **v, size_t n)
{
	size_t guard = page_size();

	for (size_t i = 0, j; i < n; i = j) {
		char *end = (char *)v[i]->lo + v[i]->size;

		for (j = i + 1; j < n && (char *)v[j]->lo == end + guard; j++)
			end = (char *)v[j]->lo + v[j]->size;
		/* As cool(): cannot fail on our own page-aligned mappings. */
		(void)madvise(v[i]->lo, (size_t)(end - (char *)v[i]->lo), MADV_DONTNEED);
	}
}

size_t chan__stack_scavenge(size_t keep, size_t max)
{
	struct chan__stack *v[SCAVENGE_BATCH];
	size_t done = 0;

	while (done < max) {
		size_t n = 0;
		struct size_class *c;

		chan__lock_acquire(&global.lock);
		for (c = global.classes; c; c = c->next)
			while (c->warm && n < SCAVENGE_BATCH && done + n < max &&
			       global.nwarm > keep) {
				v[n++] = c->warm;
				c->warm = c->warm->next;
				global.nwarm--;
			}
		chan__lock_release(&global.lock);
		if (n == 0)
			break;
		qsort(v, n, sizeof(v[0]), by_address);
		cool_batch(v, n);
		for (size_t i = 0; i < n; i++)
			v[i]->next = i + 1 < n ? v[i + 1] : NULL;
		global_put_chain(v[0]);
		done += n;
	}
	return done;
}

size_t chan__stack_warm(void)
{
	size_t n;

	chan__lock_acquire(&global.lock);
	n = global.nwarm;
	chan__lock_release(&global.lock);
	return n;
}

void chan__stack_cache_drain(struct chan__stack_cache *cache)
{
	struct chan__stack *s;

	for (s = cache->head; s; s = s->next)
		cool(s);
	global_put_chain(cache->head);
	cache->head = NULL;
	cache->count = 0;
}
