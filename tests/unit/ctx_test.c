/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/ctx_test.c - context trees: cancel cascades, late children,
 * deadlines, values, release order, the lazily made done channel.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <chan/chan.h>

#include "ring/fault.h"

#define MS 1000000LL

static bool done_closed(chan_ctx_t *c)
{
	return chan_try_recv(chan_ctx_done(c), NULL) == -EPIPE;
}

Test(ctx, background_is_never_canceled)
{
	chan_ctx_t *bg = chan_ctx_background();

	cr_assert_not_null(bg);
	cr_assert_eq(bg, chan_ctx_background());
	cr_assert_eq(chan_ctx_err(bg), 0);
	chan_ctx_cancel(bg);
	chan_ctx_release(bg);
	cr_assert_eq(chan_ctx_err(bg), 0);
	cr_assert_not_null(chan_ctx_done(bg));
	cr_assert(!done_closed(bg));
	cr_assert_eq(chan_ctx_deadline(bg), INT64_MAX);
}

Test(ctx, cancel_cascades_to_every_descendant)
{
	chan_ctx_t *root = chan_ctx_with_cancel(chan_ctx_background());
	chan_ctx_t *a = chan_ctx_with_cancel(root), *b = chan_ctx_with_value(root, &a, NULL);
	chan_ctx_t *a1 = chan_ctx_with_cancel(a), *a2 = chan_ctx_with_timeout(a, 1000000 * MS);
	chan_ctx_t *all[] = { root, a, b, a1, a2 };

	for (int i = 0; i < 5; i++) {
		cr_assert_eq(chan_ctx_err(all[i]), 0);
		cr_assert(!done_closed(all[i]));
	}
	chan_ctx_cancel(root);
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(chan_ctx_err(all[i]), -ECANCELED, "ctx %d not canceled", i);
		cr_assert(done_closed(all[i]));
	}
	for (int i = 4; i >= 0; i--)
		chan_ctx_release(all[i]);
}

Test(ctx, children_created_after_cancel_start_canceled)
{
	chan_ctx_t *p = chan_ctx_with_cancel(chan_ctx_background());

	chan_ctx_cancel(p);
	chan_ctx_t *c = chan_ctx_with_cancel(p), *g = chan_ctx_with_value(c, &p, &p);

	cr_assert_eq(chan_ctx_err(c), -ECANCELED);
	cr_assert_eq(chan_ctx_err(g), -ECANCELED);
	cr_assert(done_closed(g));
	chan_ctx_release(g);
	chan_ctx_release(c);
	chan_ctx_release(p);
}

Test(ctx, canceling_a_child_leaves_the_parent)
{
	chan_ctx_t *p = chan_ctx_with_cancel(chan_ctx_background());
	chan_ctx_t *c = chan_ctx_with_cancel(p), *s = chan_ctx_with_cancel(p);

	chan_ctx_cancel(c);
	cr_assert_eq(chan_ctx_err(c), -ECANCELED);
	cr_assert_eq(chan_ctx_err(p), 0);
	cr_assert_eq(chan_ctx_err(s), 0, "a sibling was canceled");
	cr_assert(!done_closed(p));
	chan_ctx_release(c);
	chan_ctx_release(s);
	chan_ctx_release(p);
}

Test(ctx, deadline_cancels_with_etimedout_never_early)
{
	int64_t t0 = chan_now();
	chan_ctx_t *c = chan_ctx_with_timeout(chan_ctx_background(), 30 * MS);
	chan_ctx_t *kid = chan_ctx_with_cancel(c);

	cr_assert_leq(chan_ctx_deadline(c), t0 + 31 * MS + 1000 * MS);
	cr_assert_eq(chan_ctx_err(c), 0);
	cr_assert_eq(chan_recv(chan_ctx_done(kid), NULL), -EPIPE);
	cr_assert_geq(chan_now() - t0, 30 * MS, "canceled early");
	cr_assert_eq(chan_ctx_err(c), -ETIMEDOUT);
	cr_assert_eq(chan_ctx_err(kid), -ETIMEDOUT, "children inherit the parent's error");
	chan_ctx_release(kid);
	chan_ctx_release(c);
}

