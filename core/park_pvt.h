/* SPDX-License-Identifier: MIT */
/*
 * core/park_pvt.h - waiters: how a blocked thread sleeps and is woken
 * (private).
 *
 * This is the narrow interface DESIGN.md asks for, so that an M:N scheduler
 * can later replace threads with fibers: a waiter record, chan__park() and
 * chan__unpark(), and the one-shot "selection" word that decides who
 * completes a waiter.
 *
 * A waiter has two words:
 *   sel    who completes this wait: CHAN__SEL_WAITING until someone wins
 *          the CAS, then either CHAN__SEL_ABORTED (the waiter gave up itself:
 *          timeout, or a re-check found its operation ready) or the address
 *          of the queue entry through which a channel completed it. A select
 *          registers one entry per case; the first channel to claim it wins,
 *          the others see the CAS fail and skip it (Go's selectDone).
 *   futex  PARK_IDLE, PARK_SLEEPING (in or about to enter futex_wait) or
 *          PARK_NOTIFIED. Exactly one chan__unpark() follows each successful
 *          claim, and the waiter always consumes it before the record may
 *          go out of scope, so the record can live on the waiter's stack.
 *
 * Protocol (per wait):
 *   waiter: init, enqueue entries, re-check, chan__park()
 *           on timeout: chan__waiter_abort(); if that fails it was claimed
 *           meanwhile, and it parks again (without deadline) for the unpark
 *           that must follow.
 *   waker:  chan__waiter_claim() -> fill in the entry (data, err)
 *           -> chan__unpark(). The unpark is the waker's last access to the
 *           waiter; the waiter may return (and its stack go) right after.
 *
 * Two kinds of waiter, one protocol: a thread sleeps on the futex word, a
 * goroutine (fiber) switches out and is made runnable again by the
 * scheduler (core/park.c has the fiber half and its no-lost-wakeup proof).
 *
 * No lost wakeup (threads): unpark sets NOTIFIED with an exchange; if the old value
 * was SLEEPING it calls futex_wake. The waiter moves IDLE -> SLEEPING with a
 * CAS before futex_wait(SLEEPING): if NOTIFIED came first the CAS fails and
 * it does not sleep; if it came after, futex_wait sees the word changed, or
 * the wake finds the sleeper. EINTR and spurious returns re-read the word.
 */
#ifndef CHAN_CORE_PARK_PVT_H
#define CHAN_CORE_PARK_PVT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "sched_pvt.h"

#define CHAN__SEL_WAITING ((uintptr_t)0)
#define CHAN__SEL_ABORTED ((uintptr_t)1)

enum {
	PARK_IDLE = 0,
	PARK_SLEEPING = 1,	/* a thread in futex_wait, or a fiber switched out */
	PARK_NOTIFIED = 2,
	PARK_TIMEDOUT = 3,	/* fibers: the deadline timer fired first */
	PARK_SLEEPING_OS = 4,	/* fibers: asleep in futex_wait (no timer could start) */
};

/*
 * Layout: a spinning waiter reads futex in a loop, while its claimer CASes
 * sel and writes the entry (unlink, value, err) before the exchange on
 * futex. On one cache line every spin read pulled the line back between
 * the claimer's writes, so each write was a transfer; futex on a line of
 * its own (with waker_cpu, written just before the exchange) leaves the
 * claimer one transfer for the wake. Measured (1M messages, T=4, 2 CPUs,
 * medians of 7, interleaved): spsc 0 0.88 -> 0.72 s, mpsc 0 0.88 -> 0.65 s,
 * mpmc 0 0.86 -> 0.64 s; 128-byte alignment measured the same as 64. A
 * waiter lives on its thread's or goroutine's stack (128 bytes), never in
 * a heap object.
 */
