/* SPDX-License-Identifier: MIT */
/*
 * core/select.c - Go's select over chan's channels.
 *
 * The algorithm is Go's selectgo (runtime/select.go) with a lock-free first
 * pass, so that a select whose cases are ready never takes a lock it does
 * not need:
 *
 *   pass 1  in a random order, try each case without queueing
 *           (chan__try_case); the first that goes through fires. Random
 *           order makes the choice among ready cases uniform.
 *   pass 2  lock every involved channel, in address order (no deadlock with
 *           another select; a plain operation holds one lock only). Under the
 *           locks, pair each unbuffered case with a waiting partner if one
 *           came meanwhile; otherwise queue one entry per case, in the same
 *           random order, all pointing to one waiter. Unlock.
 *   re-check  buffered cases, with the seq_cst loads of the eventcount
 *           protocol (core/waitq_pvt.h): if one may be ready, withdraw
 *           (abort the waiter) and start over.
 *   park    until a channel claims the waiter through one of the entries
 *           (the CAS on the waiter's sel word lets exactly one case win),
 *           or the deadline passes (then abort; if the abort loses, a claim
 *           won and we take it).
 *   finish  unqueue the other entries. An unbuffered claim has already done
 *           the operation (the partner copied the value); a buffered claim
 *           means "retry this case", and if another thread took the value
 *           first, the select starts over.
 *
 * Why no case is lost: unbuffered cases are paired or queued inside one
 * critical section per channel, exactly as a plain send or receive is, so a
 * partner either sees the entry or was seen under the lock. Buffered cases
 * follow the eventcount proof of plain waits. A select never claims another
 * waiter while its own entries are queued, so two selects cannot claim each
 * other crosswise.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <chan/clock.h>
#include <chan/select.h>

#include "chan_pvt.h"
#include "clock_pvt.h"
#include "debug_pvt.h"
#include "park_pvt.h"
#include "../ring/fault.h"

#define SELECT_STACK_CASES 16

/* Per-thread xorshift64*: cheap, and good enough to shuffle cases. */
static _Thread_local uint64_t rng_state;

static uint32_t fastrand(void)
{
	uint64_t x = rng_state;

	if (chan__unlikely(x == 0))
		x = (uint64_t)chan_now() ^ (uint64_t)(uintptr_t)&rng_state ^ 0x9e3779b97f4a7c15ull;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return (uint32_t)((x * 0x2545f4914f6cdd1dull) >> 32);
}

/* Lemire's multiply-shift: uniform enough in [0, n) for n << 2^32. */
static inline uint32_t rand_below(uint32_t n)
{
	return (uint32_t)(((uint64_t)fastrand() * n) >> 32);
}

struct sel {
	chan_case_t *cases;
	size_t n;
	uint32_t *order;	   /* active case indices, reshuffled by each try_all() */
	size_t nactive;
	chan_t **locks;		   /* distinct channels, ascending address */
	size_t nlocks;
	bool sorted;		   /* locks sorted and deduplicated yet */
	uint64_t *vers;		   /* by case index: versions for the double collect */
	struct chan__wentry *entries; /* one per case, by case index */
};

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t) * (chan_t *const *)a, y = (uintptr_t) * (chan_t *const *)b;

	return (x > y) - (x < y);
}

static void lock_all(struct sel *s)
{
	if (!s->sorted) {
		/* Only selects that must queue pay for the sort. */
		size_t u = 1;

		qsort(s->locks, s->nlocks, sizeof(s->locks[0]), cmp_ptr);
		for (size_t i = 1; i < s->nlocks; i++)
			if (s->locks[i] != s->locks[u - 1])
				s->locks[u++] = s->locks[i];
		s->nlocks = u;
		s->sorted = true;
	}
	for (size_t i = 0; i < s->nlocks; i++)
		chan__lock_acquire(&s->locks[i]->lock);
}

static void unlock_all(struct sel *s)
{
	for (size_t i = s->nlocks; i-- > 0;)
		chan__lock_release(&s->locks[i]->lock);
}

static void unqueue_all(struct sel *s)
{
	for (size_t k = 0; k < s->nactive; k++) {
		uint32_t i = s->order[k];
		chan_t *c = s->cases[i].chan;

		chan__lock_acquire(&c->lock);
		chan__waitq_remove(chan__waitq_of(c, s->cases[i].op), &s->entries[i]);
		chan__lock_release(&c->lock);
	}
}