Test(ctx, child_deadline_is_never_later_than_the_parent)
{
	/* The parent's deadline is far enough after the early child's that
	 * a slow (sanitized, loaded) thread still checks the parent before it. */
	chan_ctx_t *p = chan_ctx_with_timeout(chan_ctx_background(), 1000 * MS);
	chan_ctx_t *c = chan_ctx_with_timeout(p, 100000 * MS);
	chan_ctx_t *e = chan_ctx_with_timeout(p, 5 * MS);

	cr_assert_eq(chan_ctx_deadline(c), chan_ctx_deadline(p));
	cr_assert_lt(chan_ctx_deadline(e), chan_ctx_deadline(p));
	cr_assert_eq(chan_recv(chan_ctx_done(e), NULL), -EPIPE);
	cr_assert_eq(chan_ctx_err(e), -ETIMEDOUT);
	cr_assert_eq(chan_ctx_err(p), 0, "the child's deadline touched the parent");
	cr_assert_eq(chan_recv(chan_ctx_done(c), NULL), -EPIPE);
	cr_assert_eq(chan_ctx_err(c), -ETIMEDOUT);
	chan_ctx_release(e);
	chan_ctx_release(c);
	chan_ctx_release(p);
}

Test(ctx, past_deadline_starts_canceled)
{
	chan_ctx_t *c = chan_ctx_with_deadline(chan_ctx_background(), chan_now() - 1);
	chan_ctx_t *z = chan_ctx_with_timeout(chan_ctx_background(), 0);

	cr_assert_eq(chan_ctx_err(c), -ETIMEDOUT);
	cr_assert_eq(chan_ctx_err(z), -ETIMEDOUT);
	chan_ctx_release(c);
	chan_ctx_release(z);
}

Test(ctx, values_walk_up_and_shadow)
{
	static int k1, k2;
	int v1 = 1, v2 = 2, v3 = 3;
	chan_ctx_t *a = chan_ctx_with_value(chan_ctx_background(), &k1, &v1);
	chan_ctx_t *b = chan_ctx_with_cancel(a);
	chan_ctx_t *c = chan_ctx_with_value(b, &k2, &v2);
	chan_ctx_t *d = chan_ctx_with_value(c, &k1, &v3);

	cr_assert_eq(chan_ctx_value(c, &k1), &v1);
	cr_assert_eq(chan_ctx_value(c, &k2), &v2);
	cr_assert_eq(chan_ctx_value(d, &k1), &v3, "the nearest value wins");
	cr_assert_null(chan_ctx_value(b, &k2));
	cr_assert_null(chan_ctx_value(chan_ctx_background(), &k1));
	cr_assert_null(chan_ctx_with_value(a, NULL, &v1));
	chan_ctx_release(d);
	chan_ctx_release(c);
	chan_ctx_release(b);
	chan_ctx_release(a);
}

Test(ctx, releasing_the_parent_first_is_safe)
{
	static int key;
	int v = 42;
	chan_ctx_t *p = chan_ctx_with_value(chan_ctx_background(), &key, &v);
	chan_ctx_t *c = chan_ctx_with_timeout(p, 100000 * MS);
	chan_ctx_t *g = chan_ctx_with_cancel(c);

	chan_ctx_release(p);
	cr_assert_eq(chan_ctx_err(c), -ECANCELED, "releasing cancels the subtree");
	cr_assert_eq(chan_ctx_err(g), -ECANCELED);
	cr_assert_eq(chan_ctx_value(g, &key), &v, "ancestors' values stay reachable");
	chan_ctx_release(c);
	cr_assert(done_closed(g));
	chan_ctx_release(g);
}

Test(ctx, bad_arguments)
{
	errno = 0;
	cr_assert_null(chan_ctx_with_cancel(NULL));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(chan_ctx_with_timeout(NULL, MS));
	cr_assert_eq(chan_ctx_err(NULL), -EINVAL);
	errno = 0;
	cr_assert_null(chan_ctx_done(NULL));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(chan_ctx_value(NULL, &errno));
	chan_ctx_cancel(NULL);
	chan_ctx_release(NULL);
}

