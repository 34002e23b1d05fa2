/* SPDX-License-Identifier: MIT */
/*
 * tests/regress/background_ctx_enomem.c - issue 10, defect 2.
 *
 * The background context used to create its done channel lazily, on first
 * use. If that allocation failed, chan_ctx_done(background) stayed NULL for
 * the life of the process, and a receive on it answered -EINVAL instead of
 * waiting; ctx.h promises a real channel that is never closed. The done
 * channel is now static storage: nothing can fail. This test fails the first
 * allocation of the process's first use of the background context.
 */
#include <criterion/criterion.h>
#include <errno.h>

#include <chan/chan.h>

#include "ring/fault.h"

#define MS 1000000LL

Test(background_ctx_enomem, done_channel_survives_a_failed_first_allocation)
{
	chan_ctx_t *bg;
	chan_t *done;

	chan__fault_arm(CHAN__FAULT_ALLOC, 1);
	bg = chan_ctx_background(); /* the first use in this process */
	done = chan_ctx_done(bg);
	chan__fault_arm(CHAN__FAULT_ALLOC, 0);

	cr_assert_not_null(bg);
	cr_assert_not_null(done, "the background's done channel must always exist");
	cr_assert_eq(chan_try_recv(done, NULL), -EAGAIN, "never closed: a receive would wait");
	cr_assert_eq(chan_recv_timeout(done, NULL, 10 * MS), -ETIMEDOUT);

	chan_case_t cs[] = { { .chan = done, .op = CHAN_OP_RECV } };

	cr_assert_eq(chan_select_timeout(cs, 1, 10 * MS), -ETIMEDOUT);
	cr_assert_eq(chan_ctx_err(bg), 0);
	cr_assert_eq(chan_is_closed(done), false);

	/* Releasing what it borrowed, or the context itself, changes nothing. */
	chan_ctx_release(bg);
	chan_ctx_cancel(bg);
	cr_assert_eq(chan_ctx_err(bg), 0);
	cr_assert_eq(chan_ctx_done(bg), done);

	/* And its children still work, after a failed one. */
	chan__fault_arm(CHAN__FAULT_ALLOC, 1);
	cr_assert_null(chan_ctx_with_cancel(bg));
	cr_assert_eq(errno, ENOMEM);
	chan__fault_arm(CHAN__FAULT_ALLOC, 0);

	chan_ctx_t *kid = chan_ctx_with_cancel(bg);

	cr_assert_not_null(kid);
	chan_ctx_cancel(kid);
	cr_assert_eq(chan_recv(chan_ctx_done(kid), NULL), -EPIPE);
	chan_ctx_release(kid);
}