/*
 * Pass 1: the first ready case in a fresh random order, or -EAGAIN.
 *
 * The order is shuffled as the pass goes (Fisher-Yates, one position at a
 * time): step k swaps a uniformly chosen one of positions k..nactive-1 into
 * position k and tries it. Whatever order the previous round left, the
 * prefix looked at so far is that of a uniformly random permutation, so the
 * first ready case found is uniform among the ready ones, as with a full
 * shuffle up front; a pass whose first try fires draws one random number
 * instead of nactive - 1. A pass that fails has shuffled every position,
 * which is the random order queue_and_wait() queues in.
 */
static int try_all(struct sel *s)
{
	for (size_t k = 0; k < s->nactive; k++) {
		uint32_t j = (uint32_t)k + rand_below((uint32_t)(s->nactive - k));
		uint32_t i = s->order[j];
		chan_case_t *cs = &s->cases[i];
		int r;

		s->order[j] = s->order[k];
		s->order[k] = i;
		r = chan__try_case(cs->chan, cs->op, cs->elem);
		if (r == 0 || r == -EPIPE) {
			cs->err = r;
			return (int)i;
		}
		if (r != -EAGAIN)
			return r; /* -ENOMEM */
	}
	return -EAGAIN;
}

/*
 * The double collect compares each case's version with the one recorded for
 * the same case: versions are stored by case index, never by position in
 * the shuffled order (which changes between the two collects).
 */
static void collect(struct sel *s)
{
	for (size_t k = 0; k < s->nactive; k++) {
		uint32_t i = s->order[k];

		s->vers[i] = chan__case_version(s->cases[i].chan, s->cases[i].op);
	}
}

static bool unchanged(struct sel *s)
{
	for (size_t k = 0; k < s->nactive; k++) {
		uint32_t i = s->order[k];

		if (s->vers[i] != chan__case_version(s->cases[i].chan, s->cases[i].op))
			return false;
	}
	return true;
}

/*
 * Pass 1 with a guarantee: return -EAGAIN only if at one instant no case
 * was ready. One pass looks at the cases one after another, so with two
 * cases a value can move from the one not yet looked at to the one already
 * passed (Go's TestNonblockSelectRace). So after a failed pass, collect
 * every case's version, try again, and accept "nothing ready" only if no
 * version moved meanwhile (a double collect). Lock-free: a retry means some
 * other operation on these channels completed.
 */
static int try_all_stable(struct sel *s)
{
	int r = try_all(s);

	if (r != -EAGAIN || s->nactive < 2)
		return r;
	for (;;) {
		collect(s);
		r = try_all(s);
		if (r != -EAGAIN || unchanged(s))
			return r;
	}
}

/*
 * Pass 2 and the wait. Return the index that fired, -EAGAIN to start over,
 * or -ETIMEDOUT.
 *
 * The waiter is a local here, not in struct sel, and this function is kept
 * out of line: a waiter is cache-line aligned (core/park_pvt.h), and in
 * select_impl()'s frame it cost every select that fires in pass 1 an
 * aligned frame and a larger zeroed struct (select_shared, T=1: 80 -> 102
 * ns per select).
 */
static __attribute__((noinline)) int queue_and_wait(struct sel *s, int64_t deadline)
{
	struct chan__waiter w;
	struct chan__wentry *peer, *e;
	uint32_t i;
	int r;

	chan__waiter_init(&w);
	lock_all(s);
	for (size_t k = 0; k < s->nactive; k++) {
		chan_case_t *cs = &s->cases[s->order[k]];

		if (cs->chan->kind != CHAN_KIND_UNBUFFERED)
			continue;
		r = chan__pair_locked(cs->chan, cs->op, cs->elem, &peer);
		if (r != -EAGAIN) {
			unlock_all(s);
			if (r == 0)
				chan__unpark(peer->w);
			cs->err = r;
			return (int)s->order[k];
		}
	}
	for (size_t k = 0; k < s->nactive; k++) {
		i = s->order[k];
		chan__wentry_init(&s->entries[i], &w, s->cases[i].elem, i);
		chan__waitq_push(chan__waitq_of(s->cases[i].chan, s->cases[i].op),
				 &s->entries[i]);
	}
	unlock_all(s);

	/* Re-check the buffered cases (the eventcount's second step). */
	for (size_t k = 0; k < s->nactive; k++) {
		chan_case_t *cs = &s->cases[s->order[k]];

		if (cs->chan->kind != CHAN_KIND_UNBUFFERED && chan__ready(cs->chan, cs->op)) {
			if (chan__waiter_abort(&w)) {
				unqueue_all(s);
				return -EAGAIN;
			}
			break; /* claimed meanwhile: take that */
		}
	}
	CHAN__DEBUG_WINDOW("select: queued and re-checked, before parking");
	if (chan__park_withdraw(&w, NULL, deadline) < 0) {
		unqueue_all(s);
		return -ETIMEDOUT;
	}
	e = (struct chan__wentry *)chan__waiter_selected(&w);
	i = e->index;
	unqueue_all(s); /* the claimer already unlinked e */
	if (s->cases[i].chan->kind == CHAN_KIND_UNBUFFERED) {
		s->cases[i].err = e->err; /* done by the partner, or -EPIPE */
		return (int)i;
	}
	/* Buffered: we were woken to retry this case. */
	r = chan__try_case(s->cases[i].chan, s->cases[i].op, s->cases[i].elem);
	if (r == 0 || r == -EPIPE) {
		s->cases[i].err = r;
		return (int)i;
	}
	return r == -EAGAIN ? -EAGAIN : r;
}