Test(ctx, deep_chain_cancels_without_recursion)
{
	enum { N = 20000 };
	chan_ctx_t **c = malloc(N * sizeof(*c));

	c[0] = chan_ctx_with_cancel(chan_ctx_background());
	for (int i = 1; i < N; i++)
		c[i] = chan_ctx_with_cancel(c[i - 1]);
	chan_ctx_release(c[0]); /* cancels all 20000 */
	cr_assert_eq(chan_ctx_err(c[N - 1]), -ECANCELED);
	for (int i = 1; i < N; i++)
		chan_ctx_release(c[i]);
	free(c);
}

struct worker {
	chan_ctx_t *ctx;
	chan_t *jobs;
	long done;
	int err;
};

static void *ctx_worker(void *arg)
{
	struct worker *w = arg;
	long job;

	for (;;) {
		chan_case_t cs[2] = { { .chan = w->jobs, .op = CHAN_OP_RECV, .elem = &job },
				      { .chan = chan_ctx_done(w->ctx), .op = CHAN_OP_RECV } };

		if (chan_select(cs, 2) == 1) {
			w->err = chan_ctx_err(w->ctx);
			return NULL;
		}
		w->done++;
	}
}

Test(ctx, done_channel_in_select_stops_workers)
{
	chan_ctx_t *ctx = chan_ctx_with_cancel(chan_ctx_background());
	chan_t *jobs = chan_new(8, 16);
	struct worker w[4];
	pthread_t t[4];
	long job = 1, total = 0;

	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ ctx, jobs, 0, 0 };
		pthread_create(&t[i], NULL, ctx_worker, &w[i]);
	}
	for (int i = 0; i < 1000; i++)
		chan_send(jobs, &job);
	while (chan_len(jobs) > 0)
		sched_yield();
	chan_ctx_cancel(ctx);
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		cr_assert_eq(w[i].err, -ECANCELED);
		total += w[i].done;
	}
	cr_assert_eq(total, 1000);
	chan_ctx_release(ctx);
	chan_release(jobs);
}

struct canceler {
	chan_ctx_t *ctx;
};

static void *cancel_it(void *arg)
{
	chan_ctx_cancel(((struct canceler *)arg)->ctx);
	return NULL;
}

Test(ctx, err_is_zero_until_done_is_closed)
{
	for (int i = 0; i < 2000; i++) {
		chan_ctx_t *c = chan_ctx_with_cancel(chan_ctx_background());
		struct canceler k = { c };
		pthread_t t;

		pthread_create(&t, NULL, cancel_it, &k);
		for (int spin = 0; spin < 1000; spin++) {
			if (chan_ctx_err(c) != 0) {
				cr_assert(done_closed(c), "err set while done still blocks");
				break;
			}
		}
		pthread_join(t, NULL);
		chan_ctx_release(c);
	}
}

/* ---- the lazy done channel (made on the first chan_ctx_done()) ----------- */

Test(ctx, lazy_done_made_after_cancel_is_closed)
{
	chan_ctx_t *root = chan_ctx_with_cancel(chan_ctx_background());
	chan_ctx_t *kid = chan_ctx_with_cancel(root);
	chan_ctx_t *past = chan_ctx_with_deadline(chan_ctx_background(), chan_now() - MS);
	chan_ctx_t *late;
	chan_t *d;

	cr_assert(root && kid && past);
	/* No chan_ctx_done() before the cancel: nothing to close yet. */
	chan_ctx_cancel(root);
	late = chan_ctx_with_cancel(root); /* starts canceled, never had done */
	cr_assert_not_null(late);
	chan_ctx_t *all[] = { root, kid, past, late };
	const int want[] = { -ECANCELED, -ECANCELED, -ETIMEDOUT, -ECANCELED };

	for (int i = 0; i < 4; i++) {
		/* err first: it must not wait for a done channel to exist. */
		cr_assert_eq(chan_ctx_err(all[i]), want[i], "ctx %d", i);
		d = chan_ctx_done(all[i]);
		cr_assert_not_null(d);
		cr_assert(chan_is_closed(d), "ctx %d: done made after the cancel is open", i);
		cr_assert_eq(chan_try_recv(d, NULL), -EPIPE);
		cr_assert_eq(chan_ctx_done(all[i]), d, "ctx %d: a second done channel", i);
		cr_assert_eq(chan_ctx_err(all[i]), want[i]);
	}
	chan_ctx_release(late);
	chan_ctx_release(past);
	chan_ctx_release(kid);
	chan_ctx_release(root);
}