struct chan__waiter {
	_Atomic uintptr_t sel;
	struct chan__fiber *fiber; /* the goroutine waiting, NULL for a thread */
	_Alignas(64) _Atomic uint32_t futex;
	int waker_cpu; /* the CPU chan__unpark() ran on: teaches the spin budget */
};

/*
 * chan__waiter_init() - a waiter for the calling thread or goroutine: which
 * of the two it is decides how chan__park() sleeps and chan__unpark() wakes,
 * and nothing else in core/ needs to know (see core/park.c).
 */
static inline void chan__waiter_init(struct chan__waiter *w)
{
	/* Plain init: the record is published to wakers by the queue lock. */
	atomic_init(&w->sel, CHAN__SEL_WAITING);
	atomic_init(&w->futex, PARK_IDLE);
	w->waker_cpu = -1;
	w->fiber = chan__sched_self();
}

/*
 * chan__waiter_claim() - try to become the one who completes @w, through
 * @token (an entry address). Acq_rel: acquires the waiter's entry fields,
 * and orders our later writes to the entry after the win.
 */
static inline bool chan__waiter_claim(struct chan__waiter *w, uintptr_t token)
{
	uintptr_t expect = CHAN__SEL_WAITING;

	return atomic_compare_exchange_strong_explicit(&w->sel, &expect, token,
						       memory_order_acq_rel, memory_order_acquire);
}

/* chan__waiter_abort() - the waiter withdraws; false if it was claimed first. */
static inline bool chan__waiter_abort(struct chan__waiter *w)
{
	return chan__waiter_claim(w, CHAN__SEL_ABORTED);
}

/* chan__waiter_selected() - who claimed @w (acquire: pairs with the claim). */
static inline uintptr_t chan__waiter_selected(struct chan__waiter *w)
{
	return atomic_load_explicit(&w->sel, memory_order_acquire);
}

/*
 * chan__park() - sleep until chan__unpark(@w) or the absolute @deadline
 * (CHAN__FOREVER: none). Spins first for an adaptive, per-thread budget.
 * Return: 0 when unparked (the notification is consumed), -ETIMEDOUT when
 * the deadline passed first (never before it).
 */
int chan__park(struct chan__waiter *w, int64_t deadline);

/*
 * A wait in two steps, for waiters that can poll their condition before
 * they queue (buffered channels): chan__wait_begin(); chan__wait_spin()
 * polls @ready for the spin budget without queueing anything (so the other
 * side's fast path still sees nobody waiting); if that fails, queue and
 * chan__park_wait(), which then sleeps without spinning again. The spin
 * budget learns from the whole wait, from chan__wait_begin() on.
 */
struct chan__wait {
	int64_t start;
	int32_t budget;
	int cpu;
	bool spun;
};

void chan__wait_begin(struct chan__wait *wt);
bool chan__wait_spin(struct chan__wait *wt, bool (*ready)(void *), void *arg, int64_t deadline);
int chan__park_wait(struct chan__waiter *w, struct chan__wait *wt, int64_t deadline);

/*
 * chan__park_withdraw() - the waiting half of every blocking protocol: park
 * until a claimer completes @w, or until @deadline; then withdraw with
 * chan__waiter_abort(). If the abort loses, a claim won as time ran out,
 * and its unpark must follow: wait for it (without deadline), since the
 * claimer may still be writing the entry and the record lives on our stack.
 * @wt: a wait begun with chan__wait_begin() (its spin already done), or
 * NULL for a fresh one.
 * Return: 0 claimed (the claim's unpark is consumed; the claimer unlinked
 * the claimed entry), -ETIMEDOUT withdrawn (nobody claimed @w and nobody
 * will: the caller unlinks its still queued entries).
 */
int chan__park_withdraw(struct chan__waiter *w, struct chan__wait *wt, int64_t deadline);

/* chan__unpark() - wake @w; release: publishes what the waker wrote. */
void chan__unpark(struct chan__waiter *w);

#endif /* CHAN_CORE_PARK_PVT_H */
