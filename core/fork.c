/* SPDX-License-Identifier: MIT */
/*
 * core/fork.c - the pthread_atfork() handlers (see fork_pvt.h).
 *
 * A child of fork() has one thread: the one that forked. The threads chan
 * started (the timer service, pool workers) are gone, but the records that
 * describe them were copied: a pool that believes it has idle workers hands
 * tasks to nobody, and a timer service that believes it runs fires nothing.
 * The prepare handlers take the pool and timer locks (after letting a
 * running timer callback finish), so the child inherits consistent state;
 * the child handlers then forget the threads that are gone and restart the
 * timer service if timers are armed. What stays unsafe is documented in
 * include/chan/chan.h ("fork()").
 *
 * Invariant: registered is set only after pthread_atfork() succeeded.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "fork_pvt.h"
#include "lock_pvt.h"
#include "sched_pvt.h"

static _Atomic bool registered;
static struct chan__lock register_lock = { 0 };

static void prepare(void)
{
	chan__timer_fork_prepare();
	chan__pool_fork_prepare();
	chan__sched_fork_prepare();
}

static void parent(void)
{
	chan__sched_fork_parent();
	chan__pool_fork_parent();
	chan__timer_fork_parent();
}

static void child(void)
{
	chan__sched_fork_child();
	chan__pool_fork_child();
	chan__timer_fork_child();
}

void chan__fork_register(void)
{
	/* Acquire: pairs with the release store below; a thread that sees
	 * true knows the handlers are in place. */
	if (chan__likely(atomic_load_explicit(&registered, memory_order_acquire)))
		return;
	chan__lock_acquire(&register_lock);
	/* Relaxed: under the lock that orders the stores. */
	if (!atomic_load_explicit(&registered, memory_order_relaxed) &&
	    pthread_atfork(prepare, parent, child) == 0)
		/* Release: pairs with the acquire load above. */
		atomic_store_explicit(&registered, true, memory_order_release);
	chan__lock_release(&register_lock);
}