Test(ctx, lazy_done_made_before_cancel_is_closed_by_it)
{
	chan_ctx_t *c = chan_ctx_with_cancel(chan_ctx_background());
	chan_t *d = chan_ctx_done(c);

	cr_assert_not_null(d);
	cr_assert_eq(chan_ctx_done(c), d);
	cr_assert(!chan_is_closed(d));
	cr_assert_eq(chan_ctx_err(c), 0);
	chan_ctx_cancel(c);
	cr_assert_eq(chan_try_recv(d, NULL), -EPIPE);
	cr_assert_eq(chan_ctx_err(c), -ECANCELED);
	cr_assert_eq(chan_ctx_done(c), d);
	chan_ctx_release(c);
}

#define FIRST_DONE_THREADS 8
#define FIRST_DONE_ROUNDS  200

struct first_done {
	pthread_barrier_t *start;
	chan_ctx_t *ctx;
	chan_t *got;
};

static void *first_done_fn(void *arg)
{
	struct first_done *f = arg;

	pthread_barrier_wait(f->start);
	f->got = chan_ctx_done(f->ctx);
	return NULL;
}

Test(ctx, concurrent_first_done_calls_return_one_channel)
{
	pthread_barrier_t start;
	struct first_done f[FIRST_DONE_THREADS];
	pthread_t t[FIRST_DONE_THREADS];
	int bad = -1;

	pthread_barrier_init(&start, NULL, FIRST_DONE_THREADS);
	for (int round = 0; round < FIRST_DONE_ROUNDS && bad < 0; round++) {
		chan_ctx_t *c = chan_ctx_with_cancel(chan_ctx_background());

		if (!c) {
			bad = round;
			break;
		}
		for (int i = 0; i < FIRST_DONE_THREADS; i++) {
			f[i] = (struct first_done){ .start = &start, .ctx = c };
			pthread_create(&t[i], NULL, first_done_fn, &f[i]);
		}
		for (int i = 0; i < FIRST_DONE_THREADS; i++)
			pthread_join(t[i], NULL);
		for (int i = 0; i < FIRST_DONE_THREADS; i++)
			if (!f[i].got || f[i].got != f[0].got || f[i].got != chan_ctx_done(c))
				bad = round;
		/* The one channel is the one the cancel closes. */
		chan_ctx_cancel(c);
		if (chan_try_recv(f[0].got, NULL) != -EPIPE)
			bad = round;
		chan_ctx_release(c); /* ASan/LSan: the losers' channels were freed */
	}
	pthread_barrier_destroy(&start);
	/* One assert outside the loop (Criterion logs every passing one). */
	cr_assert(bad < 0, "round %d: first chan_ctx_done() calls disagree", bad);
}

#define RACE_ROUNDS 1000

struct done_racer {
	pthread_barrier_t *start;
	chan_ctx_t *ctx;
	const char *bad; /* the broken invariant, or NULL */
};

static void *race_cancel_fn(void *arg)
{
	struct done_racer *r = arg;

	pthread_barrier_wait(r->start);
	chan_ctx_cancel(r->ctx);
	return NULL;
}

/* Make done while the cancel runs, then wait on it: the close must come. */
static void *race_done_fn(void *arg)
{
	struct done_racer *r = arg;
	chan_t *d;

	pthread_barrier_wait(r->start);
	d = chan_ctx_done(r->ctx);
	if (!d) {
		r->bad = "chan_ctx_done() failed without a fault";
		return NULL;
	}
	if (chan_ctx_err(r->ctx) != 0 && !chan_is_closed(d))
		r->bad = "err set while done (made in the race) still blocks";
	else if (chan_recv_timeout(d, NULL, 10000 * MS) != -EPIPE)
		r->bad = "done made in the race was never closed";
	return NULL;
}

