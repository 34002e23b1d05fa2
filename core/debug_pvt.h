/* SPDX-License-Identifier: MIT */
/*
 * core/debug_pvt.h - invariant checks and TSan annotations (private).
 */
#ifndef CHAN_CORE_DEBUG_PVT_H
#define CHAN_CORE_DEBUG_PVT_H

#include "../ring/compiler.h"

/*
 * chan__die() - a broken internal invariant or a misuse we cannot report
 * as an errno (a wait group going negative): print file:line and abort.
 * Never used for conditions a caller can cause through the documented API.
 */
_Noreturn void chan__die(const char *file, int line, const char *what);

#define CHAN__DIE(what) chan__die(__FILE__, __LINE__, (what))
#define CHAN__ASSERT(cond)                                  \
	do {                                                \
		if (chan__unlikely(!(cond)))                \
			CHAN__DIE("assertion failed: " #cond); \
	} while (0)

/*
 * CHAN__DEBUG_WINDOW() - a protocol window (STYLE.md rule 19): a point where
 * another thread's interleaving matters (between queueing a waiter and
 * parking, between a select's lock-free and locked passes, inside close, in
 * the timer service). In a build with -DCHAN_DEBUG_HOOKS (the debug and tsan
 * presets) it calls chan__debug_hook if a test set one: the torture runner
 * injects random yields and short sleeps there. Compiled out otherwise. The
 * hook variable exists in every build, so a test can always set it.
 */
extern void (*chan__debug_hook)(const char *where);
#ifdef CHAN_DEBUG_HOOKS
#define CHAN__DEBUG_WINDOW(where)                 \
	do {                                      \
		if (chan__debug_hook)             \
			chan__debug_hook(where);  \
	} while (0)
#else
#define CHAN__DEBUG_WINDOW(where) ((void)0)
#endif

/* Make hand-offs through uninstrumented code (liburcu, ck) visible to TSan. */
#if CHAN__TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define chan__tsan_release(p) __tsan_release((void *)(p))
#define chan__tsan_acquire(p) __tsan_acquire((void *)(p))
#else
#define chan__tsan_release(p) ((void)(p))
#define chan__tsan_acquire(p) ((void)(p))
#endif

#endif /* CHAN_CORE_DEBUG_PVT_H */
