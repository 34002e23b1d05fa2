/* SPDX-License-Identifier: MIT */
/*
 * patterns/or.c - chan_or_done() (Go's orDone as a stage) and chan_or()
 * (the or-channel), one task each.
 *
 * chan_or waits on all of its signals and the group's done channel with one
 * select, instead of Go's tree of goroutines (one per pair of signals): the
 * first case that fires (a value, which is discarded, or a close) ends it,
 * and it closes its output. No lost wakeup: the select registers on every
 * signal before it sleeps.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include <chan/chan.h>

#include "stage_pvt.h"

struct or_done {
	chan_t *in, *out; /* referenced */
	size_t esz, batch;
	void (*drop)(void *);
	char buf[];
};

static int or_done_main(chan_ctx_t *ctx, void *arg)
{
	struct or_done *s = arg;

	chan__stage_pump(s->in, s->out, s->buf, s->esz, s->batch, ctx, s->drop);
	chan_close(s->out);
	chan_release(s->out);
	chan_release(s->in);
	free(s);
	return 0;
}

chan_t *chan_or_done(chan_group_t *g, chan_t *in, const chan_stage_opts_t *o)
{
	struct or_done *s;
	size_t esz, batch;
	chan_t *out;
	int r;

	o = chan__stage_opts(o);
	if (!g || !in || (o->out.elem_size != 0 && o->out.elem_size != chan_elem_size(in))) {
		errno = EINVAL;
		return NULL;
	}
	esz = chan_elem_size(in);
	out = chan__stage_out(&o->out, esz, true);
	if (!out)
		return NULL;
	r = chan__stage_canceled(g);
	if (r != 0)
		goto fail;
	batch = chan__stage_batch(o);
	s = malloc(sizeof(*s) + batch * esz);
	if (!s) {
		r = -ENOMEM;
		goto fail;
	}
	*s = (struct or_done){ .in = chan_retain(in), .out = chan_retain(out), .esz = esz,
			       .batch = batch, .drop = o->out.drop };
	return chan__stage_launch(g, or_done_main, s, s->in, s->out);
fail:
	chan_release(out);
	errno = -r;
	return NULL;
}

struct or_sigs {
	chan_group_t *g;
	chan_t *out; /* referenced */
	size_t n;
	chan_case_t cases[]; /* n signals (referenced) + done */
};

static int or_main(chan_ctx_t *ctx, void *arg)
{
	struct or_sigs *s = arg;
	/* The group's ctx, whose done channel chan_group_new() made: never
	 * NULL. Were it, fail as a select without memory does (a NULL case
	 * would never fire). */
	chan_t *done = chan_ctx_done(ctx);
	int r = -ENOMEM;

	if (done) {
		s->cases[s->n] = (chan_case_t){ .chan = done, .op = CHAN_OP_RECV };
		/* Any case: a value (discarded), a close, or done. */
		r = chan_select(s->cases, s->n + 1);
	}
	if (r < 0) /* no memory for a large select: fail, never close quietly */
		chan_group_cancel(s->g, r);
	chan_close(s->out);
	chan_release(s->out);
	for (size_t i = 0; i < s->n; i++)
		chan_release(s->cases[i].chan);
	free(s);
	return 0;
}

chan_t *chan_or(chan_group_t *g, chan_t *const sigs[], size_t n)
{
	struct or_sigs *s;
	chan_t *out;
	int r;

	if (!g || !sigs || n == 0)
		goto inval;
	for (size_t i = 0; i < n; i++)
		if (!sigs[i])
			goto inval;
	out = chan_new(1, 0);
	if (!out)
		return NULL;
	r = chan__stage_canceled(g);
	if (r != 0)
		goto fail;
	r = -ENOMEM;
	if (n > (SIZE_MAX - sizeof(*s)) / sizeof(s->cases[0]) - 1)
		goto fail;
	s = malloc(sizeof(*s) + (n + 1) * sizeof(s->cases[0]));
	if (!s)
		goto fail;
	s->g = g;
	s->out = chan_retain(out);
	s->n = n;
	for (size_t i = 0; i < n; i++)
		s->cases[i] = (chan_case_t){ .chan = chan_retain(sigs[i]), .op = CHAN_OP_RECV };
	r = chan__group_go_stage(g, or_main, s);
	if (r != 0) {
		for (size_t i = 0; i < n; i++)
			chan_release(s->cases[i].chan);
		chan_release(s->out);
		free(s);
		goto fail;
	}
	return out;
fail:
	chan_release(out);
	errno = -r;
	return NULL;
inval:
	errno = EINVAL;
	return NULL;
}
