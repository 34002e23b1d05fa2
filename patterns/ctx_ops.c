/* SPDX-License-Identifier: MIT */
/*
 * patterns/ctx_ops.c - chan_recv_ctx() / chan_send_ctx(): one channel
 * operation or the context's done channel, whichever comes first.
 *
 * A try on the channel first (no select, no registration on the shared done
 * channel when the value is there), then a two-case select. The select fires
 * exactly one case, so a cancel that wins has taken no value, and a value
 * that wins is delivered even if the cancel came at the same time. The done
 * channel is closed only after the context's err is stored, so a done case
 * that fired always finds chan_ctx_err() != 0. The background context is
 * never done: its calls are the plain blocking ones. The done channel is
 * asked for only when the call must wait (the first ask makes it, which
 * can fail: -ENOMEM, with nothing moved).
 */
#include <errno.h>

#include <chan/chan.h>

#include "stage_pvt.h"

int chan__recv_wait(chan_t *c, void *elem, chan_ctx_t *ctx)
{
	int r = chan_try_recv(c, elem);

	if (r != -EAGAIN)
		return r;
	if (ctx == chan_ctx_background())
		return chan_recv(c, elem);

	chan_t *done = chan_ctx_done(ctx);

	if (!done)
		return -ENOMEM; /* a NULL case would never fire: never wait on it */

	chan_case_t cs[2] = {
		{ .chan = c, .op = CHAN_OP_RECV, .elem = elem },
		{ .chan = done, .op = CHAN_OP_RECV },
	};

	r = chan_select(cs, 2);
	if (r == 0)
		return cs[0].err;
	if (r == 1)
		return chan_ctx_err(ctx) ? chan_ctx_err(ctx) : -ECANCELED;
	return r; /* -ENOMEM cannot happen with two cases; pass it on */
}

int chan__send_wait(chan_t *c, const void *elem, chan_ctx_t *ctx)
{
	int r = chan_try_send(c, elem);

	if (r != -EAGAIN)
		return r;
	if (ctx == chan_ctx_background())
		return chan_send(c, elem);

	chan_t *done = chan_ctx_done(ctx);

	if (!done)
		return -ENOMEM; /* a NULL case would never fire: never wait on it */

	chan_case_t cs[2] = {
		{ .chan = c, .op = CHAN_OP_SEND, .elem = (void *)elem },
		{ .chan = done, .op = CHAN_OP_RECV },
	};

	r = chan_select(cs, 2);
	if (r == 0)
		return cs[0].err;
	if (r == 1)
		return chan_ctx_err(ctx) ? chan_ctx_err(ctx) : -ECANCELED;
	return r;
}

int chan_recv_ctx(chan_t *c, void *elem, chan_ctx_t *ctx)
{
	int r;

	if (!c || !ctx)
		return -EINVAL;
	r = chan_ctx_err(ctx);
	if (r != 0)
		return r;
	return chan__recv_wait(c, elem, ctx);
}

int chan_send_ctx(chan_t *c, const void *elem, chan_ctx_t *ctx)
{
	int r;

	if (!c || !elem || !ctx)
		return -EINVAL;
	r = chan_ctx_err(ctx);
	if (r != 0)
		return r;
	return chan__send_wait(c, elem, ctx);
}
