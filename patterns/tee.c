/* SPDX-License-Identifier: MIT */
/*
 * patterns/tee.c - chan_tee(): every element of the input to each of n
 * outputs, in lockstep, by one task.
 *
 * Per batch: take up to batch elements, make the copies (output 0 gets the
 * values received, outputs 1..n-1 clone()s of them, or byte copies), then
 * deliver: try-bursts to every output that still waits for part of the
 * batch, and when none of them moved, one select over the outputs that
 * still wait (one send case each) plus the group's done channel. The next
 * batch is taken only once every output has all of this one, so an unread
 * output stops the tee after its capacity + batch values. Each copy is
 * delivered once or, when the tee stops, handed to out.drop once: the
 * pending index per output says which copies are still the tee's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <chan/chan.h>

#include "stage_pvt.h"

struct tee {
	chan_group_t *g;
	chan_t *in;	/* referenced */
	chan_t **outs;	/* referenced */
	size_t n, esz, batch;
	int (*clone)(void *dst, const void *src);
	void (*drop)(void *);
	char *bufs;	 /* n rows of batch elements: row j is output j's copies */
	size_t *pend;	 /* per output: next copy of the batch to deliver */
	chan_case_t *cases; /* n sends + done */
};

static char *row(struct tee *t, size_t j)
{
	return t->bufs + j * t->batch * t->esz;
}

static void tee_free(struct tee *t)
{
	free(t->outs);
	free(t->bufs);
	free(t->pend);
	free(t->cases);
	free(t);
}

/* Copies for outputs 1..n-1 of the @k values in row 0. */
static int make_copies(struct tee *t, size_t k)
{
	for (size_t j = 1; j < t->n; j++) {
		for (size_t e = 0; e < k; e++) {
			char *dst = row(t, j) + e * t->esz, *src = row(t, 0) + e * t->esz;
			int r;

			if (!t->clone) {
				memcpy(dst, src, t->esz);
				continue;
			}
			r = t->clone(dst, src);
			if (r < 0) {
				/* Drop every copy made so far, and the values. */
				for (size_t jj = 1; jj < j; jj++)
					chan__stage_drop(row(t, jj), t->esz, k, t->drop);
				chan__stage_drop(row(t, j), t->esz, e, t->drop);
				chan__stage_drop(row(t, 0), t->esz, k, t->drop);
				return r;
			}
		}
	}
	return 0;
}

/* Deliver the @k copies of every row. Return 0, or the error that stopped
 * it (undelivered copies dropped). */
static int deliver(struct tee *t, size_t k, chan_ctx_t *ctx)
{
	size_t left = t->n;
	chan_t *done;
	int r = 0;

	for (size_t j = 0; j < t->n; j++)
		t->pend[j] = 0;
	while (left > 0) {
		bool moved = false;

		for (size_t j = 0; j < t->n; j++) {
			size_t got;

			if (t->pend[j] == k)
				continue;
			got = chan_try_send_burst(t->outs[j], row(t, j) + t->pend[j] * t->esz,
						  k - t->pend[j]);
			if (got == 0)
				continue;
			moved = true;
			t->pend[j] += got;
			if (t->pend[j] == k)
				left--;
		}
		if (left == 0 || moved)
			continue;
		for (size_t j = 0; j < t->n; j++)
			t->cases[j] = (chan_case_t){
				.chan = t->pend[j] < k ? t->outs[j] : NULL,
				.op = CHAN_OP_SEND,
				.elem = row(t, j) + (t->pend[j] < k ? t->pend[j] : 0) * t->esz,
			};
		/* The group's ctx, whose done channel chan_group_new() made:
		 * never NULL. Were it, fail as a select without memory does. */
		done = chan_ctx_done(ctx);
		t->cases[t->n] = (chan_case_t){ .chan = done, .op = CHAN_OP_RECV };
		r = done ? chan_select(t->cases, t->n + 1) : -ENOMEM;
		if (r >= 0 && (size_t)r < t->n && t->cases[r].err == 0) {
			if (++t->pend[r] == k)
				left--;
			r = 0;
			continue;
		}
		if (r < 0) /* no memory for a large select: fail, never end quietly */
			chan_group_cancel(t->g, r);
		/* Canceled, or an output closed under us (not ours to allow). */
		r = r >= 0 && (size_t)r < t->n ? t->cases[r].err : -ECANCELED;
		break;
	}
	if (left > 0)
		for (size_t j = 0; j < t->n; j++)
			chan__stage_drop(row(t, j) + t->pend[j] * t->esz, t->esz, k - t->pend[j],
					 t->drop);
	return r;
}

static int tee_main(chan_ctx_t *ctx, void *arg)
{
	struct tee *t = arg;

	while (chan_ctx_err(ctx) == 0) {
		int err;
		size_t k = chan__stage_recv(t->in, row(t, 0), t->esz, t->batch, ctx, &err);

		if (k == 0)
			break;
		err = make_copies(t, k);
		if (err != 0) {
			chan_group_cancel(t->g, err);
			break;
		}
		if (deliver(t, k, ctx) != 0)
			break;
	}
	for (size_t j = 0; j < t->n; j++) {
		chan_close(t->outs[j]);
		chan_release(t->outs[j]);
	}
	chan_release(t->in);
	tee_free(t);
	return 0;
}

int chan_tee(chan_group_t *g, chan_t *in, size_t n, chan_t *outs[], const chan_stage_opts_t *o)
{
	struct tee *t = NULL;
	size_t esz, nmade = 0;
	int r = -EINVAL;

	if (!g || !in || n == 0 || !outs)
		return -EINVAL;
	esz = chan_elem_size(in);
	o = chan__stage_opts(o);
	if (o->out.elem_size != 0 && o->out.elem_size != esz)
		return -EINVAL;
	for (; nmade < n; nmade++) {
		outs[nmade] = chan__stage_out(&o->out, esz, true);
		if (!outs[nmade]) {
			r = -errno;
			goto fail;
		}
	}
	r = chan__stage_canceled(g);
	if (r != 0)
		goto fail;
	r = -ENOMEM;
	t = calloc(1, sizeof(*t));
	if (!t)
		goto fail;
	*t = (struct tee){ .g = g, .in = in, .n = n, .esz = esz, .batch = chan__stage_batch(o),
			   .clone = o->clone, .drop = o->out.drop };
	t->outs = calloc(n, sizeof(*t->outs));
	t->bufs = malloc(n * t->batch * esz);
	t->pend = calloc(n, sizeof(*t->pend));
	t->cases = calloc(n + 1, sizeof(*t->cases));
	if (!t->outs || !t->bufs || !t->pend || !t->cases)
		goto fail;
	for (size_t j = 0; j < n; j++)
		t->outs[j] = chan_retain(outs[j]);
	chan_retain(in);
	r = chan__group_go_stage(g, tee_main, t);
	if (r != 0) {
		for (size_t j = 0; j < n; j++)
			chan_release(t->outs[j]);
		chan_release(in);
		goto fail;
	}
	return 0;
fail:
	if (t)
		tee_free(t);
	while (nmade > 0)
		chan_release(outs[--nmade]);
	return r;
}
