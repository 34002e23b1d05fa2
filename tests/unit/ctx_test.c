/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/ctx_test.c - context trees: cancel cascades, late children,
 * deadlines, values, release order.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include <chan/chan.h>

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
	chan_ctx_t *p = chan_ctx_with_timeout(chan_ctx_background(), 20 * MS);
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
	cr_assert_null(chan_ctx_done(NULL));
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
