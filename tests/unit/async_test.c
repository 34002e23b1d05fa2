/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/async_test.c - chan_async(): one result, then closed; arg
 * freed once; an unread result dropped; the task's context a child of the
 * caller's.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <chan/chan.h>

#define MS 1000000LL

struct result {
	long value;
	int err;
	long *owned; /* freed by whoever consumes the result, or by drop() */
};

static _Atomic int freed_args, dropped_results;

static void arg_free(void *arg)
{
	atomic_fetch_add(&freed_args, 1);
	free(arg);
}

static void result_drop(void *elem)
{
	free(((struct result *)elem)->owned);
	atomic_fetch_add(&dropped_results, 1);
}

static const chan_opts_t RES = { .elem_size = sizeof(struct result), .drop = result_drop };

/* Doubles *arg, after waiting *arg ms unless the context is done first. */
static void work(chan_ctx_t *ctx, void *arg, void *out)
{
	struct result *r = out;
	long v = *(long *)arg;

	if (r->value != 0 || r->err != 0 || r->owned)
		abort(); /* the result starts zeroed (no cr_assert off the test's thread) */
	chan_t *t = chan_after(v * MS);
	chan_case_t cs[] = {
		{ .chan = t, .op = CHAN_OP_RECV },
		{ .chan = chan_ctx_done(ctx), .op = CHAN_OP_RECV },
	};

	if (chan_select(cs, 2) == 1) {
		r->err = chan_ctx_err(ctx);
	} else {
		r->value = 2 * v;
		r->owned = malloc(sizeof(long));
	}
	chan_release(t);
}

static long *arg_of(long v)
{
	long *a = malloc(sizeof(*a));

	*a = v;
	return a;
}

Test(async, one_result_then_closed)
{
	struct result r;

	atomic_store(&freed_args, 0);
	chan_t *c = chan_async(chan_ctx_background(), work, arg_of(1), arg_free, &RES);

	cr_assert_not_null(c);
	cr_assert_eq(chan_cap(c), 1);
	cr_assert_eq(chan_recv(c, &r), 0);
	cr_assert_eq(r.err, 0);
	cr_assert_eq(r.value, 2);
	cr_assert_eq(atomic_load(&freed_args), 1, "arg_free happens-before the result");
	cr_assert_eq(chan_recv(c, &r), -EPIPE);
	free(r.owned);
	chan_release(c);
}

Test(async, unread_result_goes_to_drop)
{
	atomic_store(&dropped_results, 0);
	atomic_store(&freed_args, 0);
	for (int i = 0; i < 100; i++) {
		chan_t *c = chan_async(chan_ctx_background(), work, arg_of(0), arg_free, &RES);

		cr_assert_not_null(c);
		chan_release(c); /* the task finishes anyway and its result is dropped */
	}
	int64_t give_up = chan_now() + 30000 * MS;

	while (atomic_load(&dropped_results) < 100 && chan_now() < give_up)
		sched_yield();
	cr_assert_eq(atomic_load(&dropped_results), 100);
	cr_assert_eq(atomic_load(&freed_args), 100);
}

Test(async, releasing_the_ctx_cancels_the_task)
{
	chan_ctx_t *ctx = chan_ctx_with_cancel(chan_ctx_background());
	struct result r;
	chan_t *c = chan_async(ctx, work, arg_of(1000000), arg_free, &RES);

	chan_ctx_release(ctx); /* at any time: the task has its own child */
	cr_assert_eq(chan_recv(c, &r), 0);
	cr_assert_eq(r.err, -ECANCELED);
	cr_assert_null(r.owned);
	chan_release(c);
}

Test(async, timeout_that_fires_and_one_that_does_not)
{
	chan_ctx_t *fast = chan_ctx_with_timeout(chan_ctx_background(), 5 * MS);
	chan_ctx_t *slow = chan_ctx_with_timeout(chan_ctx_background(), 100000 * MS);
	struct result r;
	chan_t *a = chan_async(fast, work, arg_of(100000), arg_free, &RES);
	chan_t *b = chan_async(slow, work, arg_of(1), arg_free, &RES);

	cr_assert_eq(chan_recv(a, &r), 0);
	cr_assert_eq(r.err, -ETIMEDOUT);
	cr_assert_eq(chan_recv(b, &r), 0);
	cr_assert_eq(r.err, 0);
	cr_assert_eq(r.value, 2);
	free(r.owned);
	chan_release(a);
	chan_release(b);
	chan_ctx_release(fast);
	chan_ctx_release(slow);
}

Test(async, done_ctx_still_runs_fn)
{
	chan_ctx_t *ctx = chan_ctx_with_cancel(chan_ctx_background());
	struct result r;

	atomic_store(&freed_args, 0);
	chan_ctx_cancel(ctx);
	chan_t *c = chan_async(ctx, work, arg_of(100000), arg_free, &RES);

	cr_assert_not_null(c);
	cr_assert_eq(chan_recv(c, &r), 0);
	cr_assert_eq(r.err, -ECANCELED);
	cr_assert_eq(atomic_load(&freed_args), 1);
	chan_release(c);
	chan_ctx_release(ctx);
}

Test(async, bad_arguments_leave_arg_with_the_caller)
{
	long a = 1;

	atomic_store(&freed_args, 0);
#define EXPECT_EINVAL(call)                     \
	do {                                    \
		errno = 0;                      \
		cr_assert_null(call, #call);    \
		cr_assert_eq(errno, EINVAL);    \
	} while (0)
	EXPECT_EINVAL(chan_async(NULL, work, &a, arg_free, &RES));
	EXPECT_EINVAL(chan_async(chan_ctx_background(), NULL, &a, arg_free, &RES));
	EXPECT_EINVAL(chan_async(chan_ctx_background(), work, &a, arg_free, NULL));
	EXPECT_EINVAL(chan_async(chan_ctx_background(), work, &a, arg_free, &(chan_opts_t){ 0 }));
	EXPECT_EINVAL(chan_async(chan_ctx_background(), work, &a, arg_free,
				 &(chan_opts_t){ .elem_size = 8, .flags = 1u << 9 }));
#undef EXPECT_EINVAL
	cr_assert_eq(atomic_load(&freed_args), 0);
}
