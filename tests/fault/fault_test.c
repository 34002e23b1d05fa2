/* SPDX-License-Identifier: MIT */
/*
 * tests/fault/fault_test.c - allocation and thread-creation failures, at
 * every site (issue 10's harness).
 *
 * The test-only hook of ring/fault.h fails the calling thread's k-th
 * allocation (or thread creation). Each test drives one constructor or
 * growth path with k = 1, 2, ... until the call succeeds without the fault
 * firing, so every allocation it makes is failed once; after each failure
 * it checks the documented error, that nothing changed (values, lengths,
 * the other objects), and that the same call works once the fault is gone.
 * Leaks on the failure paths are LeakSanitizer's to find (the asan-ubsan
 * build runs this file with detect_leaks=1).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include <chan/chan.h>

#include "ring/fault.h"

#define MS     1000000LL
#define S      1000000000LL
#define K_MAX  64 /* more allocations than any call makes */

static void arm(long k)
{
	chan__fault_arm(CHAN__FAULT_ALLOC, k);
}

static bool fired(void)
{
	bool f = chan__fault_fired(CHAN__FAULT_ALLOC);

	chan__fault_arm(CHAN__FAULT_ALLOC, 0);
	return f;
}

/* ---- constructors ---------------------------------------------------------- */

Test(fault, chan_new_every_kind)
{
	static const size_t kinds[] = { 0, 1, 1000, CHAN_UNBOUNDED };

	for (size_t i = 0; i < 4; i++) {
		int failures = 0;

		for (long k = 1; k <= K_MAX; k++) {
			chan_opts_t o = { .elem_size = 16, .capacity = kinds[i] };
			chan_t *c;

			arm(k);
			errno = 0;
			c = chan_new_opts(&o);
			if (!fired()) {
				cr_assert_not_null(c, "cap %zu: failed without a fault", kinds[i]);
				chan_release(c);
				break;
			}
			failures++;
			cr_assert_null(c, "cap %zu, allocation %ld failed: still a channel", kinds[i], k);
			cr_assert_eq(errno, ENOMEM);
		}
		/* Unbounded: the channel and its first block. */
		cr_assert_eq(failures, kinds[i] == CHAN_UNBOUNDED ? 2 : 1, "cap %zu: %d sites",
			     kinds[i], failures);
	}
}

Test(fault, context_constructors)
{
	chan_ctx_t *parent = chan_ctx_with_cancel(chan_ctx_background());
	chan_ctx_t *sibling = chan_ctx_with_cancel(parent);
	static int key;

	cr_assert(parent && sibling);
	for (int which = 0; which < 4; which++) {
		for (long k = 1; k <= K_MAX; k++) {
			chan_ctx_t *c = NULL;

			arm(k);
			errno = 0;
			switch (which) {
			case 0:
				c = chan_ctx_with_cancel(parent);
				break;
			case 1:
				c = chan_ctx_with_timeout(parent, 10 * S);
				break;
			case 2:
				c = chan_ctx_with_deadline(parent, chan_now() + 10 * S);
				break;
			default:
				c = chan_ctx_with_value(parent, &key, &key);
				break;
			}
			if (!fired()) {
				cr_assert_not_null(c);
				chan_ctx_release(c);
				break;
			}
			cr_assert_null(c, "constructor %d, allocation %ld", which, k);
			cr_assert_eq(errno, ENOMEM);
			/* The tree is intact: the parent is live, the sibling too. */
			cr_assert_eq(chan_ctx_err(parent), 0);
			cr_assert_eq(chan_ctx_err(sibling), 0);
		}
	}
	/* And cancelation still reaches the sibling through the parent's list. */
	chan_ctx_cancel(parent);
	cr_assert_eq(chan_recv_timeout(chan_ctx_done(sibling), NULL, 5 * S), -EPIPE);
	cr_assert_eq(chan_ctx_err(sibling), -ECANCELED);
	chan_ctx_release(sibling);
	chan_ctx_release(parent);
}

/* ---- the done channel, made by the first chan_ctx_done() ------------------- */

/* chan_ctx_done() fails cleanly (NULL + ENOMEM, nothing changed) and a later
 * call makes it; a context canceled before its first chan_ctx_done() needs
 * no channel to report its error and gets one that is already closed. */