/* Poll err; once it is set, a done channel made now must be closed. */
static void *race_err_fn(void *arg)
{
	struct done_racer *r = arg;

	pthread_barrier_wait(r->start);
	for (int spin = 0; spin < 20000; spin++) {
		if (chan_ctx_err(r->ctx) == 0)
			continue;
		if (!chan_is_closed(chan_ctx_done(r->ctx)))
			r->bad = "err seen, then done handed out open";
		return NULL;
	}
	return NULL; /* the cancel was slow: nothing to check this round */
}

Test(ctx, cancel_racing_the_first_done_call)
{
	pthread_barrier_t start;
	const char *bad = NULL;
	int bad_round = -1;

	pthread_barrier_init(&start, NULL, 3);
	for (int round = 0; round < RACE_ROUNDS && !bad; round++) {
		chan_ctx_t *c = chan_ctx_with_cancel(chan_ctx_background());
		struct done_racer r[3];
		void *(*fns[3])(void *) = { race_cancel_fn, race_done_fn, race_err_fn };
		pthread_t t[3];

		if (!c) {
			bad = "chan_ctx_with_cancel() failed";
			break;
		}
		for (int i = 0; i < 3; i++) {
			r[i] = (struct done_racer){ .start = &start, .ctx = c };
			pthread_create(&t[i], NULL, fns[i], &r[i]);
		}
		for (int i = 0; i < 3; i++) {
			pthread_join(t[i], NULL);
			if (r[i].bad && !bad)
				bad = r[i].bad;
		}
		if (!bad && (chan_ctx_err(c) != -ECANCELED ||
			     chan_try_recv(chan_ctx_done(c), NULL) != -EPIPE))
			bad = "after the race: not canceled, or done still open";
		if (bad)
			bad_round = round;
		chan_ctx_release(c);
	}
	pthread_barrier_destroy(&start);
	cr_assert(!bad, "round %d: %s", bad_round, bad ? bad : "");
}

/* ---- chan_ctx_after_func / chan_ctx_stop_after -------------------------- */

#if defined(__SANITIZE_THREAD__)
#define AFTER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define AFTER_TSAN 1
#endif
#endif
#ifndef AFTER_TSAN
#define AFTER_TSAN 0
#endif

struct after_probe {
	_Atomic int runs;
	_Atomic int err_seen; /* chan_ctx_err() as fn saw it */
	chan_ctx_t *ctx;
	chan_t *ran; /* capacity 64: fn sends one byte when it ran */
};

static void after_probe_fn(void *arg)
{
	struct after_probe *p = arg;
	/* Our own reference: the test may release its one as soon as it has
	 * received, while this send is still returning. */
	chan_t *ran = chan_retain(p->ran);
	char one = 1;

	atomic_store(&p->err_seen, chan_ctx_err(p->ctx));
	atomic_fetch_add(&p->runs, 1);
	chan_send(ran, &one);
	chan_release(ran);
}

static void probe_init(struct after_probe *p, chan_ctx_t *ctx)
{
	atomic_init(&p->runs, 0);
	atomic_init(&p->err_seen, 0);
	p->ctx = ctx;
	p->ran = chan_new(1, 64);
	cr_assert_not_null(p->ran);
}

Test(ctx, after_func_runs_once_when_canceled)
{
	chan_ctx_t *c = chan_ctx_with_cancel(chan_ctx_background());
	struct after_probe p;

	probe_init(&p, c);
	chan_ctx_after_t *h = chan_ctx_after_func(c, after_probe_fn, &p);

	cr_assert_not_null(h);
	cr_assert_eq(chan_len(p.ran), 0);
	chan_ctx_cancel(c);
	chan_ctx_cancel(c);
	cr_assert_eq(chan_recv(p.ran, NULL), 0);
	cr_assert_eq(atomic_load(&p.err_seen), -ECANCELED, "fn ran before err was set");
	cr_assert(!chan_ctx_stop_after(h), "fn ran, yet stop says it stopped it");
	chan_ctx_release(c);
	cr_assert_eq(atomic_load(&p.runs), 1);
	chan_release(p.ran);
}

