/* SPDX-License-Identifier: MIT */
/*
 * patterns/map.c - chan_map() (unordered and CHAN_STAGE_ORDERED) and
 * chan_fan_out(): worker tasks that take a batch from the input, map it,
 * and send the results straight to the output (no collector task, so one
 * channel hop per stage).
 *
 * Lifetime: the stage holds one reference on its input and on each output.
 * ->left counts the workers that have not finished; a worker's last act is
 * the decrement, and the one that brings it to zero (after every other
 * worker left user code) closes a shared output, releases the references and
 * frees the stage. A fan_out worker closes its own output when it leaves.
 *
 * Ordered mode (invariants; mu guards the slots, next_out and sending):
 *   - a worker takes one window token (a channel of @window tokens) per
 *     item before it takes the item, and the sender gives the token back
 *     once the item was sent (or skipped): at most @window items are ever
 *     taken and not yet sent;
 *   - items are numbered by next_in in input order: the role token (a
 *     channel holding one token) makes "receive + number" one step, and its
 *     channel hand-off orders next_in between workers;
 *   - a mapped item waits in slot[seq % window] (distinct: the items that
 *     hold tokens have consecutive numbers, fewer than @window of them);
 *   - one worker at a time is the sender (->sending): it collects the ready
 *     items from next_out on, sends them without mu, and re-checks under mu
 *     before it gives the role up, so an item deposited meanwhile is never
 *     left behind (its depositor saw ->sending and left it to the sender).
 * Every wait (token, role, input, output) is ctx-aware, so a canceled
 * stage never sleeps: items left in slots go to out.drop when it ends.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <chan/chan.h>

#include "stage_pvt.h"

enum { SLOT_EMPTY, SLOT_MAPPED, SLOT_SKIP };

struct map_stage;

struct map_worker {
	struct map_stage *s;
	chan_t *out;	    /* fan_out: its own output (referenced); map: s->out */
	char *inbuf;	    /* batch inputs */
	char *outbuf;	    /* batch outputs */
	unsigned char *st;  /* ordered: per-item SLOT_MAPPED / SLOT_SKIP */
};

struct map_stage {
	chan_group_t *g;
	chan_t *in;	    /* referenced */
	chan_t *out;	    /* map: the shared output (referenced); fan_out: NULL */
	chan_map_fn fn;
	void *arg;
	size_t in_esz, out_esz, batch;
	void (*in_drop)(void *);
	void (*out_drop)(void *);
	/* Pairs: the acq_rel decrement by each worker; the last one sees
	 * every other worker's writes before it frees. */
	_Atomic size_t left;
	size_t nworkers;
	struct map_worker *workers;

	/* Ordered mode. */
	bool ordered;
	size_t window;
	chan_t *tokens; /* window tokens */
	chan_t *role;	/* the input role: one token */
	uint64_t next_in; /* under the role token */
	pthread_mutex_t mu;
	bool mu_ok;
	uint64_t next_out; /* under mu */
	bool sending;	   /* under mu */
	bool failed;	   /* under mu: a send failed, send nothing more */
	unsigned char *slot_st;	  /* under mu */
	char *slot_val;		  /* under mu */
	char *sendbuf;		  /* the sender's */
};

static void stage_free(struct map_stage *s)
{
	if (s->ordered) {
		for (size_t i = 0; s->slot_st && s->slot_val && i < s->window; i++)
			if (s->slot_st[i] == SLOT_MAPPED && s->out_drop)
				s->out_drop(s->slot_val + i * s->out_esz);
		if (s->mu_ok)
			pthread_mutex_destroy(&s->mu);
		chan_release(s->tokens);
		chan_release(s->role);
		free(s->slot_st);
		free(s->slot_val);
		free(s->sendbuf);
	}
	for (size_t i = 0; i < s->nworkers; i++) {
		free(s->workers[i].inbuf);
		free(s->workers[i].outbuf);
		free(s->workers[i].st);
	}
	free(s->workers);
	free(s);
}

/* A worker's last act; the last worker tears the stage down. */
static void worker_leave(struct map_worker *w)
{
	struct map_stage *s = w->s;

	if (!s->out) { /* fan_out: our own output */
		chan_close(w->out);
		chan_release(w->out);
	}
	/* Acq_rel: see ->left. */
	if (atomic_fetch_sub_explicit(&s->left, 1, memory_order_acq_rel) != 1)
		return;
	if (s->out) {
		chan_close(s->out);
		chan_release(s->out);
	}
	chan_release(s->in);
	stage_free(s);
}

/*
 * Map @n inputs; results compacted into outbuf (unordered) or one per
 * input with w->st (ordered). Return how many inputs were mapped (all of
 * them, or those before the one that failed) and *err the failure.
 */
static size_t map_batch(struct map_worker *w, size_t n, size_t *emitted, int *err)
{
	struct map_stage *s = w->s;
	size_t i, m = 0;

	*err = 0;
	for (i = 0; i < n; i++) {
		char *out = w->outbuf + (s->ordered ? i : m) * s->out_esz;
		int r = s->fn(w->inbuf + i * s->in_esz, out, s->arg);

		if (r < 0) {
			*err = r;
			break;
		}
		if (s->ordered)
			w->st[i] = r == 0 ? SLOT_MAPPED : SLOT_SKIP;
		if (r == 0)
			m++;
	}
	*emitted = m;
	return i;
}