Test(fault, ctx_done_first_call)
{
	chan_ctx_t *parent = chan_ctx_with_cancel(chan_ctx_background());
	chan_ctx_t *c = chan_ctx_with_cancel(parent);
	chan_ctx_t *early = chan_ctx_with_cancel(parent);
	chan_t *ch = chan_new(8, 1);
	chan_t *d, *d2;

	cr_assert(parent && c && early && ch);
	arm(1);
	cr_assert_not_null(chan_ctx_done(chan_ctx_background()));
	cr_assert(!fired(), "the background's done channel is static");

	arm(1);
	errno = 0;
	cr_assert_null(chan_ctx_done(c));
	cr_assert_eq(errno, ENOMEM);
	cr_assert(fired());
	cr_assert_eq(chan_ctx_err(c), 0, "a failed chan_ctx_done() changed the context");
	d = chan_ctx_done(c);
	cr_assert_not_null(d, "a later chan_ctx_done() failed");
	cr_assert(!chan_is_closed(d));
	arm(1);
	cr_assert_eq(chan_ctx_done(c), d);
	cr_assert(!fired(), "the done channel was made twice");

	/* Canceled with no done channel: the cancel, err and a ctx-first wait
	 * allocate nothing. */
	arm(1);
	chan_ctx_cancel(early);
	cr_assert_eq(chan_ctx_err(early), -ECANCELED);
	cr_assert_eq(chan_recv_ctx(ch, NULL, early), -ECANCELED);
	cr_assert(!fired(), "cancel or err allocated");
	arm(1);
	errno = 0;
	cr_assert_null(chan_ctx_done(early));
	cr_assert_eq(errno, ENOMEM);
	cr_assert(fired());
	cr_assert_eq(chan_ctx_err(early), -ECANCELED);
	d2 = chan_ctx_done(early);
	cr_assert_not_null(d2);
	cr_assert(chan_is_closed(d2), "a done channel made after the cancel is open");
	cr_assert_eq(chan_try_recv(d2, NULL), -EPIPE);
	cr_assert_eq(chan_ctx_err(early), -ECANCELED);

	/* The parent's cancel still reaches c and closes the channel it made. */
	chan_ctx_cancel(parent);
	cr_assert_eq(chan_recv_timeout(d, NULL, 5 * S), -EPIPE);
	cr_assert_eq(chan_ctx_err(c), -ECANCELED);
	chan_release(ch);
	chan_ctx_release(early);
	chan_ctx_release(c);
	chan_ctx_release(parent);
}

enum { W_RECV, W_SEND, W_SEM, W_LIMITER, W_PUBSUB, W_KINDS };

/* Each wait on a context whose done channel is not made yet makes it; when
 * that fails the wait returns -ENOMEM at once (a NULL select case would
 * sleep through the cancel) with nothing moved or taken. Without a fault
 * each ends by its ctx's deadline (-ETIMEDOUT), or gets its token (0). */
