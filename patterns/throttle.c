/* SPDX-License-Identifier: MIT */
/*
 * patterns/throttle.c - chan_throttle(): the seed's time.Tick loop
 *
 *	for req := range requests { <-limiter; out <- req }
 *
 * as a stage on a token bucket (chan/limiter.h), with bursts: when the
 * bucket holds k tokens and k values are ready, they leave with one burst.
 *
 * One task, the only sender on the output (CHAN_SINGLE_PRODUCER). A round:
 *  1. wait (ctx-aware) for one value of the input;
 *  2. read the tokens the bucket holds now, k, and take up to
 *     min(k, batch) - 1 more values that are ready, without waiting;
 *  3. take as many tokens as there are for the values held (one allow_n),
 *     and send those values with one burst; when there is no token,
 *     reserve one and sleep until its time, or until the group's ctx is
 *     done (x/time/rate's Wait, parked on a select with a timeout), then
 *     go on with the rest of the round.
 * Invariants:
 *  - T1 (never early): a value is sent only after a token for it was taken
 *    from @l (allow_n, or a reservation whose time has come), so what the
 *    stage sends obeys the bucket's bound, burst + rate * d, together with
 *    every other user of the same limiter.
 *  - T2 (no token taken ahead): tokens are taken only for values the stage
 *    holds, so a shared bucket never loses tokens to a stage that has
 *    nothing to send; a reservation cut short by a cancel is given back
 *    (chan_limiter_cancel(): unless its time has already come).
 *  - T3 (exactly once): every value taken from the input is sent, or, when
 *    the stage stops early, handed to out.drop once; values still in the
 *    input stay there. The task closes the output after its last drop().
 *  - T4 (bounded holding): the stage holds at most max(1, min(k, batch))
 *    values, k the tokens it saw in step 2; more only when another user of
 *    the limiter took those tokens in between.
 * A rate that never refills (rate 0 with an empty bucket, burst 0, a
 * reservation beyond the limiter's clock) cannot be reserved: the task
 * parks on the done channel and looks again after 1 ms, doubling up to 1 s,
 * so that a set_rate()/set_burst() on a shared limiter is seen.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <chan/chan.h>

#include "stage_pvt.h"

#define MS	       INT64_C(1000000)
#define RECHECK_MIN_NS (1 * MS)
#define RECHECK_MAX_NS (1000 * MS)

struct throttle {
	chan_group_t *g;
	chan_t *in, *out;  /* referenced */
	chan_limiter_t *l; /* borrowed: outlives the stage (the caller's promise) */
	size_t esz, batch;
	void (*drop)(void *);
	char buf[];
};

/* The tokens @l holds at @now, as a whole count in [0, max]. */
static size_t tokens_at(chan_limiter_t *l, int64_t now, size_t max)
{
	double k = chan_limiter_tokens(l, now); /* INFINITY when unlimited */

	if (!(k >= 1))
		return 0;
	if (k >= (double)max)
		return max;
	return (size_t)k;
}

/*
 * Take up to @want of the tokens that are there now (T2: never more than
 * the caller has values for). Each failed allow_n() means another user
 * took tokens in between (or tokens() rounded up): try fewer, so the loop
 * ends after at most @want tries. Return how many were taken.
 */
static size_t take_tokens(chan_limiter_t *l, size_t want)
{
	int64_t now = chan_now();
	size_t m = tokens_at(l, now, want);

	while (m > 0) {
		if (chan_limiter_allow_n(l, now, m))
			return m;
		m = tokens_at(l, now, m - 1);
	}
	return 0;
}

static int ctx_error(chan_ctx_t *ctx)
{
	int r = chan_ctx_err(ctx);

	return r != 0 ? r : -ECANCELED;
}

/*
 * Park until @ctx is done or @timeout_ns passed. Return: 0 if the time
 * passed, the ctx's error if it is done, or -ENOMEM if its done channel
 * could not be made (the group's ctx: chan_group_new() made it, so never;
 * were it NULL, the select would sleep through a cancel).
 */
static int done_within(chan_ctx_t *ctx, int64_t timeout_ns)
{
	chan_t *done = chan_ctx_done(ctx);

	if (!done)
		return -ENOMEM;

	chan_case_t cs[1] = {{.chan = done, .op = CHAN_OP_RECV}};

	/* A case fired (done is closed only after the ctx's err is set) or,
	 * with one case, nothing else can come back but -ETIMEDOUT. */
	if (chan_select_timeout(cs, 1, timeout_ns) == -ETIMEDOUT)
		return 0;
	return ctx_error(ctx);
}

