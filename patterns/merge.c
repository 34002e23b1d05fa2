/* SPDX-License-Identifier: MIT */
/*
 * patterns/merge.c - chan_merge(): fan-in of n channels by one task.
 *
 * The task alternates two phases. A pass visits every live input once, in
 * an order that rotates by one each pass, and moves one burst (up to batch
 * elements) from each input that has something ready: always-ready inputs
 * share the output evenly, and a busy merge never selects. When a pass
 * moved nothing, the task blocks in one select over all inputs plus the
 * group's done channel; an input that the select finds closed and drained
 * becomes a NULL case (never ready again), and the output closes when the
 * last input did. It is the only sender, so the output is
 * CHAN_SINGLE_PRODUCER. No lost wakeup: the select registers on every live
 * input and on done before it sleeps (core/select.c), so a value or a close
 * arriving after the empty pass wakes it.
 */
#include <errno.h>
#include <stdlib.h>

#include <chan/chan.h>

#include "stage_pvt.h"

struct merge {
	chan_group_t *g;
	chan_t *out; /* referenced */
	size_t n, esz, batch;
	void (*drop)(void *);
	chan_case_t *cases; /* n inputs (referenced; NULL once drained) + done */
	chan_t **ins;	    /* the references, released at the end */
	char *buf;
};

static void merge_free(struct merge *m)
{
	free(m->cases);
	free(m->ins);
	free(m->buf);
	free(m);
}

static int merge_main(chan_ctx_t *ctx, void *arg)
{
	struct merge *m = arg;
	size_t live = m->n, first = 0;
	/* The group's ctx, whose done channel chan_group_new() made: never
	 * NULL. Were it, fail as a select without memory does below. */
	chan_t *done = chan_ctx_done(ctx);

	if (!done) {
		chan_group_cancel(m->g, -ENOMEM);
		live = 0;
	}
	for (size_t i = 0; i < m->n; i++)
		m->cases[i] = (chan_case_t){ .chan = m->ins[i], .op = CHAN_OP_RECV, .elem = m->buf };
	m->cases[m->n] = (chan_case_t){ .chan = done, .op = CHAN_OP_RECV };

	while (live > 0 && chan_ctx_err(ctx) == 0) {
		size_t moved = 0;
		int r;

		for (size_t k = 0; k < m->n; k++) {
			size_t i = first + k < m->n ? first + k : first + k - m->n;
			size_t got;

			if (!m->cases[i].chan)
				continue;
			got = chan_try_recv_burst(m->cases[i].chan, m->buf, m->batch);
			if (got == 0)
				continue;
			moved += got;
			if (chan__stage_send(m->out, m->buf, m->esz, got, ctx, m->drop) != 0)
				goto out;
		}
		first = first + 1 < m->n ? first + 1 : 0;
		if (moved > 0)
			continue;
		r = chan_select(m->cases, m->n + 1);
		if (r < 0) {
			/* No memory for a large select: fail, never end quietly. */
			chan_group_cancel(m->g, r);
			break;
		}
		if ((size_t)r == m->n)
			break; /* canceled */
		if (m->cases[r].err == -EPIPE) {
			m->cases[r].chan = NULL; /* closed and drained */
			live--;
			continue;
		}
		if (chan__stage_send(m->out, m->buf, m->esz, 1, ctx, m->drop) != 0)
			break;
	}
out:
	chan_close(m->out);
	chan_release(m->out);
	for (size_t i = 0; i < m->n; i++)
		chan_release(m->ins[i]);
	merge_free(m);
	return 0;
}

chan_t *chan_merge(chan_group_t *g, chan_t *const ins[], size_t n, const chan_stage_opts_t *o)
{
	struct merge *m;
	size_t esz;
	chan_t *out;
	int r;

	if (!g || !ins || n == 0 || !ins[0])
		goto inval;
	esz = chan_elem_size(ins[0]);
	for (size_t i = 1; i < n; i++)
		if (!ins[i] || chan_elem_size(ins[i]) != esz)
			goto inval;
	o = chan__stage_opts(o);
	if (o->out.elem_size != 0 && o->out.elem_size != esz)
		goto inval;
	out = chan__stage_out(&o->out, esz, true);
	if (!out)
		return NULL;
	r = chan__stage_canceled(g);
	if (r != 0)
		goto fail;
	r = -ENOMEM;
	m = calloc(1, sizeof(*m));
	if (!m)
		goto fail;
	*m = (struct merge){ .g = g, .out = out, .n = n, .esz = esz, .batch = chan__stage_batch(o),
			     .drop = o->out.drop };
	m->cases = calloc(n + 1, sizeof(*m->cases));
	m->ins = calloc(n, sizeof(*m->ins));
	m->buf = malloc(m->batch * esz);
	if (!m->cases || !m->ins || !m->buf) {
		merge_free(m);
		goto fail;
	}
	for (size_t i = 0; i < n; i++)
		m->ins[i] = chan_retain(ins[i]);
	chan_retain(out);
	r = chan__group_go_stage(g, merge_main, m);
	if (r != 0) {
		for (size_t i = 0; i < n; i++)
			chan_release(m->ins[i]);
		chan_release(out);
		merge_free(m);
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
