/* SPDX-License-Identifier: MIT */
/*
 * core/sched_pvt.h - the M:N scheduler (private): goroutines as fibers on
 * worker threads (core/sched.c).
 *
 * Vocabulary (Go's): a fiber is a goroutine (its own guarded stack, see
 * core/stack_pvt.h); a P ("processor", here called a worker slot) is a run
 * queue and the right to run fibers, one per CPU the process may use; an M
 * is a thread that runs fibers while it holds a P. Normally each P is held
 * by one M for good; a thread whose fiber blocks (chan_blocking_begin(), or
 * found stuck by the monitor) gives its P to another M so that the fibers
 * queued behind it keep running.
 *
 * What core/ sees of it is below: who am I (chan__sched_self()), park the
 * current fiber (chan__sched_park()), make a fiber runnable
 * (chan__sched_ready()). core/park.c builds the fiber half of the waiter
 * interface on these three.
 */
#ifndef CHAN_CORE_SCHED_PVT_H
#define CHAN_CORE_SCHED_PVT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct chan__fiber;

/*
 * chan__sched_self() - the fiber the calling code runs on, or NULL on a
 * thread's own stack (any thread that is not running a fiber, including a
 * worker in its scheduler loop). Not inlined, on purpose: a fiber may
 * resume on another thread after any park, so no caller may keep a thread
 * pointer (or a thread-local's address) across one.
 */
struct chan__fiber *chan__sched_self(void);

/*
 * chan__sched_park() - switch the current fiber out. Once its context is
 * saved, @commit(@arg) runs on the same worker, on its own stack or on the
 * stack of the fiber it switched to directly (so @commit must be short and
 * must not block or park): it returns true if
 * the fiber is now parked (from then on a chan__sched_ready() of it may run
 * anywhere), false to resume it at once. Returns when the fiber runs again.
 * Only on a fiber (chan__sched_self() != NULL).
 */
void chan__sched_park(bool (*commit)(void *arg), void *arg);

/*
 * chan__sched_ready() - make the parked fiber @f runnable (exactly once
 * per committed park). From a fiber it goes to the next-to-run slot of the
 * caller's worker (Go's runnext), from anywhere else to the global queue.
 * Thread-safe, async-signal-unsafe.
 */
void chan__sched_ready(struct chan__fiber *f);

/*
 * chan__set_errno() - errno = @e, for the thread we run on *now*. A
 * goroutine may resume on another thread after a park, and the compiler may
 * keep errno's address (glibc's __errno_location() is a const function)
 * from before it: code that sets errno after a possible park calls this
 * out-of-line function instead of assigning errno itself.
 */
void chan__set_errno(int e);

/* chan_go() in fiber mode: 0, -ENOMEM (no stack), -EAGAIN (no worker thread could start). */
int chan__sched_go(void (*fn)(void *), void *arg);

/* chan_go_configure()'s share: 0, -EBUSY (workers changed after start). */
int chan__sched_configure(unsigned workers, size_t stack_size);

/* The fiber id for reports ("goroutine N"); 0 on a thread's own stack. */
uint64_t chan__sched_fiber_id(const struct chan__fiber *f);

/* fork(): core/fork.c calls these (after the pool's). */
void chan__sched_fork_prepare(void);
void chan__sched_fork_parent(void);
void chan__sched_fork_child(void);

#endif /* CHAN_CORE_SCHED_PVT_H */
