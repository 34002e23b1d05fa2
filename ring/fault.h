/* SPDX-License-Identifier: MIT */
/*
 * ring/fault.h - allocation and thread creation for every layer, with a
 * test-only fault injection hook (private).
 *
 * Every allocation of the library goes through chan__malloc() and friends,
 * and every thread it starts through chan__fault_hit(CHAN__FAULT_THREAD), so
 * that a test can make the k-th one fail and check that the call reports the
 * error, changed nothing, leaked nothing, and that everything works after.
 * The lowest layer owns this (as it owns compiler.h) so that ring/ depends on
 * nothing above it.
 *
 * Arming is per thread: chan__fault_arm() counts only the events of the
 * calling thread, so background threads (the timer service, pool workers)
 * never consume or trigger a test's countdown. Disarmed, the cost is one
 * relaxed load of a global that nobody writes (chan__fault_armed).
 */
#ifndef CHAN_RING_FAULT_H
#define CHAN_RING_FAULT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "compiler.h"

/* Commits a range now, as write faults would (Linux 5.14); EINVAL before. */
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

enum chan__fault_kind {
	CHAN__FAULT_ALLOC = 0, /* malloc, calloc, aligned_alloc, realloc */
	CHAN__FAULT_THREAD,    /* pthread_create */
	CHAN__FAULT_KINDS,
};

/* Threads with a countdown armed; 0 in every program but fault tests. */
extern _Atomic unsigned chan__fault_armed;

bool chan__fault_hit_slow(enum chan__fault_kind kind);

/* True if the calling thread's next event of @kind must fail. */
static inline bool chan__fault_hit(enum chan__fault_kind kind)
{
	/* Relaxed: arming and the events it counts are on the same thread;
	 * another thread's arming only sends us to the slow path, which
	 * reads our own thread-local countdown. */
	if (chan__likely(atomic_load_explicit(&chan__fault_armed, memory_order_relaxed) == 0))
		return false;
	return chan__fault_hit_slow(kind);
}

/**
 * chan__fault_arm() - make the calling thread's @k-th next event of @kind
 * fail (1: the very next one), once; @k == 0 disarms. Resets the count
 * chan__fault_seen() reports. Test-only.
 */
void chan__fault_arm(enum chan__fault_kind kind, long k);

/** chan__fault_seen() - events of @kind on this thread since it was last armed. */
long chan__fault_seen(enum chan__fault_kind kind);

/** chan__fault_fired() - whether the armed failure has happened yet. */
bool chan__fault_fired(enum chan__fault_kind kind);

static inline void *chan__malloc(size_t n)
{
	return chan__fault_hit(CHAN__FAULT_ALLOC) ? NULL : malloc(n);
}

static inline void *chan__calloc(size_t n, size_t size)
{
	return chan__fault_hit(CHAN__FAULT_ALLOC) ? NULL : calloc(n, size);
}

static inline void *chan__aligned_alloc(size_t align, size_t n)
{
	return chan__fault_hit(CHAN__FAULT_ALLOC) ? NULL : aligned_alloc(align, n);
}

/*
 * chan__map_zeroed() - @n bytes of fresh anonymous memory (zero-filled,
 * page-aligned, committed by the kernel as pages are first touched), or NULL.
 * Freed with munmap(p, n).
 */
static inline void *chan__map_zeroed(size_t n)
{
	void *p;

	if (chan__fault_hit(CHAN__FAULT_ALLOC))
		return NULL;
	p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static inline void *chan__realloc(void *p, size_t n)
{
	return chan__fault_hit(CHAN__FAULT_ALLOC) ? NULL : realloc(p, n);
}

#endif /* CHAN_RING_FAULT_H */
