/* SPDX-License-Identifier: MIT */
/*
 * patterns/flatten.c - chan_flatten(): a channel of channels read as one
 * stream, inner channel after inner channel (Go's bridge), by one task.
 *
 * Each chan_t * received from the outer channel is a reference the task
 * owns: it drains that channel into the output and releases it (also when
 * it stops early; references still buffered in the outer channel stay the
 * outer channel's, for its drop()). The task is the only sender.
 */
#include <errno.h>
#include <stdlib.h>

#include <chan/chan.h>

#include "stage_pvt.h"

struct flatten {
	chan_group_t *g;
	chan_t *chans, *out; /* referenced */
	size_t esz, batch;
	void (*drop)(void *);
	char buf[];
};

static int flatten_main(chan_ctx_t *ctx, void *arg)
{
	struct flatten *f = arg;

	while (chan_ctx_err(ctx) == 0) {
		chan_t *inner;
		int r = chan__recv_wait(f->chans, &inner, ctx);

		if (r != 0)
			break; /* the outer channel is closed and drained, or canceled */
		if (!inner)
			continue; /* a NULL channel carries nothing */
		if (chan_elem_size(inner) != f->esz) {
			chan_release(inner);
			chan_group_cancel(f->g, -EINVAL);
			break;
		}
		r = chan__stage_pump(inner, f->out, f->buf, f->esz, f->batch, ctx, f->drop);
		chan_release(inner);
		if (r != 0)
			break;
	}
	chan_close(f->out);
	chan_release(f->out);
	chan_release(f->chans);
	free(f);
	return 0;
}

chan_t *chan_flatten(chan_group_t *g, chan_t *chans, const chan_stage_opts_t *o)
{
	struct flatten *f;
	chan_t *out;
	size_t batch;
	int r;

	o = chan__stage_opts(o);
	if (!g || !chans || chan_elem_size(chans) != sizeof(chan_t *) || o->out.elem_size == 0) {
		errno = EINVAL;
		return NULL;
	}
	out = chan__stage_out(&o->out, 0, true);
	if (!out)
		return NULL;
	r = chan__stage_canceled(g);
	if (r != 0)
		goto fail;
	batch = chan__stage_batch(o);
	f = malloc(sizeof(*f) + batch * o->out.elem_size);
	if (!f) {
		r = -ENOMEM;
		goto fail;
	}
	*f = (struct flatten){ .g = g, .chans = chan_retain(chans), .out = chan_retain(out),
			       .esz = o->out.elem_size, .batch = batch, .drop = o->out.drop };
	return chan__stage_launch(g, flatten_main, f, f->chans, f->out);
fail:
	chan_release(out);
	errno = -r;
	return NULL;
}
