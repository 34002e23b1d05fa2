/* SPDX-License-Identifier: MIT */
/*
 * chan/task.h - goroutines (chan_go) and wait groups.
 *
 * chan_go() runs a function concurrently: by default as a goroutine on the
 * M:N scheduler (fibers with small guarded stacks on one worker thread per
 * CPU, parked in user space when they block on a channel), or, in thread
 * mode, on a pool of threads that grows whenever every thread is busy or
 * blocked. See chan_go_configure().
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
 * @fn:  the task; it may block.
 * @arg: passed to @fn; owned by the caller's protocol.
 *
 * In the default mode (CHAN_GO_FIBERS) the task is a goroutine: a fiber on
 * its own guarded stack (64 KiB by default), run by one worker thread per
 * CPU; a channel operation, select, timer or context wait, or wait-group
 * wait that must block parks the fiber, and its worker runs other
 * goroutines meanwhile. In CHAN_GO_THREADS mode each task runs on a thread
 * of a pool that grows whenever every thread is busy or blocked.
 *
 * Concurrency: thread-safe; may be called from tasks. The call
 * happens-before the task starts. Tasks really run concurrently: a thousand
 * tasks blocked at once on channels all make progress, and a goroutine that
 * blocks its worker in an unannotated system call (read(), usleep(),
 * pthread_join()...) or loops on the CPU for more than ~10 ms costs that
 * worker, not the program: a monitor hands the worker's queue to another
 * thread. Wrap long blocking calls in chan_blocking_begin()/_end() so that
 * the hand-over happens at once.
 *
 * Goroutines and threads: a goroutine may resume on another worker thread
 * after any blocking chan call, so thread-local variables (errno included,
 * whose address the compiler may keep across a call), pthread mutexes held
 * across such a call, and thread ids are not stable across one; see the
 * README ("Goroutines and thread-local state").
 *
 * Return: 0, or
 *   -EINVAL  @fn is NULL;
 *   -EAGAIN  no worker or pool thread could be created (the system's thread
 *            or memory limits); the task was not started;
 *   -ENOMEM  out of memory (no stack); the task was not started.
 */
CHAN_API int chan_go(void (*fn)(void *), void *arg);

/** Modes for chan_go_opts_t.mode (0 keeps the current one). */
#define CHAN_GO_FIBERS	1 /* goroutines on the M:N scheduler (the default) */
#define CHAN_GO_THREADS 2 /* one pooled thread per task */

/**
 * struct chan_go_opts - settings; zeroed fields keep the current value.
 * @stack_size: bytes of stack for goroutines (fiber mode; default 64 KiB,
 *              guarded) and pool threads (thread mode; default 256 KiB)
 *              started from now on; >= 16 KiB, rounded up to pages.
 * @idle_ns:    thread mode: how long an idle pool thread waits for a task
 *              before it exits. Default 2 s.
 * @workers:    M:N worker count; default: the CPUs the process may use, or
 *              the environment variable CHAN_PROCS. Fixed once the
 *              scheduler has started (first goroutine).
 * @mode:       CHAN_GO_FIBERS (default; the environment variable
 *              CHAN_GO_MODE=threads changes the default) or CHAN_GO_THREADS.
 *              Applies to tasks started after the call.
 */
typedef struct chan_go_opts {
	size_t stack_size;
	int64_t idle_ns;
	unsigned workers;
	unsigned mode;
} chan_go_opts_t;

/**
 * chan_go_configure() - change the settings (thread-safe; affects tasks
 * started, and idle waits begun, after the call).
 * Return: 0, or -EINVAL (@opts NULL, stack_size below 16 KiB, idle_ns < 0,
 * an unknown mode), -EBUSY (workers differs from the running scheduler's;
 * the other fields were applied).
 */
CHAN_API int chan_go_configure(const chan_go_opts_t *opts);

/**
 * chan_yield() - let other goroutines run (Go's runtime.Gosched): the
 * calling goroutine goes to the back of its worker's queue. On a thread
 * that is not running a goroutine: sched_yield(). Thread-safe.
 */
CHAN_API void chan_yield(void);

/**
 * chan_blocking_begin(), chan_blocking_end() - bracket a long blocking call
 * (a read(), a lock, a sleep) made from a goroutine: begin hands the
 * worker's queue to another thread at once, so the other goroutines keep
 * running; end takes a worker back (or queues the goroutine until one is
 * free). No-ops on a thread that is not running a goroutine, and in thread
 * mode. Pairs must not nest; no chan call that blocks may be made between
 * them (it would work, but would make the bracket pointless).
 */
CHAN_API void chan_blocking_begin(void);
CHAN_API void chan_blocking_end(void);

/**
 * chan_go_blocking() - run fn(arg) on a thread of the blocking pool (Tokio's
 * spawn_blocking): for tasks that block in system calls for most of their
 * life. The pool is the thread-mode pool: it grows on demand, idle threads
 * exit after idle_ns. Return: as chan_go().
 */
CHAN_API int chan_go_blocking(void (*fn)(void *), void *arg);

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
