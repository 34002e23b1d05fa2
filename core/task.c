/* SPDX-License-Identifier: MIT */
/*
 * core/task.c - chan_go(): a pool of threads that grows on demand.
 *
 * A task goes to an idle worker if one is waiting, and otherwise to a new
 * thread: there is no queue a task could wait in behind blocked tasks, so a
 * task blocked on a channel never keeps another from starting (10,000 tasks
 * each waiting for the next one in a chain all run). After its task a
 * worker waits for another one (parked, see core/park_pvt.h) for idle_ns,
 * then exits. This is the thread mode (CHAN_GO_THREADS) and the blocking
 * pool (chan_go_blocking()); the default mode runs tasks as goroutines on
 * the M:N scheduler (core/sched.c), and chan_go() picks one per call.
 *
 * Invariants (pool lock): a worker is on the idle list iff ->idle; a worker
 * leaves the list either popped by chan_go() (which then claims its waiter)
 * or by itself after its idle wait timed out and it won the abort. chan_go()
 * claims under the lock, so a worker that lost the race cannot exit (and
 * take its stack, where its record lives) before chan_go() is done with it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <chan/clock.h>
#include <chan/task.h>

#include "clock_pvt.h"
#include "dlist_pvt.h"
#include "fork_pvt.h"
#include "lock_pvt.h"
#include "park_pvt.h"
#include "sched_pvt.h"
#include "../ring/fault.h"

#define STACK_DEFAULT (256 * 1024)
#define STACK_MIN     (16 * 1024)
#define IDLE_DEFAULT  2000000000LL

struct worker {
	struct chan__waiter w;
	void (*fn)(void *);
	void *arg;
	struct chan__dlink link; /* idle list, under the pool lock */
	bool idle;
};

struct start {
	void (*fn)(void *);
	void *arg;
};

static struct {
	struct chan__lock lock;
	struct chan__dlist idle; /* of worker.link; most recently idle first: warm cache */
	size_t stack_size;   /* under the lock; 0: default */
	int64_t idle_ns;     /* under the lock; 0: default */
} pool;

static void idle_push(struct worker *me)
{
	chan__dlist_push_front(&pool.idle, &me->link);
	me->idle = true;
}

static void idle_unlink(struct worker *me)
{
	chan__dlist_unlink(&pool.idle, &me->link);
	me->idle = false;
}

static void *worker_main(void *arg)
{
	struct start *st = arg;
	struct worker me = { .fn = st->fn, .arg = st->arg };

	free(st);
	for (;;) {
		int64_t idle_ns;

		me.fn(me.arg);
		chan__waiter_init(&me.w);
		chan__lock_acquire(&pool.lock);
		idle_ns = pool.idle_ns ? pool.idle_ns : IDLE_DEFAULT;
		idle_push(&me);
		chan__lock_release(&pool.lock);
		if (chan__park_withdraw(&me.w, NULL, chan__deadline(idle_ns)) < 0) {
			chan__lock_acquire(&pool.lock);
			if (me.idle)
				idle_unlink(&me);
			chan__lock_release(&pool.lock);
			return NULL;
		}
		/* Claimed (maybe as we timed out): me.fn/me.arg were written
		 * before the claim's unpark (release), which our park acquired. */
	}
}

static int spawn(void (*fn)(void *), void *arg)
{
	struct start *st = chan__malloc(sizeof(*st));
	pthread_attr_t attr;
	pthread_t tid;
	size_t stack;
	int r;

	if (!st)
		return -ENOMEM;
	st->fn = fn;
	st->arg = arg;
	chan__fork_register(); /* before our first thread exists */
	chan__lock_acquire(&pool.lock);
	stack = pool.stack_size ? pool.stack_size : STACK_DEFAULT;
	chan__lock_release(&pool.lock);
	if (pthread_attr_init(&attr) != 0) {
		free(st);
		return -ENOMEM;
	}
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, stack);
	r = chan__fault_hit(CHAN__FAULT_THREAD) ? EAGAIN
						     : pthread_create(&tid, &attr, worker_main, st);
	pthread_attr_destroy(&attr);
	if (r != 0) {
		free(st);
		return r == ENOMEM ? -ENOMEM : -EAGAIN;
	}
	return 0;
}

static int pool_go(void (*fn)(void *), void *arg)
{
	struct worker *w;

	chan__lock_acquire(&pool.lock);
	while (pool.idle.first) {
		w = chan__container_of(pool.idle.first, struct worker, link);
		idle_unlink(w);
		if (chan__waiter_claim(&w->w, (uintptr_t)w)) {
			w->fn = fn;
			w->arg = arg;
			chan__lock_release(&pool.lock);
			chan__unpark(&w->w);
			return 0;
		}
		/* It timed out and is leaving; try the next one. */
	}
	chan__lock_release(&pool.lock);
	return spawn(fn, arg);
}

/* The mode for new tasks: 0 until chosen (configure or CHAN_GO_MODE). */
static _Atomic unsigned go_mode;

static unsigned mode_now(void)
{
	/* Relaxed: a setting; the task's own hand-off orders what it reads. */
	unsigned m = atomic_load_explicit(&go_mode, memory_order_relaxed);

	if (chan__likely(m))
		return m;
	{
		const char *env = getenv("CHAN_GO_MODE");
		unsigned want = env && strcmp(env, "threads") == 0 ? CHAN_GO_THREADS
								   : CHAN_GO_FIBERS;
		unsigned zero = 0;

		/* Relaxed: first one wins, a configure() may have come first. */
		atomic_compare_exchange_strong_explicit(&go_mode, &zero, want,
							memory_order_relaxed, memory_order_relaxed);
		return atomic_load_explicit(&go_mode, memory_order_relaxed);
	}
}

int chan_go(void (*fn)(void *), void *arg)
{
	if (!fn)
		return -EINVAL;
	if (mode_now() == CHAN_GO_FIBERS)
		return chan__sched_go(fn, arg);
	return pool_go(fn, arg);
}

int chan_go_blocking(void (*fn)(void *), void *arg)
{
	if (!fn)
		return -EINVAL;
	return pool_go(fn, arg);
}

/* ---- fork() (see core/fork.c) ---------------------------------------- */

void chan__pool_fork_prepare(void)
{
	chan__lock_acquire(&pool.lock); /* no idle list half updated at fork */
}

void chan__pool_fork_parent(void)
{
	chan__lock_release(&pool.lock);
}

void chan__pool_fork_child(void)
{
	/* The idle workers' threads did not come along: their records (on
	 * their stacks, copied into the child) must never be handed a task.
	 * The settings stay. We hold the lock taken in prepare: a fresh one. */
	chan__dlist_init(&pool.idle);
	chan__lock_init(&pool.lock);
}

int chan_go_configure(const chan_go_opts_t *o)
{
	if (!o || (o->stack_size && o->stack_size < STACK_MIN) || o->idle_ns < 0 ||
	    o->mode > CHAN_GO_THREADS)
		return -EINVAL;
	chan__lock_acquire(&pool.lock);
	if (o->stack_size)
		pool.stack_size = o->stack_size;
	if (o->idle_ns)
		pool.idle_ns = o->idle_ns;
	chan__lock_release(&pool.lock);
	if (o->mode)
		/* Relaxed: see mode_now(). */
		atomic_store_explicit(&go_mode, o->mode, memory_order_relaxed);
	return chan__sched_configure(o->workers, o->stack_size);
}