Test(fault, ctx_waits_that_make_the_done_channel)
{
	static const char *const names[] = { "recv_ctx", "send_ctx", "sem_acquire",
					     "limiter_wait", "pubsub_publish" };
	static const int sites[] = { 1, 1, 2, 1, 1 }; /* sem: done, then its wait record */
	long v = 7;

	for (int w = 0; w < W_KINDS; w++) {
		chan_t *ch = chan_new(sizeof(long), 1);
		chan_sem_t *sem = chan_sem_new(1);
		chan_limiter_t *l = chan_limiter_new(2, 1); /* a token every 500 ms */
		chan_pubsub_t *ps = chan_pubsub_new(&(chan_pubsub_opts_t){ .elem_size = sizeof(long) });
		chan_pubsub_sub_t *sub = ps ? chan_pubsub_subscribe(ps, &(chan_pubsub_sub_opts_t){
							.capacity = 1, .policy = CHAN_PUBSUB_BLOCK })
					    : NULL;
		chan_pubsub_stats_t st;
		int failures = 0;

		cr_assert(ch && sem && l && ps && sub);
		if (w == W_SEND)
			cr_assert_eq(chan_send(ch, &v), 0); /* full: a send must wait */
		cr_assert_eq(chan_sem_try_acquire(sem, 1), 0); /* taken: acquire waits */
		cr_assert_eq(chan_pubsub_publish(ps, &v, chan_ctx_background()), 1); /* full */
		for (long k = 1; k <= K_MAX; k++) {
			/* Long enough for a limiter token; the others time out. */
			chan_ctx_t *ctx = chan_ctx_with_timeout(chan_ctx_background(),
								w == W_LIMITER ? 10 * S : 20 * MS);
			int r = 0;

			cr_assert_not_null(ctx);
			while (chan_limiter_allow(l))
				; /* empty: the wait sleeps */
			arm(k);
			switch (w) {
			case W_RECV:
				r = chan_recv_ctx(ch, &v, ctx);
				break;
			case W_SEND:
				r = chan_send_ctx(ch, &v, ctx);
				break;
			case W_SEM:
				r = chan_sem_acquire(sem, 1, ctx);
				break;
			case W_LIMITER:
				r = chan_limiter_wait(l, 1, ctx);
				break;
			default:
				r = chan_pubsub_publish(ps, &v, ctx);
				break;
			}
			if (!fired()) {
				cr_assert_eq(r, w == W_LIMITER ? 0 : -ETIMEDOUT, "%s: %d without a fault",
					     names[w], r);
				chan_ctx_release(ctx);
				break;
			}
			failures++;
			cr_assert_eq(r, -ENOMEM, "%s, allocation %ld: %d", names[w], k, r);
			/* Nothing moved or taken. */
			cr_assert_eq(chan_len(ch), w == W_SEND ? 1u : 0u, "%s", names[w]);
			cr_assert_eq(chan_sem_try_acquire(sem, 1), -EAGAIN, "%s", names[w]);
			cr_assert_gt(chan_limiter_tokens(l, chan_now()), -0.5,
				     "%s: the reservation was kept", names[w]);
			chan_pubsub_stats(sub, &st);
			cr_assert_eq(st.delivered, 1, "%s", names[w]);
			if (w == W_PUBSUB) /* as a ctx that ended while it waited */
				cr_assert_eq(st.dropped, (uint64_t)failures);
			chan_ctx_release(ctx);
		}
		cr_assert_eq(failures, sites[w], "%s: %d sites", names[w], failures);
		/* The semaphore queued nothing: a release makes the unit free. */
		chan_sem_release(sem, 1);
		cr_assert_eq(chan_sem_try_acquire(sem, 1), 0, "%s: a waiter was left queued", names[w]);
		cr_assert_eq(chan_pubsub_unsubscribe(sub), 0);
		chan_pubsub_destroy(ps);
		chan_limiter_destroy(l);
		chan_sem_destroy(sem);
		chan_release(ch);
	}
}

/* A group makes its context's done channel in chan_group_new() (a stage
 * cannot report a failure of its first wait), so that never fails later. */
Test(fault, group_new_makes_the_done_channel)
{
	int failures = 0;

	for (long k = 1; k <= K_MAX; k++) {
		chan_group_t *g;

		arm(k);
		errno = 0;
		g = chan_group_new(chan_ctx_background());
		if (!fired()) {
			cr_assert_not_null(g);
			arm(1);
			cr_assert_not_null(chan_ctx_done(chan_group_ctx(g)));
			cr_assert(!fired(), "the group's done channel was not made");
			chan_group_destroy(g);
			break;
		}
		failures++;
		cr_assert_null(g, "allocation %ld", k);
		cr_assert_eq(errno, ENOMEM);
	}
	/* The library's allocations (the group's own is plain calloc()). */
	cr_assert_eq(failures, 3, "its ctx, its done channel, its after-func: %d", failures);
}

/* ---- growth paths ---------------------------------------------------------- */

/* One send of @form from *@next on: how many went in, or -errno. */
static long send_form(chan_t *c, int form, long next)
{
	long burst[40];
	size_t n;
	int r;

	if (form == 0)
		return (r = chan_send(c, &next)) == 0 ? 1 : r;
	if (form == 1)
		return (r = chan_try_send(c, &next)) == 0 ? 1 : r;
	for (int j = 0; j < 40; j++)
		burst[j] = next + j;
	errno = 0;
	n = chan_send_burst(c, burst, 40);
	return n > 0 ? (long)n : -errno;
}

/* An unbounded channel crossing block boundaries, through every send form:
 * each send that needs a new block is failed once, then retried. */