Test(ctx, after_func_on_a_done_ctx_runs_at_once)
{
	chan_ctx_t *c = chan_ctx_with_cancel(chan_ctx_background());
	struct after_probe p;

	probe_init(&p, c);
	chan_ctx_cancel(c);
	chan_ctx_after_t *h = chan_ctx_after_func(c, after_probe_fn, &p);

	cr_assert_not_null(h);
	cr_assert_eq(chan_recv(p.ran, NULL), 0);
	cr_assert_eq(atomic_load(&p.err_seen), -ECANCELED);
	cr_assert(!chan_ctx_stop_after(h));
	cr_assert_eq(atomic_load(&p.runs), 1);
	chan_ctx_release(c);
	chan_release(p.ran);
}

Test(ctx, stop_after_before_cancel_means_fn_never_runs)
{
	chan_ctx_t *c = chan_ctx_with_cancel(chan_ctx_background());
	struct after_probe stopped, witness;

	probe_init(&stopped, c);
	probe_init(&witness, c);
	chan_ctx_after_t *h = chan_ctx_after_func(c, after_probe_fn, &stopped);
	chan_ctx_after_t *w = chan_ctx_after_func(c, after_probe_fn, &witness);

	cr_assert(chan_ctx_stop_after(h));
	chan_ctx_cancel(c);
	/* The witness fired from the same transition; the stopped one, which
	 * that transition no longer had in its list, did not. */
	cr_assert_eq(chan_recv(witness.ran, NULL), 0);
	cr_assert(!chan_ctx_stop_after(w));
	cr_assert_eq(atomic_load(&stopped.runs), 0);
	cr_assert_eq(chan_len(stopped.ran), 0);
	chan_ctx_release(c);
	chan_release(stopped.ran);
	chan_release(witness.ran);
}

Test(ctx, after_func_fires_on_deadline_and_parent_cancel)
{
	int64_t t0 = chan_now(); /* before the deadline is set: never early from here */
	chan_ctx_t *parent = chan_ctx_with_cancel(chan_ctx_background());
	chan_ctx_t *child = chan_ctx_with_cancel(parent);
	chan_ctx_t *timed = chan_ctx_with_timeout(chan_ctx_background(), 5 * MS);
	struct after_probe pc, pt;

	probe_init(&pc, child);
	probe_init(&pt, timed);
	chan_ctx_after_t *hc = chan_ctx_after_func(child, after_probe_fn, &pc);
	chan_ctx_after_t *ht = chan_ctx_after_func(timed, after_probe_fn, &pt);

	cr_assert_eq(chan_recv(pt.ran, NULL), 0);
	cr_assert_geq(chan_now() - t0, 5 * MS, "deadline after-func ran early");
	cr_assert_eq(atomic_load(&pt.err_seen), -ETIMEDOUT);
	chan_ctx_cancel(parent);
	cr_assert_eq(chan_recv(pc.ran, NULL), 0);
	cr_assert_eq(atomic_load(&pc.err_seen), -ECANCELED);
	cr_assert(!chan_ctx_stop_after(hc));
	cr_assert(!chan_ctx_stop_after(ht));
	chan_ctx_release(child);
	chan_ctx_release(parent);
	chan_ctx_release(timed);
	chan_release(pc.ran);
	chan_release(pt.ran);
}

Test(ctx, after_func_background_never_fires_and_bad_arguments)
{
	struct after_probe p;

	probe_init(&p, chan_ctx_background());
	chan_ctx_after_t *h = chan_ctx_after_func(chan_ctx_background(), after_probe_fn, &p);

	cr_assert_not_null(h);
	chan_ctx_cancel(chan_ctx_background());
	cr_assert(chan_ctx_stop_after(h));
	cr_assert_eq(atomic_load(&p.runs), 0);
	errno = 0;
	cr_assert_null(chan_ctx_after_func(NULL, after_probe_fn, &p));
	cr_assert_eq(errno, EINVAL);
	errno = 0;
	cr_assert_null(chan_ctx_after_func(chan_ctx_background(), NULL, &p));
	cr_assert_eq(errno, EINVAL);
	cr_assert(!chan_ctx_stop_after(NULL));
	chan_release(p.ran);
}

