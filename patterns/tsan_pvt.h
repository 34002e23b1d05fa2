/* SPDX-License-Identifier: MIT */
/*
 * patterns/tsan_pvt.h - make hand-offs through uninstrumented code (liburcu)
 * visible to ThreadSanitizer (STYLE.md rule 15), for patterns/, which may
 * not include core's private headers: the same macros as core/debug_pvt.h.
 *
 * Debian's liburcu is not built with TSan and synchronises with inline-asm
 * atomics, so TSan cannot see that an RCU grace period orders a reader's
 * accesses before the call_rcu callback that frees what it read. Bracket
 * each such edge: chan__tsan_release(obj) on the side that hands obj over,
 * chan__tsan_acquire(obj) on the side that takes it.
 */
#ifndef CHAN_PATTERNS_TSAN_PVT_H
#define CHAN_PATTERNS_TSAN_PVT_H

#ifdef __has_feature
#define CHAN__PT_HAS_FEATURE(x) __has_feature(x)
#else
#define CHAN__PT_HAS_FEATURE(x) 0
#endif

#if defined(__SANITIZE_THREAD__) || CHAN__PT_HAS_FEATURE(thread_sanitizer)
#define CHAN__PT_TSAN 1
#else
#define CHAN__PT_TSAN 0
#endif

#ifndef chan__tsan_release
#if CHAN__PT_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define chan__tsan_release(p) __tsan_release((void *)(p))
#define chan__tsan_acquire(p) __tsan_acquire((void *)(p))
#else
#define chan__tsan_release(p) ((void)(p))
#define chan__tsan_acquire(p) ((void)(p))
#endif
#endif

#endif /* CHAN_PATTERNS_TSAN_PVT_H */