Test(fault, unbounded_growth)
{
	chan_t *c = chan_new_opts(&(chan_opts_t){ .elem_size = sizeof(long),
						  .capacity = CHAN_UNBOUNDED });
	long next = 0, expect = 0, got;
	int failures = 0;

	cr_assert_not_null(c);
	for (int form = 0; form < 3; form++) {
		while (next < 200 * (form + 1)) {
			size_t before = chan_len(c);
			long r;

			arm(1);
			r = send_form(c, form, next);
			if (fired() && r < 0) {
				failures++;
				cr_assert_eq(r, -ENOMEM, "form %d", form);
				cr_assert_eq(chan_len(c), before, "a failed send changed the length");
				r = send_form(c, form, next); /* and without the fault */
			}
			cr_assert_gt(r, 0, "form %d: %ld", form, r);
			next += r;
		}
	}
	cr_assert_gt(failures, 10, "every block boundary should have been failed once");
	/* Every value that went in comes out, in order, once. */
	while (chan_try_recv(c, &got) == 0)
		cr_assert_eq(got, expect++, "value %ld after a failed growth", got);
	cr_assert_eq(expect, next);
	chan_release(c);
}

static chan_t *pending[80];

/* The timer heap starts with room for 64 and doubles: fill it, then fail
 * each allocation of the chan_after() that has to grow it. */
Test(fault, timer_heap_growth)
{
	int failures = 0;
	size_t n = 0;

	/* 63 armed: the next one needs a bigger heap (one slot stays spare). */
	for (; n < 63; n++) {
		pending[n] = chan_after(100 * S);
		cr_assert_not_null(pending[n]);
	}
	for (long k = 1; k <= K_MAX; k++) {
		chan_t *t;

		arm(k);
		errno = 0;
		t = chan_after(100 * S);
		if (!fired()) {
			cr_assert_not_null(t);
			pending[n++] = t;
			break;
		}
		failures++;
		cr_assert_null(t);
		cr_assert_eq(errno, ENOMEM, "allocation %ld", k);
	}
	cr_assert_eq(failures, 3, "chan_after: its channel, its timer, the heap's growth");
	/* Tickers and deadlines on the grown heap still work. */
	for (long k = 1; k <= K_MAX; k++) {
		chan_ticker_t *tk;

		arm(k);
		tk = chan_ticker_new(1 * MS);
		if (!fired()) {
			cr_assert_not_null(tk);
			cr_assert_eq(chan_recv_timeout(chan_ticker_chan(tk), NULL, 5 * S), 0);
			chan_ticker_stop(tk);
			break;
		}
		cr_assert_null(tk);
		cr_assert_eq(errno, ENOMEM);
	}
	chan_t *soon = chan_after(1 * MS);

	cr_assert_not_null(soon);
	cr_assert_eq(chan_recv_timeout(soon, NULL, 5 * S), 0, "timers stopped firing");
	chan_release(soon);
	for (size_t i = 0; i < n; i++)
		chan_release(pending[i]);
}

/* A select over more than 16 cases needs memory for its bookkeeping. */
Test(fault, large_select)
{
	chan_t *ch[40];
	chan_case_t cs[40];
	long v = 7, got = 0;

	for (int i = 0; i < 40; i++) {
		ch[i] = chan_new(sizeof(long), 1);
		cr_assert_not_null(ch[i]);
		cs[i] = (chan_case_t){ .chan = ch[i], .op = CHAN_OP_RECV, .elem = &got };
	}
	cr_assert_eq(chan_send(ch[17], &v), 0);
	for (int form = 0; form < 3; form++) {
		int r;

		arm(1);
		r = form == 0 ? chan_select(cs, 40)
			      : form == 1 ? chan_try_select(cs, 40)
					  : chan_select_timeout(cs, 40, 10 * MS);
		cr_assert(fired());
		cr_assert_eq(r, -ENOMEM, "form %d", form);
		cr_assert_eq(chan_len(ch[17]), 1, "a failed select took the value");
		cr_assert_eq(got, 0);
	}
	cr_assert_eq(chan_select(cs, 40), 17);
	cr_assert_eq(got, 7);
	/* 16 cases and fewer use the stack: no allocation to fail. */
	arm(1);
	cr_assert_eq(chan_try_select(cs, 16), -EAGAIN);
	cr_assert(!fired());
	for (int i = 0; i < 40; i++)
		chan_release(ch[i]);
}

/* ---- chan_go and the threads -------------------------------------------------- */

static _Atomic int ran;

static void mark_ran(void *arg)
{
	atomic_fetch_add((_Atomic int *)arg, 1);
}

static void settle(void)
{
	struct timespec ts = { 0, 100 * 1000000L };

	nanosleep(&ts, NULL); /* time for a task that must not run to show up */
}