Test(ctx, stop_after_outlives_the_released_ctx)
{
	chan_ctx_t *c = chan_ctx_with_cancel(chan_ctx_background());
	struct after_probe p;

	probe_init(&p, c);
	chan_ctx_after_t *h = chan_ctx_after_func(c, after_probe_fn, &p);

	cr_assert_not_null(h);
	p.ctx = chan_ctx_background(); /* fn must not read c once it is released */
	chan_ctx_release(c);		/* cancels: fires */
	cr_assert_eq(chan_recv(p.ran, NULL), 0);
	cr_assert(!chan_ctx_stop_after(h)); /* touches c's memory: still ours (ASan) */
	chan_release(p.ran);
}

Test(ctx, many_after_funcs_some_stopped)
{
	enum { N = 64 };
	chan_ctx_t *c = chan_ctx_with_cancel(chan_ctx_background());
	chan_ctx_after_t *h[N];
	struct after_probe p;
	int fired = 0;

	probe_init(&p, c);
	for (int i = 0; i < N; i++) {
		h[i] = chan_ctx_after_func(c, after_probe_fn, &p);
		cr_assert_not_null(h[i]);
	}
	/* Unlink from the head, the tail and the middle of the list. */
	for (int i = 0; i < N; i += 3)
		cr_assert(chan_ctx_stop_after(h[i]));
	chan_ctx_cancel(c);
	for (int i = 0; i < N; i++)
		if (i % 3 != 0) {
			cr_assert_eq(chan_recv(p.ran, NULL), 0);
			fired++;
		}
	for (int i = 0; i < N; i++)
		if (i % 3 != 0)
			cr_assert(!chan_ctx_stop_after(h[i]));
	cr_assert_eq(atomic_load(&p.runs), fired);
	cr_assert_eq(chan_len(p.ran), 0);
	chan_ctx_release(c);
	chan_release(p.ran);
}

struct after_race {
	chan_ctx_t *ctx;
	chan_ctx_after_t *h;
	_Atomic int go;
	bool stopped;
};

static void *race_stop(void *arg)
{
	struct after_race *r = arg;

	while (!atomic_load(&r->go))
		;
	r->stopped = chan_ctx_stop_after(r->h);
	return NULL;
}

static void race_fn(void *arg)
{
	atomic_fetch_add((_Atomic int *)arg, 1);
}

/* Stop racing cancel: exactly one of "fn ran" and "stop returned true". */
Test(ctx, stop_after_racing_cancel_is_exactly_once)
{
	int iters = AFTER_TSAN ? 1000 : 10000;

	for (int i = 0; i < iters; i++) {
		struct after_race r = { .ctx = chan_ctx_with_cancel(chan_ctx_background()) };
		_Atomic int runs = 0;
		pthread_t t;

		r.h = chan_ctx_after_func(r.ctx, race_fn, &runs);
		cr_assert_not_null(r.h);
		pthread_create(&t, NULL, race_stop, &r);
		atomic_store(&r.go, 1);
		chan_ctx_cancel(r.ctx);
		pthread_join(t, NULL);
		if (r.stopped) {
			cr_assert_eq(atomic_load(&runs), 0, "stopped, yet fn ran (iteration %d)", i);
		} else {
			while (atomic_load(&runs) == 0) /* it has started: it finishes */
				sched_yield();
		}
		cr_assert_leq(atomic_load(&runs), 1);
		chan_ctx_release(r.ctx);
	}
}

Test(ctx, after_func_out_of_memory_retains_nothing)
{
	chan_ctx_t *c = chan_ctx_with_cancel(chan_ctx_background());
	struct after_probe p;

	probe_init(&p, c);
	chan__fault_arm(CHAN__FAULT_ALLOC, 1);
	errno = 0;
	cr_assert_null(chan_ctx_after_func(c, after_probe_fn, &p));
	cr_assert_eq(errno, ENOMEM);
	chan__fault_arm(CHAN__FAULT_ALLOC, 0);
	chan_ctx_cancel(c);
	chan_ctx_after_t *h = chan_ctx_after_func(c, after_probe_fn, &p); /* works after */

	cr_assert_eq(chan_recv(p.ran, NULL), 0);
	cr_assert(!chan_ctx_stop_after(h));
	cr_assert_eq(atomic_load(&p.runs), 1, "the failed registration ran fn");
	chan_ctx_release(c); /* ASan: the failed one left no reference on c */
	chan_release(p.ran);
}