/* The callback failed on input @i of @n: fail the group, drop what we hold. */
static void map_failed(struct map_worker *w, size_t i, size_t n, size_t emitted, int err)
{
	struct map_stage *s = w->s;

	chan_group_cancel(s->g, err);
	chan__stage_drop(w->inbuf + i * s->in_esz, s->in_esz, n - i, s->in_drop);
	if (!s->ordered) {
		chan__stage_drop(w->outbuf, s->out_esz, emitted, s->out_drop);
		return;
	}
	for (size_t k = 0; k < i; k++)
		if (w->st[k] == SLOT_MAPPED && s->out_drop)
			s->out_drop(w->outbuf + k * s->out_esz);
}

static int unordered_worker(chan_ctx_t *ctx, void *arg)
{
	struct map_worker *w = arg;
	struct map_stage *s = w->s;

	while (chan_ctx_err(ctx) == 0) {
		size_t n, done, m;
		int err;

		n = chan__stage_recv(s->in, w->inbuf, s->in_esz, s->batch, ctx, &err);
		if (n == 0)
			break; /* closed and drained, or canceled */
		done = map_batch(w, n, &m, &err);
		if (err != 0) {
			map_failed(w, done, n, m, err);
			break;
		}
		if (chan__stage_send(w->out, w->outbuf, s->out_esz, m, ctx, s->out_drop) != 0)
			break;
	}
	worker_leave(w);
	return 0;
}

/* Ordered: take up to @want window tokens (waits for the first). */
static size_t take_tokens(struct map_stage *s, size_t want, chan_ctx_t *ctx)
{
	size_t k;

	if (chan__recv_wait(s->tokens, NULL, ctx) != 0)
		return 0;
	k = 1;
	if (want > 1)
		k += chan_try_recv_burst(s->tokens, NULL, want - 1);
	return k;
}

static void give_tokens(struct map_stage *s, size_t k)
{
	static const char toks[CHAN__STAGE_CHUNK];

	/* The channel has room for every token: these never wait. */
	while (k > 0) {
		size_t c = k < sizeof(toks) ? k : sizeof(toks);

		k -= chan_try_send_burst(s->tokens, toks, c);
	}
}

/*
 * Ordered: deposit @n mapped items numbered from @seq, then send what is
 * ready in order if nobody else is sending. Return false if a send failed.
 */
static bool deposit_and_send(struct map_worker *w, uint64_t seq, size_t n, chan_ctx_t *ctx)
{
	struct map_stage *s = w->s;
	bool ok = true;

	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < n; i++) {
		size_t k = (size_t)((seq + i) % s->window);

		s->slot_st[k] = w->st[i];
		if (w->st[i] == SLOT_MAPPED)
			memcpy(s->slot_val + k * s->out_esz, w->outbuf + i * s->out_esz, s->out_esz);
	}
	if (s->sending || s->failed) {
		ok = !s->failed;
		pthread_mutex_unlock(&s->mu);
		return ok;
	}
	s->sending = true;
	for (;;) {
		size_t c = 0, m = 0;

		/* Collect the ready run from next_out (items and skips). */
		while (c < s->batch) {
			size_t k = (size_t)((s->next_out + c) % s->window);

			if (s->slot_st[k] == SLOT_EMPTY)
				break;
			if (s->slot_st[k] == SLOT_MAPPED)
				memcpy(s->sendbuf + m++ * s->out_esz, s->slot_val + k * s->out_esz,
				       s->out_esz);
			s->slot_st[k] = SLOT_EMPTY;
			c++;
		}
		if (c == 0)
			break;
		s->next_out += c;
		pthread_mutex_unlock(&s->mu);
		ok = chan__stage_send(s->out, s->sendbuf, s->out_esz, m, ctx, s->out_drop) == 0;
		give_tokens(s, c);
		pthread_mutex_lock(&s->mu);
		if (!ok) {
			s->failed = true;
			break;
		}
	}
	s->sending = false;
	pthread_mutex_unlock(&s->mu);
	return ok;
}

static int ordered_worker(chan_ctx_t *ctx, void *arg)
{
	struct map_worker *w = arg;
	struct map_stage *s = w->s;
	const char tok = 0;

	while (chan_ctx_err(ctx) == 0) {
		size_t k, n, done, m;
		uint64_t seq;
		int err = 0;

		k = take_tokens(s, s->batch, ctx);
		if (k == 0)
			break;
		if (chan__recv_wait(s->role, NULL, ctx) != 0)
			break;
		n = chan__stage_recv(s->in, w->inbuf, s->in_esz, k, ctx, &err);
		seq = s->next_in;
		s->next_in += n;
		chan_try_send(s->role, &tok); /* room for it: never fails */
		if (n < k)
			give_tokens(s, k - n);
		if (n == 0)
			break; /* closed and drained, or canceled */
		done = map_batch(w, n, &m, &err);
		if (err != 0) {
			map_failed(w, done, n, m, err);
			break;
		}
		if (!deposit_and_send(w, seq, n, ctx))
			break;
	}
	worker_leave(w);
	return 0;
}

