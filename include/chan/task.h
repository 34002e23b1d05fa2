/* SPDX-License-Identifier: MIT */
/*
 * chan/task.h - goroutines (chan_go) and wait groups.
 *
 * chan_go() runs a function concurrently, on a pool of threads that grows
 * whenever every thread is busy or blocked (so a task that blocks on a
 * channel never keeps another task from starting), reuses idle threads, and
 * lets a thread exit after it has been idle for a while. Threads get small
 * stacks (256 KiB by default; see chan_go_configure()).
 *
 * A wait group counts outstanding work, like Go's sync.WaitGroup:
 *
 *	chan_wg_t wg;
 *	chan_wg_init(&wg);
 *	for (int i = 0; i < n; i++) {
 *		chan_wg_add(&wg, 1);
 *		chan_go(work, &args[i]);	// work() ends with chan_wg_done(&wg)
 *	}
 *	chan_wg_wait(&wg);
 */
#ifndef CHAN_TASK_H
#define CHAN_TASK_H

#include <stddef.h>
#include <stdint.h>

#include <chan/api.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * chan_go() - run fn(arg) concurrently ("go fn(arg)").
 * @fn:  the task; it runs on a pool thread, and may block.
 * @arg: passed to @fn; owned by the caller's protocol.
 *
 * Concurrency: thread-safe; may be called from tasks. The call happens-before
 * the task starts. Tasks really run concurrently: a thousand tasks blocked
 * at once all make progress, as the pool starts a thread for a task whenever
 * no idle thread is waiting.
 *
 * Return: 0, or
 *   -EINVAL  @fn is NULL;
 *   -EAGAIN  no idle thread and a new one could not be created (the
 *            system's thread or memory limits); the task was not started;
 *   -ENOMEM  out of memory; the task was not started.
 */
CHAN_API int chan_go(void (*fn)(void *), void *arg);

/**
 * struct chan_go_opts - pool settings; zeroed fields keep the current value.
 * @stack_size: bytes of stack for threads started from now on (>= 16 KiB;
 *              rounded up to the page size by the system). Default 256 KiB.
 * @idle_ns:    how long an idle thread waits for a task before it exits.
 *              Default 2 s.
 */
typedef struct chan_go_opts {
	size_t stack_size;
	int64_t idle_ns;
} chan_go_opts_t;

/**
 * chan_go_configure() - change the pool settings (thread-safe; affects
 * threads started, and idle waits begun, after the call).
 * Return: 0, or -EINVAL (@opts NULL, stack_size below 16 KiB, idle_ns < 0).
 */
CHAN_API int chan_go_configure(const chan_go_opts_t *opts);

/**
 * chan_wg_t - a wait group. A complete type, declared by value and set up
 * with chan_wg_init() (or CHAN_WG_INIT); its fields are private. It may be
 * reused (a new chan_wg_add()), or go out of scope, once EVERY chan_wg_wait()
 * on it has returned and no chan_wg_add()/chan_wg_done() is in progress;
 * an add from zero while a waiter of the previous round has not yet
 * returned aborts, as Go panics.
 */
#ifdef __cplusplus
typedef struct chan_wg {
	alignas(8) uint64_t state; /* private; the same layout as the C type */
	uint32_t futex;
} chan_wg_t;
#else
typedef struct chan_wg {
	_Atomic uint64_t state; /* private: counter << 32 | sleeping waiters */
	_Atomic uint32_t futex; /* private: generation; sleepers wait on it */
} chan_wg_t;
#endif

#define CHAN_WG_INIT { 0, 0 }

/** chan_wg_init() - set the counter to zero. Not thread-safe (it is a constructor). */
CHAN_API void chan_wg_init(chan_wg_t *wg);

/**
 * chan_wg_add() - add @n (may be negative) to the counter. When it reaches
 * zero every chan_wg_wait() returns. A counter that would go below zero, or
 * above INT32_MAX, is a programming error: chan prints where and aborts
 * (Go panics). Thread-safe; lock-free (a CAS loop), and makes a system call
 * only when it takes the counter to zero while waiters sleep.
 */
CHAN_API void chan_wg_add(chan_wg_t *wg, int n);

/**
 * chan_wg_done() - chan_wg_add(wg, -1). Happens-before the return of every
 * chan_wg_wait() that it releases.
 */
CHAN_API void chan_wg_done(chan_wg_t *wg);

/** chan_wg_wait() - block until the counter is zero (at once if it is). */
CHAN_API void chan_wg_wait(chan_wg_t *wg);

#ifdef __cplusplus
}
#endif

#endif /* CHAN_TASK_H */
