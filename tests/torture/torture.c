/* SPDX-License-Identifier: MIT */
/*
 * tests/torture/torture.c - randomized torture of the core (issue 10's
 * harness; after liburcu's rcutorture and ConcurrencyKit's validators).
 *
 * Each round builds a random scenario and checks conservation:
 *   - channels of every kind and flavour (unbuffered, capacity 1, small,
 *     1024, unbounded; CHAN_SINGLE_PRODUCER/CONSUMER where the round's
 *     wiring allows it; CHAN_DROP_NEWEST/OLDEST on some bounded ones; 8- and
 *     24-byte elements), each first given a long history of its own, so
 *     selects meet distinct versions;
 *   - producers (pthreads or chan_go tasks) sending with plain, try, timed
 *     and burst sends, and selects over several channels at once;
 *   - consumers receiving with plain, try, timed and burst receives, and
 *     selects over 1..64 cases (duplicates, NULL cases, the round's context
 *     done channel, a chan_after() timer);
 *   - a closer that closes channels early, racing everything, a context
 *     canceled (or timed out) mid-round, wait groups joining the tasks.
 * Invariants, checked on every value: nothing lost (every successful send
 * is received exactly once, by a consumer or by the final drain, or, on a
 * channel with a drop policy, handed to drop() exactly once instead),
 * nothing doubled, nothing invented, chan_dropped() equal to the drop()
 * calls, no failed or timed-out send delivered, FIFO per
 * producer as each consumer sees each channel, elements intact (24-byte
 * elements carry a checksum), and every blocked operation returns (a
 * watchdog aborts a round that does not finish).
 *
 * In a build with CHAN_DEBUG_HOOKS (the debug and tsan presets) the hooks at
 * the protocol windows of ring/ and core/ inject random yields and short
 * sleeps, which widens every race the windows mark.
 *
 * Usage: torture [-s seconds] [-r max_rounds] [-S seed] [-b values per round]
 *                [-w watchdog seconds] [-q]
 * Bounded by time and rounds; exits 0 with a summary, or prints the broken
 * invariant (with the seed to replay it) and aborts.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <chan/chan.h>

#include "core/debug_pvt.h"
#include "ring/slots.h"

#define MS	   1000000LL
#define MAXCH	   16
#define MAXPROD	   8
#define MAXCONS	   8
#define MAXCASES   64

/* ---- randomness: a per-thread xorshift64* ------------------------------ */

static _Thread_local uint64_t rng;

static uint64_t rnd(void)
{
	uint64_t x = rng ? rng : 0x9e3779b97f4a7c15ull;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng = x;
	return x * 0x2545f4914f6cdd1dull;
}

static uint32_t below(uint32_t n)
{
	return (uint32_t)((rnd() >> 32) * n >> 32);
}

static bool chance(uint32_t one_in)
{
	return below(one_in) == 0;
}

/* ---- the protocol-window hooks ------------------------------------------ */

static _Atomic uint64_t hook_hits;

static void perturb(void)
{
	/* Relaxed: a statistic. */
	atomic_fetch_add_explicit(&hook_hits, 1, memory_order_relaxed);
	if (chance(8)) {
		sched_yield();
	} else if (chance(128)) {
		struct timespec ts = { 0, (long)(1000 + below(40000)) };

		nanosleep(&ts, NULL);
	}
}

static void core_hook(const char *where)
{
	(void)where;
	perturb();
}

static void ring_hook(struct ring *r, const char *where)
{
	(void)r;
	(void)where;
	perturb();
}

/* ---- failure reports ---------------------------------------------------- */

static uint64_t seed;
static unsigned round_no;
static int watchdog_s = 120; /* -w */

