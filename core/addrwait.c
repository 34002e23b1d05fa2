/* SPDX-License-Identifier: MIT */
/*
 * core/addrwait.c - chan__addr_wait() and chan__addr_wake_all() (see the
 * header): futex for threads, a parking lot for goroutines.
 *
 * The lot: BUCKETS buckets, each a lock and a list of entries {addr,
 * waiter}. Invariant: an entry is in the bucket of its address while its
 * goroutine waits and nobody has claimed it; the claimer unlinks it.
 *
 * No lost wakeup: a goroutine compares *addr with val under the bucket lock
 * and queues itself before it unlocks; the waker changed *addr before it
 * takes the same lock. If the waker's lock comes first, the goroutine's
 * later compare sees the new value (the lock orders it) and does not wait;
 * otherwise the waker finds the entry. The waker claims every entry of its
 * address under the lock and unparks them after (the records live on the
 * goroutines' stacks until their unpark).
 *
 * Threads sleep on the futex itself, counted in their bucket's os_sleepers,
 * so that a wake with no thread asleep makes no futex call (a wait group
 * released to a goroutine, the common case, is then syscall-free). No lost
 * wakeup, by Dekker on seq_cst operations (S their total order): the
 * thread increments os_sleepers (T1), then loads *addr (T2) and sleeps only
 * if it still holds val; the waker changed *addr with a seq_cst operation
 * (W1: the caller's contract) before it loads os_sleepers (W2). If W2 reads
 * 0, T1 follows W2 in S, so T2 follows W1 and sees the change: the thread
 * does not sleep. Otherwise the waker calls futex_wake, and the kernel
 * orders that against the thread's futex_wait (which rechecks *addr).
 */
#include <limits.h>
#include <stdbool.h>

#include <chan/clock.h>

#include "addrwait_pvt.h"
#include "clock_pvt.h"
#include "dlist_pvt.h"
#include "futex_pvt.h"
#include "lock_pvt.h"
#include "park_pvt.h"

#define BUCKETS 64

struct entry {
	struct chan__dlink link;
	_Atomic uint32_t *addr;
	struct chan__waiter w;
};

static struct bucket {
	struct chan__lock lock;
	struct chan__dlist waiters; /* of entry.link, under lock */
	_Atomic uint32_t os_sleepers; /* threads in chan__addr_wait() on this bucket */
} lot[BUCKETS];

static struct bucket *bucket_of(_Atomic uint32_t *addr)
{
	uintptr_t a = (uintptr_t)addr;

	return &lot[((a >> 2) ^ (a >> 9)) % BUCKETS];
}

void chan__addr_wait(_Atomic uint32_t *addr, uint32_t val)
{
	struct bucket *b;
	struct entry e;

	b = bucket_of(addr);
	if (!chan__sched_self()) {
		/* Seq_cst, T1 and T2 of the proof above: pair with W1 and W2. */
		atomic_fetch_add_explicit(&b->os_sleepers, 1, memory_order_seq_cst);
		if (atomic_load_explicit(addr, memory_order_seq_cst) == val)
			chan__futex_wait(addr, val, CHAN__FOREVER);
		/* Seq_cst, not relaxed: C17's wording (7.17.3p6) lets W2 read a
		 * relaxed write that precedes T1 in the count's modification
		 * order, i.e. another sleeper's decrement to 0 from before our
		 * increment; with every write seq_cst W2 reads T1 or later
		 * (C++20's P0668 rules forbid that outcome anyway; on x86 it is
		 * the same lock xadd). A wake that still sees us after this
		 * makes one futex call too many, no more. */
		atomic_fetch_sub_explicit(&b->os_sleepers, 1, memory_order_seq_cst);
		return;
	}
	e.addr = addr;
	chan__waiter_init(&e.w);
	chan__lock_acquire(&b->lock);
	/* Acquire: pairs with the waker's release change of *addr. */
	if (atomic_load_explicit(addr, memory_order_acquire) != val) {
		chan__lock_release(&b->lock);
		return;
	}
	chan__dlist_push_back(&b->waiters, &e.link);
	chan__lock_release(&b->lock);
	/* Nobody else claims e.w: only the waker, who unlinked it. */
	chan__park(&e.w, CHAN__FOREVER);
}

void chan__addr_wake_all(_Atomic uint32_t *addr)
{
	struct bucket *b = bucket_of(addr);
	struct chan__dlink *l, *next, *claimed = NULL;

	/* Seq_cst, W2 of the proof above: pairs with T1. */
	if (atomic_load_explicit(&b->os_sleepers, memory_order_seq_cst) != 0)
		chan__futex_wake(addr, INT_MAX);
	chan__lock_acquire(&b->lock);
	for (l = b->waiters.first; l; l = next) {
		struct entry *e = chan__container_of(l, struct entry, link);

		next = l->next;
		if (e->addr != addr)
			continue;
		chan__dlist_unlink(&b->waiters, l);
		chan__waiter_claim(&e->w, (uintptr_t)e);
		l->next = claimed; /* reuse the link for our private list */
		claimed = l;
	}
	chan__lock_release(&b->lock);
	while (claimed) {
		struct entry *e = chan__container_of(claimed, struct entry, link);

		claimed = claimed->next;
		chan__unpark(&e->w); /* our last access to e */
	}
}