static int setup_ordered(struct map_stage *s, size_t window)
{
	const char tok = 0;

	s->ordered = true;
	s->window = window;
	if (pthread_mutex_init(&s->mu, NULL) != 0)
		return -ENOMEM;
	s->mu_ok = true;
	s->tokens = chan_new(1, window);
	s->role = chan_new(1, 1);
	s->slot_st = calloc(window, 1);
	s->slot_val = calloc(window, s->out_esz);
	s->sendbuf = calloc(s->batch, s->out_esz);
	if (!s->tokens || !s->role || !s->slot_st || !s->slot_val || !s->sendbuf)
		return -ENOMEM;
	give_tokens(s, window);
	chan_try_send(s->role, &tok);
	return 0;
}

/*
 * Build and start a map (@fan == 0) or a fan_out of @fan workers. On
 * success the outputs (one reference each for the caller) are in @outs.
 */
static int map_new(chan_group_t *g, chan_t *in, chan_map_fn fn, void *arg,
		   const chan_stage_opts_t *o, size_t fan, chan_t *outs[])
{
	size_t nw, nout, nmade = 0, started, i;
	struct map_stage *s = NULL;
	bool ordered;
	int r, err;

	if (!g || !in || !fn || (fan && !outs))
		return -EINVAL;
	o = chan__stage_opts(o);
	ordered = !fan && (o->flags & CHAN_STAGE_ORDERED);
	nw = fan ? fan : (o->workers ? o->workers : 1);
	nout = fan ? fan : 1;
	if (ordered && o->window > CHAN_CAPACITY_MAX)
		return -EINVAL;
	/* One sender at a time: a fan_out worker, a lone worker, or the
	 * ordered map's sender role. */
	for (; nmade < nout; nmade++) {
		outs[nmade] = chan__stage_out(&o->out, chan_elem_size(in), fan || ordered || nw == 1);
		if (!outs[nmade]) {
			r = -errno;
			goto fail;
		}
	}
	r = chan__stage_canceled(g);
	if (r != 0)
		goto fail;
	r = -ENOMEM;
	s = calloc(1, sizeof(*s));
	if (!s)
		goto fail;
	*s = (struct map_stage){ .g = g, .in = in, .fn = fn, .arg = arg,
				 .in_esz = chan_elem_size(in), .out_esz = chan_elem_size(outs[0]),
				 .batch = chan__stage_batch(o), .in_drop = o->in_drop,
				 .out_drop = o->out.drop, .nworkers = nw };
	s->workers = calloc(nw, sizeof(*s->workers));
	if (!s->workers)
		goto fail;
	for (i = 0; i < nw; i++) {
		struct map_worker *w = &s->workers[i];

		w->s = s;
		w->inbuf = malloc(s->batch * s->in_esz);
		w->outbuf = malloc(s->batch * s->out_esz);
		w->st = ordered ? malloc(s->batch) : NULL;
		if (!w->inbuf || !w->outbuf || (ordered && !w->st))
			goto fail;
	}
	if (ordered && setup_ordered(s, o->window ? o->window : 2 * nw) != 0)
		goto fail;

	/* Every allocation is made: take the references and start. */
	s->in = chan_retain(in);
	if (!fan)
		s->out = chan_retain(outs[0]);
	for (i = 0; i < nw; i++)
		s->workers[i].out = fan ? chan_retain(outs[i]) : s->out;
	atomic_init(&s->left, nw);
	chan__group_hold(g);
	started = chan__stage_start(g, ordered ? ordered_worker : unordered_worker, s->workers,
				    sizeof(*s->workers), nw, &err);
	if (started == 0) {
		for (i = 0; fan && i < nw; i++)
			chan_release(s->workers[i].out);
		chan_release(s->out);
		chan_release(s->in);
		chan__group_unhold(g);
		r = err;
		goto fail;
	}
	/* Workers that could not start leave at once (a fan_out output
	 * without a worker closes empty); we hold the group meanwhile, and
	 * do not touch the stage after the last leave. */
	for (i = started; i < nw; i++)
		worker_leave(&s->workers[i]);
	chan__group_unhold(g);
	return 0;

fail:
	if (s)
		stage_free(s);
	while (nmade > 0)
		chan_release(outs[--nmade]);
	return r;
}

chan_t *chan_map(chan_group_t *g, chan_t *in, chan_map_fn fn, void *arg,
		 const chan_stage_opts_t *o)
{
	chan_t *out;
	int r = map_new(g, in, fn, arg, o, 0, &out);

	if (r != 0) {
		errno = -r;
		return NULL;
	}
	return out;
}

int chan_fan_out(chan_group_t *g, chan_t *in, size_t n, chan_map_fn fn, void *arg,
		 const chan_stage_opts_t *o, chan_t *outs[])
{
	if (n == 0)
		return -EINVAL;
	return map_new(g, in, fn, arg, o, n, outs);
}