/*
 * Take one token, sleeping until it comes: 0, or the ctx's error, or
 * -ENOMEM from done_within() (nothing taken either way). Never returns 0 before the reservation's time (a timeout is not
 * a promise: the clock is read again). The ctx's deadline does not refuse
 * a reservation beyond it, as chan_limiter_wait() would: the stage sleeps
 * until the deadline cancels the group instead, so it never stops (and
 * closes its output) before its group is done.
 */
static int wait_token(chan_limiter_t *l, chan_ctx_t *ctx)
{
	int64_t recheck = RECHECK_MIN_NS;
	int err;

	for (;;) {
		chan_reservation_t r;
		int64_t now = chan_now();

		if (chan_limiter_reserve(l, now, 1, INT64_MAX, &r) == 0) {
			while (now < r.act_at_ns) {
				err = done_within(ctx, r.act_at_ns - now);
				if (err != 0) {
					chan_limiter_cancel(l, &r, chan_now());
					return err;
				}
				now = chan_now();
			}
			return 0;
		}
		/* -ETIMEDOUT: no token ever comes at this configuration;
		 * -EINVAL: burst 0. Either may change (set_rate, set_burst). */
		err = done_within(ctx, recheck);
		if (err != 0)
			return err;
		recheck = recheck < RECHECK_MAX_NS / 2 ? 2 * recheck : RECHECK_MAX_NS;
	}
}

static int throttle_main(chan_ctx_t *ctx, void *arg)
{
	struct throttle *s = arg;
	int err = 0;

	while (err == 0 && chan_ctx_err(ctx) == 0) {
		size_t n = chan__stage_recv(s->in, s->buf, s->esz, 1, ctx, &err), i = 0;

		if (n == 0)
			break; /* -EPIPE: closed and drained; or canceled */
		if (s->batch > 1) {
			size_t k = tokens_at(s->l, chan_now(), s->batch);

			if (k > 1)
				n += chan_try_recv_burst(s->in, s->buf + s->esz, k - 1);
		}
		while (i < n) {
			size_t m = take_tokens(s->l, n - i);

			if (m == 0) {
				err = wait_token(s->l, ctx);
				if (err != 0)
					break;
				m = 1 + take_tokens(s->l, n - i - 1);
			}
			/* T1: m tokens are ours. On error the values of this
			 * burst that were not sent went to drop. */
			err = chan__stage_send(s->out, s->buf + i * s->esz, s->esz, m, ctx,
					       s->drop);
			i += m;
			if (err != 0)
				break;
		}
		chan__stage_drop(s->buf + i * s->esz, s->esz, n - i, s->drop); /* T3 */
	}
	/* Out of memory (to wait, or to grow an unbounded output): fail, as
	 * the other stages do, never close quietly. */
	if (err == -ENOMEM)
		chan_group_cancel(s->g, err);
	chan_close(s->out);
	chan_release(s->out);
	chan_release(s->in);
	free(s);
	return 0; /* a stage never reports cancellation (or a closed output) */
}

chan_t *chan_throttle(chan_group_t *g, chan_t *in, chan_limiter_t *l, const chan_stage_opts_t *o)
{
	struct throttle *s;
	size_t esz, batch;
	chan_t *out;
	int r;

	o = chan__stage_opts(o);
	if (!g || !in || !l || (o->out.elem_size != 0 && o->out.elem_size != chan_elem_size(in))) {
		errno = EINVAL;
		return NULL;
	}
	esz = chan_elem_size(in);
	out = chan__stage_out(&o->out, esz, true);
	if (!out)
		return NULL; /* EINVAL (bad options) or ENOMEM */
	r = chan__stage_canceled(g);
	if (r != 0)
		goto fail;
	batch = chan__stage_batch(o);
	s = malloc(sizeof(*s) + batch * esz);
	if (!s) {
		r = -ENOMEM;
		goto fail;
	}
	*s = (struct throttle){.g = g,
			       .in = chan_retain(in),
			       .out = chan_retain(out),
			       .l = l,
			       .esz = esz,
			       .batch = batch,
			       .drop = o->out.drop};
	return chan__stage_launch(g, throttle_main, s, s->in, s->out);
fail:
	chan_release(out);
	errno = -r;
	return NULL;
}
