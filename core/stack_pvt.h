/* SPDX-License-Identifier: MIT */
/*
 * core/stack_pvt.h - goroutine stacks (private): guarded, lazily committed,
 * cached; and the report of a stack overflow.
 *
 * Stacks are carved from large MAP_NORESERVE|MAP_STACK anonymous mappings
 * (an "arena" holds many slots of guard + stack), so memory is committed only
 * where a fiber actually touched it. Each slot has a guard page (or more) at
 * its low end: MADV_GUARD_INSTALL (Linux 6.13+; no extra VMA) where the kernel
 * has it, else mprotect(PROT_NONE) (one more VMA per stack: vm.max_map_count,
 * default 65530, then bounds the number of live stacks; document it).
 *
 * A cache (owned by one scheduler worker; no locking inside, the caller
 * serialises) keeps freed stacks for reuse; above its limit a stack returns
 * to a process-wide warm list (locked), and chan__stack_scavenge() (the
 * scheduler's monitor calls it) later MADV_DONTNEEDs it (all of it: its
 * record is not in its pages) in a batch, onto the free list: a cached
 * stack stays warm, and a million goroutines that came and went leave no
 * resident memory behind once the monitor has caught up, only address
 * space.
 *
 * Limits: none of ours but address space (arenas are added as needed and
 * never unmapped). MAP_NORESERVE is ignored under vm.overcommit_memory=2,
 * where every arena counts against the commit limit. A guard catches a
 * frame that lands in it: a single frame larger than the guard can jump
 * over it into the stack below (build with -fstack-clash-protection).
 *
 * fork(): the child keeps every mapping, guard and list (the global lock is
 * taken around fork() by pthread_atfork() handlers, so it is never inherited
 * held). The caches of workers that do not exist in the child are the
 * scheduler's to drop or drain.
 */
#ifndef CHAN_CORE_STACK_PVT_H
#define CHAN_CORE_STACK_PVT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Owned by stack.c: a record lives as long as the process (in its arena's
 * header), whoever holds the stack it describes.
 */
struct chan__stack {
	void *lo;    /* lowest usable byte (just above the guard) */
	size_t size; /* usable bytes; the stack grows down from lo + size */
	struct chan__stack *next; /* cache links, private */
};

#define CHAN__STACK_DEFAULT (64 * 1024)
#define CHAN__STACK_MIN	    (16 * 1024)
#define CHAN__STACK_CACHE_MAX 16 /* stacks one cache keeps warm */

/* Zeroed means empty. Caller-serialised: one worker owns it. */
struct chan__stack_cache {
	struct chan__stack *head;
	unsigned count;
};

/*
 * chan__stack_get() - a stack of at least @size usable bytes (0: the
 * default; raised to CHAN__STACK_MIN; rounded up to pages), from @cache when
 * one of that size is there, else from the global list, else new. The record
 * lives in stack.c's arena headers, not in the stack's pages, so there is
 * nothing to free but the stack. A new stack's pages are untouched (zero
 * when first touched); a reused one may hold a previous fiber's data.
 * Concurrency: @cache is caller-serialised (NULL: none); the global part
 * is thread-safe (one short lock). Blocking only on that lock.
 * Return: the stack, or NULL (errno ENOMEM: no address space / mmap failed,
 * or the fault hook chan__fault_hit(CHAN__FAULT_ALLOC) fired). Nothing was
 * taken on error.
 */
struct chan__stack *chan__stack_get(struct chan__stack_cache *cache, size_t size);

/*
 * chan__stack_put() - give @s back: to @cache (NULL: none) if it holds
 * fewer than CHAN__STACK_CACHE_MAX, else to the global warm list (cooled by
 * chan__stack_scavenge(); cooled here if 65536 are warm already).
 * No fiber may run on @s any more. Concurrency: as chan__stack_get().
 */
void chan__stack_put(struct chan__stack_cache *cache, struct chan__stack *s);

/*
 * chan__stack_cache_drain() - move every cached stack to the global list
 * (DONTNEED'ed); @cache is empty after. A worker calls it before it exits.
 * Concurrency: as chan__stack_get().
 */
void chan__stack_cache_drain(struct chan__stack_cache *cache);

/*
 * chan__stack_scavenge() - DONTNEED warm stacks (those put beyond a cache)
 * in batches, neighbours as one range, onto the free list, until at most
 * @keep stay warm or @max were cooled. Return how many were. Thread-safe;
 * makes system calls outside the lock.
 */
size_t chan__stack_scavenge(size_t keep, size_t max);

/* chan__stack_warm() - how many stacks are warm (for tests). */
size_t chan__stack_warm(void);

/* chan__stack_guard_size() - bytes of the guard just below every s->lo. */
size_t chan__stack_guard_size(void);

/*
 * chan__stack_guard_install() - make the page-aligned [@addr, @addr+@len)
 * fault on any access: MADV_GUARD_INSTALL, or mprotect(PROT_NONE) on a
 * kernel without it (EINVAL). Thread-safe. Return: 0 or -errno of the call
 * that failed (-ENOMEM: e.g. vm.max_map_count reached).
 */
int chan__stack_guard_install(void *addr, size_t len);

/*
 * Overflow reports. Each thread that runs fibers calls
 * chan__overflow_thread_init() once (an alternate signal stack for it; the
 * process-wide SIGSEGV/SIGBUS handler is installed on the first call,
 * chaining to whatever handler was installed before). Before switching to a
 * fiber the thread calls chan__overflow_enter(id, s), and
 * chan__overflow_enter(0, NULL) when it is back on its own stack. A fault
 * inside the guard of the current fiber's stack prints
 *   "chan: goroutine <id> overflowed its <size/1024> KiB stack\n"
 * to stderr (async-signal-safe: write(2)) and aborts; any other fault is
 * passed to the previous handler (or re-raised with the default action).
 * Return of init: 0 or -ENOMEM.
 *
 * Concurrency: all three act on the calling thread only (the handler's
 * one-time installation is thread-safe). chan__overflow_thread_fini() frees
 * the alternate stack that init made (not one the thread had before); the
 * thread calls it before it exits, never from a signal handler on it.
 */
int chan__overflow_thread_init(void);
void chan__overflow_thread_fini(void);
void chan__overflow_enter(uint64_t id, const struct chan__stack *s);

#endif /* CHAN_CORE_STACK_PVT_H */