static _Noreturn void fail(const char *invariant, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#include <stdarg.h>

/*
 * errno across a park: these workers run as goroutines, which may resume on
 * another thread inside a blocking burst, and the compiler may keep errno's
 * address (glibc's __errno_location() is const) from before the call. Reading
 * and clearing it out of line asks for the current thread's errno each time.
 */
static __attribute__((noinline)) int errno_now(void)
{
	return errno;
}

static __attribute__((noinline)) void errno_clear(void)
{
	errno = 0;
}

static _Noreturn void fail(const char *invariant, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "torture: round %u (seed %llu): %s: ", round_no, (unsigned long long)seed,
		invariant);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* ---- values ---------------------------------------------------------------- */

/* A value: producer << 48 | seq. 24-byte elements add a checksum and a copy. */
struct elem24 {
	uint64_t v, check, copy;
};

static uint64_t check_of(uint64_t v)
{
	return ~(v * 0x9e3779b97f4a7c15ull);
}

static void put_value(void *dst, size_t esize, uint64_t v)
{
	if (esize == sizeof(uint64_t)) {
		memcpy(dst, &v, sizeof(v));
	} else {
		struct elem24 e = { v, check_of(v), v };

		memcpy(dst, &e, sizeof(e));
	}
}

static uint64_t get_value(const void *src, size_t esize)
{
	uint64_t v;

	if (esize == sizeof(uint64_t)) {
		memcpy(&v, src, sizeof(v));
		return v;
	}
	struct elem24 e;

	memcpy(&e, src, sizeof(e));
	if (e.check != check_of(e.v) || e.copy != e.v)
		fail("element torn", "v=%llx check=%llx copy=%llx", (unsigned long long)e.v,
		     (unsigned long long)e.check, (unsigned long long)e.copy);
	return e.v;
}

/* ---- one round ------------------------------------------------------------- */

enum { SENT_NONE = 0, SENT_OK, SENT_FAILED };

struct round {
	unsigned nch, nprod, ncons;
	chan_t *ch[MAXCH];
	size_t esize;
	_Atomic int closes_ok[MAXCH]; /* successful chan_close() calls */
	_Atomic int producers_left[MAXCH];

	/* Wiring: producer p sends on the channels in its mask; consumer c
	 * receives from those in its mask. */
	uint32_t prod_mask[MAXPROD], cons_mask[MAXCONS];
	unsigned prod_style[MAXPROD], cons_style[MAXCONS];
	uint64_t per_prod; /* values each producer offers */

	/* Per value: its send status, and how often it was received. */
	_Atomic uint8_t *status[MAXPROD];
	_Atomic uint8_t *received[MAXPROD];

	chan_ctx_t *ctx;
	chan_wg_t wg;
	_Atomic bool finished;
	_Atomic uint64_t ops;
	_Atomic uint64_t drops; /* drop() calls by the drop policies */
};

static struct round R;

static void record_received(unsigned who, uint64_t *last, unsigned chi, uint64_t v)
{
	unsigned p = (unsigned)(v >> 48);
	uint64_t s = v & ((1ull << 48) - 1);

	if (p >= R.nprod || s >= R.per_prod)
		fail("value invented", "consumer %u got %llx on channel %u", who,
		     (unsigned long long)v, chi);
	/* Relaxed: each is a counter checked after the joins. */
	if (atomic_fetch_add_explicit(&R.received[p][s], 1, memory_order_relaxed) != 0)
		fail("dequeued twice", "producer %u seq %llu (consumer %u, channel %u)", p,
		     (unsigned long long)s, who, chi);
	/* A consumer sees each producer's values on one channel in order:
	 * last[] is this consumer's, per (channel, producer). */
	uint64_t *l = &last[chi * MAXPROD + p];

	if (*l != UINT64_MAX && s <= *l)
		fail("FIFO per producer", "channel %u, producer %u: seq %llu after %llu", chi, p,
		     (unsigned long long)s, (unsigned long long)*l);
	*l = s;
	atomic_fetch_add_explicit(&R.ops, 1, memory_order_relaxed);
}

/* drop() of the channels with a drop policy: a discarded value counts as
 * delivered, once, like a received one. */
static void on_drop(void *elem)
{
	uint64_t v = get_value(elem, R.esize);
	unsigned p = (unsigned)(v >> 48);
	uint64_t s = v & ((1ull << 48) - 1);

	if (p >= R.nprod || s >= R.per_prod)
		fail("value invented", "drop() got %llx", (unsigned long long)v);
	/* Relaxed: counters checked after the joins. */
	if (atomic_fetch_add_explicit(&R.received[p][s], 1, memory_order_relaxed) != 0)
		fail("dequeued twice",
		     "producer %u seq %llu dropped, and received or dropped before", p,
		     (unsigned long long)s);
	atomic_fetch_add_explicit(&R.drops, 1, memory_order_relaxed);
}

static void close_channel(unsigned i)
{
	int r = chan_close(R.ch[i]);

	if (r == 0)
		/* Relaxed: read after the joins. */
		atomic_fetch_add_explicit(&R.closes_ok[i], 1, memory_order_relaxed);
	else if (r != -EPIPE)
		fail("close result", "chan_close -> %d", r);
}

static void mark(unsigned p, uint64_t s, uint8_t st)
{
	/* Release: a receiver that finds SENT_FAILED... reads it after the
	 * joins anyway; relaxed would do. */
	atomic_store_explicit(&R.status[p][s], st, memory_order_release);
}

/* ---- producers ------------------------------------------------------------ */

enum { P_SEND, P_TRY, P_TIMED, P_BURST, P_TRY_BURST, P_SELECT, P_STYLES };

static unsigned first_open(uint32_t mask, const bool *closed)
{
	for (unsigned i = 0; i < R.nch; i++)
		if ((mask & (1u << i)) && !closed[i])
			return i;
	return MAXCH;
}

/* Send value @s of producer @p on channel @i with the producer's style;
 * 0 sent, -EPIPE closed (not sent). */
static int send_one(unsigned p, unsigned i, uint64_t s, unsigned style)
{
	unsigned char buf[sizeof(struct elem24)];
	chan_t *c = R.ch[i];
	int r;

	put_value(buf, R.esize, (uint64_t)p << 48 | s);
	switch (style) {
	case P_TRY:
		while ((r = chan_try_send(c, buf)) == -EAGAIN)
			sched_yield();
		return r;
	case P_TIMED:
		/* A timed-out send had no effect: retry the same value. */
		while ((r = chan_send_timeout(c, buf, (int64_t)below(200) * 1000)) == -ETIMEDOUT)
			;
		return r;
	default:
		return chan_send(c, buf);
	}
}

static void produce(unsigned p)
{
	uint32_t mask = R.prod_mask[p];
	unsigned style = R.prod_style[p];
	bool closed[MAXCH] = { 0 };
	uint64_t s = 0;
	unsigned i;

	while (s < R.per_prod && (i = first_open(mask, closed)) != MAXCH) {
		if (style == P_BURST || style == P_TRY_BURST) {
			unsigned char buf[32 * sizeof(struct elem24)];
			size_t n = 1 + below(32), k;

			if (n > R.per_prod - s)
				n = (size_t)(R.per_prod - s);
			for (size_t j = 0; j < n; j++)
				put_value(buf + j * R.esize, R.esize, (uint64_t)p << 48 | (s + j));
			/* Mark first: a receiver may see them before we return. */
			for (size_t j = 0; j < n; j++)
				mark(p, s + j, SENT_OK);
			errno_clear();
			k = style == P_BURST ? chan_send_burst(R.ch[i], buf, n)
					     : chan_try_send_burst(R.ch[i], buf, n);
			for (size_t j = k; j < n; j++)
				mark(p, s + j, SENT_NONE);
			if (k == 0) {
				if (errno_now() == EPIPE)
					closed[i] = true;
				else if (errno_now() == EAGAIN)
					sched_yield();
				else
					fail("burst errno", "send burst returned 0, errno %d", errno_now());
			}
			s += k;
			continue;
		}
		if (style == P_SELECT) {
			/* Offer the value on every open channel of the mask: exactly
			 * one case fires. */
			unsigned char buf[sizeof(struct elem24)];
			chan_case_t cs[MAXCH];
			size_t n = 0;

			put_value(buf, R.esize, (uint64_t)p << 48 | s);
			for (unsigned j = 0; j < R.nch; j++)
				if ((mask & (1u << j)) && !closed[j])
					cs[n++] = (chan_case_t){ .chan = R.ch[j],
								 .op = CHAN_OP_SEND,
								 .elem = buf };
			mark(p, s, SENT_OK);
			int r = chance(2) ? chan_select(cs, n)
					  : chan_select_timeout(cs, n, (int64_t)below(300) * 1000);

			if (r == -ETIMEDOUT) {
				mark(p, s, SENT_NONE); /* no effect: retry */
				continue;
			}
			if (r < 0)
				fail("select result", "send select -> %d", r);
			if (cs[r].err == -EPIPE) {
				mark(p, s, SENT_NONE);
				for (unsigned j = 0; j < R.nch; j++)
					if (R.ch[j] == cs[r].chan)
						closed[j] = true;
				continue;
			}
			s++;
			continue;
		}
		mark(p, s, SENT_OK);
		if (send_one(p, i, s, style) == 0) {
			s++;
		} else {
			/* Closed: that value failed; it must never arrive. */
			mark(p, s, SENT_FAILED);
			closed[i] = true;
			s++;
		}
	}
	/* The last producer of a channel closes it. */
	for (unsigned j = 0; j < R.nch; j++)
		if ((mask & (1u << j)) &&
		    atomic_fetch_sub_explicit(&R.producers_left[j], 1, memory_order_acq_rel) == 1)
			close_channel(j);
}

/* ---- consumers ------------------------------------------------------------- */

enum { C_RECV, C_TRY, C_TIMED, C_BURST, C_TRY_BURST, C_SELECT, C_STYLES };

static void consume_one_channel(unsigned c, unsigned i, uint64_t *last)
{
	unsigned char buf[32 * sizeof(struct elem24)];
	unsigned style = R.cons_style[c];
	chan_t *ch = R.ch[i];

	for (;;) {
		int r;

		if (style == C_BURST || style == C_TRY_BURST) {
			size_t max = 1 + below(32), k;

			errno_clear();
			k = style == C_BURST ? chan_recv_burst(ch, buf, max)
					     : chan_try_recv_burst(ch, buf, max);
			for (size_t j = 0; j < k; j++)
				record_received(c, last, i, get_value(buf + j * R.esize, R.esize));
			if (k == 0) {
				if (errno_now() == EPIPE)
					return;
				if (errno_now() != EAGAIN)
					fail("burst errno", "recv burst returned 0, errno %d", errno_now());
				sched_yield();
			}
			continue;
		}
		if (style == C_TRY)
			r = chan_try_recv(ch, buf);
		else if (style == C_TIMED)
			r = chan_recv_timeout(ch, buf, (int64_t)below(300) * 1000);
		else
			r = chan_recv(ch, buf);
		if (r == 0)
			record_received(c, last, i, get_value(buf, R.esize));
		else if (r == -EPIPE)
			return;
		else if (r == -EAGAIN)
			sched_yield();
		else if (r != -ETIMEDOUT)
			fail("recv result", "-> %d", r);
	}
}

/* Go's idiom: select over the open channels; a closed one becomes NULL. */
static void consume_select(unsigned c, uint64_t *last)
{
	unsigned char bufs[MAXCASES][sizeof(struct elem24)];
	chan_case_t cs[MAXCASES + 2];
	unsigned chi[MAXCASES];
	size_t n = 0, open = 0;
	chan_t *done = chan_ctx_done(R.ctx);
	bool watch_ctx = chance(2);

	/* 1..64 cases: the mask's channels, with duplicates, and NULLs. */
	size_t want = 1 + below(MAXCASES);

	for (unsigned i = 0; i < R.nch && n < MAXCASES; i++) {
		if (R.cons_mask[c] & (1u << i)) {
			chi[n] = i;
			cs[n] = (chan_case_t){ R.ch[i], CHAN_OP_RECV, bufs[n], 0 };
			n++;
		}
	}
	while (n < want) {
		if (chance(4)) {
			chi[n] = MAXCH;
			cs[n] = (chan_case_t){ NULL, CHAN_OP_RECV, bufs[n], 0 };
		} else {
			chi[n] = chi[below((uint32_t)n)];
			if (chi[n] == MAXCH)
				chi[n] = chi[0];
			cs[n] = (chan_case_t){ R.ch[chi[n]], CHAN_OP_RECV, bufs[n], 0 };
		}
		n++;
	}
	for (size_t k = 0; k < n; k++)
		open += cs[k].chan != NULL;
	while (open > 0) {
		size_t m = n;
		chan_t *timer = NULL;

		if (watch_ctx)
			cs[m++] = (chan_case_t){ done, CHAN_OP_RECV, NULL, 0 };
		if (chance(16)) {
			timer = chan_after((int64_t)below(500) * 1000);
			if (!timer)
				fail("chan_after", "errno %d", errno_now());
			cs[m++] = (chan_case_t){ timer, CHAN_OP_RECV, NULL, 0 };
		}
		int r;

		switch (below(3)) {
		case 0:
			r = chan_select(cs, m);
			break;
		case 1:
			r = chan_try_select(cs, m);
			break;
		default:
			r = chan_select_timeout(cs, m, (int64_t)below(300) * 1000);
			break;
		}
		chan_release(timer);
		if (r == -EAGAIN || r == -ETIMEDOUT) {
			if (r == -EAGAIN)
				sched_yield();
			continue;
		}
		if (r < 0)
			fail("select result", "recv select -> %d", r);
		if ((size_t)r >= n) {
			/* Canceled (the race of interest: cancel against ready
			 * values): stop watching, but keep consuming, or senders
			 * with nobody else to take their values would block. */
			if (cs[r].chan == done)
				watch_ctx = false;
			continue; /* or the timer fired */
		}
		if (cs[r].err == -EPIPE) {
			/* Closed and drained: every case on it goes NULL. */
			chan_t *gone = cs[r].chan;

			for (size_t k = 0; k < n; k++)
				if (cs[k].chan == gone) {
					cs[k].chan = NULL;
					open--;
				}
			continue;
		}
		record_received(c, last, chi[r], get_value(bufs[r], R.esize));
	}
}

static void consume(unsigned c)
{
	uint64_t *last = malloc(sizeof(uint64_t) * MAXCH * MAXPROD);

	if (!last)
		fail("setup", "out of memory");
	for (size_t k = 0; k < MAXCH * MAXPROD; k++)
		last[k] = UINT64_MAX;
	if (R.cons_style[c] == C_SELECT) {
		consume_select(c, last);
	} else {
		for (unsigned i = 0; i < R.nch; i++)
			if (R.cons_mask[c] & (1u << i))
				consume_one_channel(c, i, last);
	}
	free(last);
}

/* ---- threads and tasks -------------------------------------------------- */

struct actor {
	unsigned id;
	bool producer;
	uint64_t rng;
};

static struct actor actors[MAXPROD + MAXCONS + 1];

static void act(struct actor *a)
{
	rng = a->rng;
	if (a->producer)
		produce(a->id);
	else
		consume(a->id);
}

static void task_main(void *arg)
{
	act(arg);
	chan_wg_done(&R.wg);
}

static void *thread_main(void *arg)
{
	act(arg);
	return NULL;
}

/* Closes random channels early, and cancels the round's context. */
static void *closer_main(void *arg)
{
	struct actor *a = arg;
	unsigned n = below(3);

	rng = a->rng;
	for (unsigned k = 0; k < n; k++) {
		struct timespec ts = { 0, (long)(below(2000) * 1000) };

		nanosleep(&ts, NULL);
		close_channel(below(R.nch));
	}
	if (chance(2))
		chan_ctx_cancel(R.ctx);
	return NULL;
}

static void *watchdog_main(void *arg)
{
	int64_t deadline = chan_now() + (int64_t)watchdog_s * 1000 * MS;

	(void)arg;
	while (!atomic_load_explicit(&R.finished, memory_order_acquire)) {
		if (chan_now() > deadline)
			fail("every blocked operation returns",
			     "round did not finish in %d s (%llu values moved)", watchdog_s,
			     (unsigned long long)atomic_load(&R.ops));
		struct timespec ts = { 0, 20 * 1000000L };

		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* ---- setting a round up, and checking it ---------------------------------- */

static chan_t *new_channel(bool sp, bool sc)
{
	static const size_t caps[] = { 0, 1, 3, 1024, CHAN_UNBOUNDED };
	size_t cap = caps[below(5)];
	chan_opts_t o = { .elem_size = R.esize, .capacity = cap };
	chan_t *c;

	if (sp && chance(2))
		o.flags |= CHAN_SINGLE_PRODUCER;
	if (sc && chance(2))
		o.flags |= CHAN_SINGLE_CONSUMER;
	if (cap != 0 && cap != CHAN_UNBOUNDED && chance(3)) {
		o.flags |= chance(2) ? CHAN_DROP_NEWEST : CHAN_DROP_OLDEST;
		o.drop = on_drop;
	}
	c = chan_new_opts(&o);
	if (!c)
		fail("setup", "chan_new_opts: errno %d", errno_now());
	/* A long history of its own: versions differ between channels. */
	unsigned hist = below(2000);
	unsigned char buf[sizeof(struct elem24)] = { 0 };

	for (unsigned k = 0; k < hist && cap != 0; k++) {
		if (chan_try_send(c, buf) == 0)
			chan_try_recv(c, NULL);
	}
	for (unsigned k = 0; k < hist % 5 && cap == 0; k++)
		chan_send_timeout(c, buf, 1000);
	return c;
}

static void setup_round(unsigned budget_values)
{
	memset(&R, 0, sizeof(R));
	R.nch = 1 + below(MAXCH);
	R.nprod = 1 + below(MAXPROD);
	R.ncons = 1 + below(MAXCONS);
	R.esize = chance(4) ? sizeof(struct elem24) : sizeof(uint64_t);
	R.per_prod = 1 + below(budget_values / R.nprod + 1);
	for (unsigned p = 0; p < R.nprod; p++) {
		R.prod_style[p] = below(P_STYLES);
		/* One channel, or a few for a select. */
		R.prod_mask[p] = 1u << below(R.nch);
		if (R.prod_style[p] == P_SELECT)
			for (unsigned k = below(4); k > 0; k--)
				R.prod_mask[p] |= 1u << below(R.nch);
		R.status[p] = calloc(R.per_prod, 1);
		R.received[p] = calloc(R.per_prod, 1);
		if (!R.status[p] || !R.received[p])
			fail("setup", "out of memory");
	}
	for (unsigned c = 0; c < R.ncons; c++) {
		R.cons_style[c] = below(C_STYLES);
		R.cons_mask[c] = 1u << below(R.nch);
		for (unsigned k = below(R.cons_style[c] == C_SELECT ? 8 : 2); k > 0; k--)
			R.cons_mask[c] |= 1u << below(R.nch);
	}
	/* Every channel somebody sends on has somebody receiving from it. */
	for (unsigned i = 0; i < R.nch; i++) {
		bool sent = false, taken = false;

		for (unsigned p = 0; p < R.nprod; p++)
			sent |= (R.prod_mask[p] >> i) & 1;
		for (unsigned c = 0; c < R.ncons; c++)
			taken |= (R.cons_mask[c] >> i) & 1;
		if (sent && !taken)
			R.cons_mask[below(R.ncons)] |= 1u << i;
	}
	for (unsigned i = 0; i < R.nch; i++) {
		unsigned np = 0, nc = 0;

		for (unsigned p = 0; p < R.nprod; p++)
			np += (R.prod_mask[p] >> i) & 1;
		for (unsigned c = 0; c < R.ncons; c++)
			nc += (R.cons_mask[c] >> i) & 1;
		/* The flags are promises: make them only when true. Select
		 * consumers and timed receivers keep to one thread each too. */
		R.ch[i] = new_channel(np <= 1, nc <= 1);
		/* Unbuffered, a try send succeeds only against a waiting
		 * receiver and a try receive only against a waiting sender:
		 * with nothing but both, nothing ever moves. */
		if (chan_cap(R.ch[i]) == 0)
			for (unsigned c = 0; c < R.ncons; c++)
				if (((R.cons_mask[c] >> i) & 1) &&
				    (R.cons_style[c] == C_TRY || R.cons_style[c] == C_TRY_BURST))
					R.cons_style[c] = C_TIMED;
		atomic_init(&R.producers_left[i], (int)np);
		if (np == 0)
			close_channel(i); /* nobody will send: closed from the start */
	}
	R.ctx = chance(2) ? chan_ctx_with_timeout(chan_ctx_background(), (int64_t)below(20) * MS)
			  : chan_ctx_with_cancel(chan_ctx_background());
	if (!R.ctx)
		fail("setup", "context: errno %d", errno_now());
	chan_wg_init(&R.wg);
}

/* After every actor returned: drain what is left, then check every value. */
static void check_round(void)
{
	uint64_t *last = malloc(sizeof(uint64_t) * MAXCH * MAXPROD);
	unsigned char buf[sizeof(struct elem24)];
	uint64_t dropped = 0;

	if (!last)
		fail("setup", "out of memory");
	for (size_t k = 0; k < MAXCH * MAXPROD; k++)
		last[k] = UINT64_MAX;
	for (unsigned i = 0; i < R.nch; i++) {
		int r;

		close_channel(i);
		while ((r = chan_try_recv(R.ch[i], buf)) == 0)
			record_received(MAXCONS, last, i, get_value(buf, R.esize));
		if (r != -EPIPE)
			fail("closed and drained", "channel %u: try_recv -> %d", i, r);
		if (atomic_load(&R.closes_ok[i]) != 1)
			fail("close exactly once", "channel %u closed %d times", i,
			     atomic_load(&R.closes_ok[i]));
		if (chan_len(R.ch[i]) != 0)
			fail("closed and drained", "channel %u: len %zu", i, chan_len(R.ch[i]));
		dropped += chan_dropped(R.ch[i]);
	}
	if (dropped != atomic_load(&R.drops))
		fail("chan_dropped exact", "chan_dropped sums to %llu, drop() ran %llu times",
		     (unsigned long long)dropped, (unsigned long long)atomic_load(&R.drops));
	free(last);
	for (unsigned p = 0; p < R.nprod; p++) {
		for (uint64_t s = 0; s < R.per_prod; s++) {
			uint8_t st = atomic_load(&R.status[p][s]);
			uint8_t got = atomic_load(&R.received[p][s]);

			if (st == SENT_OK && got != 1)
				fail("nothing lost",
				     "producer %u seq %llu sent, received or dropped %u times", p,
				     (unsigned long long)s, got);
			if (st != SENT_OK && got != 0)
				fail("no failed send delivered",
				     "producer %u seq %llu (%s) was received", p,
				     (unsigned long long)s, st == SENT_FAILED ? "failed" : "unsent");
		}
		free((void *)R.status[p]);
		free((void *)R.received[p]);
	}
	for (unsigned i = 0; i < R.nch; i++)
		chan_release(R.ch[i]);
	chan_ctx_release(R.ctx);
}

static void run_round(unsigned budget_values)
{
	pthread_t threads[MAXPROD + MAXCONS], closer, watchdog;
	bool is_thread[MAXPROD + MAXCONS];
	unsigned n = 0;

	setup_round(budget_values);
	atomic_store(&R.finished, false);
	if (pthread_create(&watchdog, NULL, watchdog_main, NULL) != 0)
		fail("setup", "pthread_create");
	for (unsigned k = 0; k < R.nprod + R.ncons; k++, n++) {
		struct actor *a = &actors[n];

		a->producer = k < R.nprod;
		a->id = a->producer ? k : k - R.nprod;
		a->rng = rnd() | 1;
		is_thread[n] = chance(2);
		if (is_thread[n]) {
			if (pthread_create(&threads[n], NULL, thread_main, a) != 0)
				fail("setup", "pthread_create");
		} else {
			chan_wg_add(&R.wg, 1);
			if (chan_go(task_main, a) != 0)
				fail("setup", "chan_go");
		}
	}
	actors[n].rng = rnd() | 1;
	if (pthread_create(&closer, NULL, closer_main, &actors[n]) != 0)
		fail("setup", "pthread_create");
	for (unsigned k = 0; k < n; k++)
		if (is_thread[k])
			pthread_join(threads[k], NULL);
	chan_wg_wait(&R.wg);
	pthread_join(closer, NULL);
	/* Release: the watchdog stops. */
	atomic_store_explicit(&R.finished, true, memory_order_release);
	pthread_join(watchdog, NULL);
	check_round();
}

int main(int argc, char **argv)
{
	double seconds = 10;
	unsigned max_rounds = UINT32_MAX, budget = 20000;
	bool quiet = false;
	int opt;

	seed = (uint64_t)chan_now() ^ (uint64_t)getpid() << 32;
	while ((opt = getopt(argc, argv, "s:r:S:b:w:q")) != -1) {
		switch (opt) {
		case 's':
			seconds = atof(optarg);
			break;
		case 'r':
			max_rounds = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 'S':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'b':
			budget = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 'w':
			watchdog_s = atoi(optarg);
			break;
		case 'q':
			quiet = true;
			break;
		default:
			fprintf(stderr, "usage: %s [-s seconds] [-r rounds] [-S seed] [-b values] "
				"[-w watchdog_seconds] [-q]\n",
				argv[0]);
			return 2;
		}
	}
	rng = seed | 1;
	chan__debug_hook = core_hook;
	chan__ring_debug_hook = ring_hook;

	int64_t start = chan_now(), end = start + (int64_t)(seconds * 1e9);
	uint64_t moved = 0, dropped = 0;

	for (round_no = 0; round_no < max_rounds && chan_now() < end; round_no++) {
		run_round(budget);
		moved += atomic_load(&R.ops);
		dropped += atomic_load(&R.drops);
		if (!quiet && round_no % 50 == 0)
			printf("round %u: %u channels, %u producers, %u consumers, %llu values\n",
			       round_no, R.nch, R.nprod, R.ncons, (unsigned long long)R.ops);
	}
	printf("torture: ok: %u rounds, %llu values moved and checked, %llu dropped by a policy, "
	       "%llu hook hits, %.1f s, seed %llu (%s)\n",
	       round_no, (unsigned long long)moved, (unsigned long long)dropped,
	       (unsigned long long)atomic_load(&hook_hits),
	       (double)(chan_now() - start) / 1e9, (unsigned long long)seed,
#ifdef CHAN_DEBUG_HOOKS
	       "protocol-window hooks on"
#else
	       "hooks compiled out"
#endif
	);
	return 0;
}
