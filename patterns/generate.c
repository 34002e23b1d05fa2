/* SPDX-License-Identifier: MIT */
/*
 * patterns/generate.c - chan_generate() (a copy of an array) and
 * chan_generate_fn() (a callback), Go's generator.
 *
 * One task owns the output: it is the only sender, so the output is built
 * CHAN_SINGLE_PRODUCER; it closes the output after its last call into user
 * code, then releases its reference and frees the stage. Every element the
 * task holds is sent, or goes to the output's drop() when it stops early.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <chan/chan.h>

#include "stage_pvt.h"

struct gen {
	chan_group_t *g;
	chan_t *out; /* the stage's reference */
	size_t esz, n;
	void (*drop)(void *);
	int (*next)(void *elem, void *arg); /* generate_fn */
	void *arg;
	char elems[]; /* generate: the copy; generate_fn: one element */
};

static void gen_finish(struct gen *s)
{
	chan_close(s->out);
	chan_release(s->out);
	free(s);
}

static int gen_main(chan_ctx_t *ctx, void *arg)
{
	struct gen *s = arg;
	size_t i = 0;

	while (i < s->n && chan_ctx_err(ctx) == 0) {
		size_t k = s->n - i < CHAN__STAGE_CHUNK ? s->n - i : CHAN__STAGE_CHUNK;
		int r = chan__stage_send(s->out, s->elems + i * s->esz, s->esz, k, ctx, s->drop);

		i += k; /* those not sent were dropped */
		if (r != 0)
			break;
	}
	chan__stage_drop(s->elems + i * s->esz, s->esz, s->n - i, s->drop);
	gen_finish(s);
	return 0;
}

static int gen_fn_main(chan_ctx_t *ctx, void *arg)
{
	struct gen *s = arg;

	while (chan_ctx_err(ctx) == 0) {
		int r = s->next(s->elems, s->arg);

		if (r == -EPIPE)
			break;
		if (r < 0) {
			/* Cancel first, so downstream stops instead of taking the
			 * end of the stream for a complete one. */
			chan_group_cancel(s->g, r);
			break;
		}
		if (chan__stage_send(s->out, s->elems, s->esz, 1, ctx, s->drop) != 0)
			break;
	}
	gen_finish(s);
	return 0;
}

static chan_t *gen_new(chan_group_t *g, const void *elems, size_t n,
		       int (*next)(void *elem, void *arg), void *arg, const chan_opts_t *out)
{
	struct gen *s;
	chan_t *c;
	size_t esz;
	int r;

	if (!g || !out || (!next && !elems && n > 0)) {
		errno = EINVAL;
		return NULL;
	}
	c = chan__stage_out(out, 0, true);
	if (!c)
		return NULL; /* EINVAL (no elem_size, bad options) or ENOMEM */
	r = chan__stage_canceled(g);
	if (r != 0)
		goto fail;
	esz = chan_elem_size(c);
	if (!next && n == 0) {
		chan_close(c); /* nothing to send: already closed, no task */
		return c;
	}
	if (!next && n > (SIZE_MAX - sizeof(*s)) / esz) {
		r = -ENOMEM;
		goto fail;
	}
	s = malloc(sizeof(*s) + (next ? 1 : n) * esz);
	if (!s) {
		r = -ENOMEM;
		goto fail;
	}
	*s = (struct gen){ .g = g, .out = chan_retain(c), .esz = esz, .n = n, .drop = out->drop,
			   .next = next, .arg = arg };
	if (!next)
		memcpy(s->elems, elems, n * esz);
	r = chan__group_go_stage(g, next ? gen_fn_main : gen_main, s);
	if (r != 0) {
		chan_release(c); /* the stage's */
		free(s);
		goto fail;
	}
	return c;
fail:
	chan_release(c);
	errno = -r;
	return NULL;
}

chan_t *chan_generate(chan_group_t *g, const void *elems, size_t n, const chan_opts_t *out)
{
	return gen_new(g, elems, n, NULL, NULL, out);
}

chan_t *chan_generate_fn(chan_group_t *g, int (*next)(void *elem, void *arg), void *arg,
			 const chan_opts_t *out)
{
	if (!next) {
		errno = EINVAL;
		return NULL;
	}
	return gen_new(g, NULL, 0, next, arg, out);
}
