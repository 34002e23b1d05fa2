/* SPDX-License-Identifier: MIT */
/*
 * ring/compiler.h - compiler helpers shared by every layer (private).
 *
 * The lowest layer owns these so that ring/ depends on nothing of ours.
 */
#ifndef CHAN_RING_COMPILER_H
#define CHAN_RING_COMPILER_H

#include <stddef.h>

/*
 * Padding unit for hot words. 128, not 64: x86 cores prefetch cache lines in
 * adjacent pairs, so two words 64 bytes apart still ping-pong (crossbeam's
 * CachePadded and DPDK's RTE_CACHE_GUARD make the same choice).
 */
#define CHAN_CACHELINE 128

#define chan__likely(x)   __builtin_expect(!!(x), 1)
#define chan__unlikely(x) __builtin_expect(!!(x), 0)

#ifdef __has_feature
#define CHAN__HAS_FEATURE(x) __has_feature(x)
#else
#define CHAN__HAS_FEATURE(x) 0
#endif

#if defined(__SANITIZE_THREAD__) || CHAN__HAS_FEATURE(thread_sanitizer)
#define CHAN__TSAN 1
#else
#define CHAN__TSAN 0
#endif

/*
 * Thread-locals read on every goroutine switch: the initial-exec model (a
 * fixed offset from the thread pointer) instead of the general-dynamic one
 * that -fPIC picks (a __tls_get_addr() call per access). Costs a few bytes of
 * the static TLS surplus when libchan.so is dlopen()ed, which glibc keeps for
 * this; used for a handful of words only.
 */
#define CHAN__TLS_IE __attribute__((tls_model("initial-exec")))

/* A spin-wait hint: lets the sibling hyperthread run, saves power. */
static inline void chan__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__) && defined(__clang__)
	__builtin_arm_yield();
#endif
}

#endif /* CHAN_RING_COMPILER_H */