/*
 * No active case: nothing can ever fire. chan_select() reports that
 * (Go would block forever); the others wait out their deadline, even an
 * endless one, since a timeout must never end early. Out of line for the
 * reason given at queue_and_wait(): its waiter is cache-line aligned.
 */
static __attribute__((noinline)) int select_nothing(int64_t deadline, int busy_err)
{
	struct chan__waiter w;

	if (busy_err == -EINVAL)
		return -EINVAL;
	if (deadline == 0)
		return busy_err;
	chan__waiter_init(&w);
	while (chan__park(&w, deadline) == 0) /* nobody can claim w */
		;
	return -ETIMEDOUT;
}

static int select_impl(chan_case_t *cases, size_t n, int64_t deadline, int busy_err)
{
	uint32_t order_buf[SELECT_STACK_CASES];
	uint64_t vers_buf[SELECT_STACK_CASES];
	chan_t *locks_buf[SELECT_STACK_CASES];
	struct chan__wentry entries_buf[SELECT_STACK_CASES];
	struct sel s = { .cases = cases, .n = n };
	void *heap = NULL;
	int r;

	if (n > 0 && !cases)
		return -EINVAL;
	if (n > UINT32_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (cases[i].op != CHAN_OP_SEND && cases[i].op != CHAN_OP_RECV)
			return -EINVAL;
		if (cases[i].chan && cases[i].op == CHAN_OP_SEND && !cases[i].elem)
			return -EINVAL;
	}
	if (n <= SELECT_STACK_CASES) {
		s.order = order_buf;
		s.vers = vers_buf;
		s.locks = locks_buf;
		s.entries = entries_buf;
	} else {
		size_t bytes = n * (sizeof(*s.entries) + sizeof(uint64_t) + sizeof(chan_t *) +
				    sizeof(uint32_t));

		heap = chan__malloc(bytes);
		if (!heap)
			return -ENOMEM;
		s.entries = heap;
		s.vers = (uint64_t *)(s.entries + n);
		s.locks = (chan_t **)(s.vers + n);
		s.order = (uint32_t *)(s.locks + n);
	}
	size_t nactive = 0;

	for (size_t i = 0; i < n; i++) {
		if (cases[i].chan) {
			s.order[nactive] = (uint32_t)i;
			s.locks[nactive++] = cases[i].chan;
		}
	}
	s.nactive = s.nlocks = nactive;
	if (nactive == 0) {
		r = select_nothing(deadline, busy_err);
		goto out;
	}
	for (;;) {
		r = try_all_stable(&s);
		if (r != -EAGAIN)
			break;
		if (deadline == 0) {
			r = busy_err;
			break;
		}
		if (deadline != CHAN__FOREVER && chan_now() >= deadline) {
			r = -ETIMEDOUT;
			break;
		}
		CHAN__DEBUG_WINDOW("select: lock-free pass failed, before the locked pass");
		r = queue_and_wait(&s, deadline);
		if (r != -EAGAIN)
			break;
	}
out:
	if (heap)
		free(heap);
	return r;
}

int chan_select(chan_case_t *cases, size_t n)
{
	return select_impl(cases, n, CHAN__FOREVER, -EINVAL);
}

int chan_try_select(chan_case_t *cases, size_t n)
{
	return select_impl(cases, n, 0, -EAGAIN);
}

int chan_select_timeout(chan_case_t *cases, size_t n, int64_t timeout_ns)
{
	return select_impl(cases, n, chan__deadline(timeout_ns), -ETIMEDOUT);
}