Test(fault, chan_go_allocation_and_thread_creation)
{
	/* A fresh process has no idle worker: chan_go() must start a thread. */
	arm(1);
	cr_assert_eq(chan_go(mark_ran, &ran), -ENOMEM);
	cr_assert(fired());
	chan__fault_arm(CHAN__FAULT_THREAD, 1);
	cr_assert_eq(chan_go(mark_ran, &ran), -EAGAIN);
	cr_assert(chan__fault_fired(CHAN__FAULT_THREAD));
	chan__fault_arm(CHAN__FAULT_THREAD, 0);
	settle();
	cr_assert_eq(atomic_load(&ran), 0, "a task whose chan_go() failed ran");
	cr_assert_eq(chan_go(mark_ran, &ran), 0);
	while (atomic_load(&ran) == 0)
		settle();
	cr_assert_eq(atomic_load(&ran), 1);
}

Test(fault, timer_thread_creation)
{
	/* The first timer of a process starts the service thread: each
	 * constructor that arms one fails cleanly while it cannot. */
	chan__fault_arm(CHAN__FAULT_THREAD, 1);
	errno = 0;
	cr_assert_null(chan_after(1 * MS));
	cr_assert_eq(errno, EAGAIN);
	chan__fault_arm(CHAN__FAULT_THREAD, 1);
	/* A deadline far enough not to pass before it is armed (one already
	 * past gives a canceled context, which needs no timer). */
	cr_assert_null(chan_ctx_with_timeout(chan_ctx_background(), 10 * S));
	cr_assert_eq(errno, EAGAIN);
	chan__fault_arm(CHAN__FAULT_THREAD, 1);
	cr_assert_null(chan_ticker_new(1 * MS));
	cr_assert_eq(errno, EAGAIN);
	cr_assert(chan__fault_fired(CHAN__FAULT_THREAD));
	chan__fault_arm(CHAN__FAULT_THREAD, 0);

	chan_t *t = chan_after(1 * MS);
	chan_ctx_t *ctx = chan_ctx_with_timeout(chan_ctx_background(), 1 * MS);

	cr_assert(t && ctx);
	cr_assert_eq(chan_recv_timeout(t, NULL, 5 * S), 0);
	cr_assert_eq(chan_recv_timeout(chan_ctx_done(ctx), NULL, 5 * S), -EPIPE);
	cr_assert_eq(chan_ctx_err(ctx), -ETIMEDOUT);
	chan_release(t);
	chan_ctx_release(ctx);
}

/* ---- patterns ---------------------------------------------------------------- */

static int count_job(chan_ctx_t *ctx, void *arg)
{
	(void)ctx;
	atomic_fetch_add((_Atomic int *)arg, 1);
	return 0;
}

/* chan_pool_new(): its queue, its after-func and each worker's start fail
 * once. A failure is NULL + ENOMEM with nothing started in the group
 * (chan_group_wait() returns at once) and nothing leaked (LSan), or, when
 * a later worker could not start, a pool with fewer workers that runs
 * every job; once no fault fires, a pool with all of them. */
Test(fault, pool_new)
{
	static const size_t caps[] = { 0, 64, CHAN_UNBOUNDED };

	for (unsigned workers = 1; workers <= 3; workers += 2) {
		for (size_t i = 0; i < 3; i++) {
			int failures = 0;

			for (long k = 1; k <= K_MAX; k++) {
				chan_group_t *g = chan_group_new(chan_ctx_background());
				_Atomic int jobs_ran = 0;
				chan_pool_t *p;
				bool f;

				cr_assert_not_null(g);
				arm(k);
				errno = 0;
				p = chan_pool_new(g, workers, caps[i]);
				f = fired();
				if (!p) {
					cr_assert(f, "failed without a fault");
					cr_assert_eq(errno, ENOMEM);
					cr_assert_eq(chan_group_wait(g), 0);
					chan_group_destroy(g);
					failures++;
					continue;
				}
				for (int j = 0; j < 50; j++)
					cr_assert_eq(chan_pool_submit(p, count_job, &jobs_ran,
								      chan_ctx_background()), 0);
				cr_assert_eq(chan_pool_close(p), 0);
				cr_assert_eq(chan_group_wait(g), 0);
				cr_assert_eq(atomic_load(&jobs_ran), 50, "a pool after a fault lost jobs");
				chan_pool_destroy(p);
				chan_group_destroy(g);
				if (!f)
					break;
				failures++; /* a worker could not start: fewer workers */
			}
			cr_assert_geq(failures, 2, "workers %u cap %zu: the queue and the "
				      "after-func at least", workers, caps[i]);
		}
	}
}
