/* SPDX-License-Identifier: MIT */
/*
 * patterns/stage.c - the helpers every stage shares (see stage_pvt.h).
 *
 * The burst loops take what is ready without waiting and fall back to one
 * ctx-aware wait only when nothing is, so a stage that keeps up with its
 * partners never selects, and one wake covers a whole burst. A stage checks
 * chan_ctx_err() once per batch at the top of its loop; the waits here see
 * the done channel themselves, so a stage never sleeps through a cancel.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <chan/chan.h>

#include "group_pvt.h"
#include "stage_pvt.h"

size_t chan__stage_recv(chan_t *in, void *buf, size_t esz, size_t max, chan_ctx_t *ctx, int *err)
{
	size_t k = chan_try_recv_burst(in, buf, max);
	int r;

	if (k > 0)
		return k;
	r = chan__recv_wait(in, buf, ctx);
	if (r != 0) {
		*err = r;
		return 0;
	}
	if (max > 1)
		k = chan_try_recv_burst(in, (char *)buf + esz, max - 1);
	return 1 + k;
}

int chan__stage_send(chan_t *out, void *buf, size_t esz, size_t n, chan_ctx_t *ctx,
		     void (*drop)(void *))
{
	char *p = buf;
	size_t i = 0;

	while (i < n) {
		size_t k = chan_try_send_burst(out, p + i * esz, n - i);
		int r;

		if (k > 0) {
			i += k;
			continue;
		}
		r = chan__send_wait(out, p + i * esz, ctx);
		if (r != 0) {
			chan__stage_drop(p + i * esz, esz, n - i, drop);
			return r;
		}
		i++;
	}
	return 0;
}

int chan__stage_pump(chan_t *in, chan_t *out, void *buf, size_t esz, size_t batch,
		     chan_ctx_t *ctx, void (*drop)(void *))
{
	int err = 0;

	while ((err = chan_ctx_err(ctx)) == 0) {
		size_t k = chan__stage_recv(in, buf, esz, batch, ctx, &err);

		if (k == 0)
			return err == -EPIPE ? 0 : err;
		err = chan__stage_send(out, buf, esz, k, ctx, drop);
		if (err != 0)
			return err;
	}
	return err;
}

void chan__stage_drop(void *buf, size_t esz, size_t n, void (*drop)(void *))
{
	if (!drop)
		return;
	for (size_t i = 0; i < n; i++)
		drop((char *)buf + i * esz);
}

chan_t *chan__stage_launch(chan_group_t *g, chan_task_fn fn, void *state, chan_t *in,
			   chan_t *out)
{
	int r = chan__group_go_stage(g, fn, state);

	if (r == 0)
		return out;
	chan_release(in);
	chan_release(out);
	free(state);
	chan_release(out);
	errno = -r;
	return NULL;
}

chan_t *chan__stage_out(const chan_opts_t *o, size_t esz, bool one_sender)
{
	chan_opts_t co = *o;

	if (co.elem_size == 0)
		co.elem_size = esz;
	if (co.elem_size == 0) {
		errno = EINVAL;
		return NULL;
	}
	if (one_sender)
		co.flags |= CHAN_SINGLE_PRODUCER;
	else
		co.flags &= ~(unsigned)CHAN_SINGLE_PRODUCER;
	return chan_new_opts(&co);
}

const chan_stage_opts_t *chan__stage_opts(const chan_stage_opts_t *o)
{
	static const chan_stage_opts_t defaults;

	return o ? o : &defaults;
}

size_t chan__stage_batch(const chan_stage_opts_t *o)
{
	if (o->batch == 0)
		return 1;
	return o->batch < CHAN__STAGE_BATCH_MAX ? o->batch : CHAN__STAGE_BATCH_MAX;
}

int chan__stage_canceled(chan_group_t *g)
{
	return chan_ctx_err(chan_group_ctx(g)) != 0 ? -ECANCELED : 0;
}

size_t chan__stage_start(chan_group_t *g, chan_task_fn fn, void *args, size_t stride, size_t n,
			 int *err)
{
	size_t i;

	*err = 0;
	for (i = 0; i < n; i++) {
		*err = chan__group_go_stage(g, fn, (char *)args + i * stride);
		if (*err != 0)
			break;
	}
	return i;
}
