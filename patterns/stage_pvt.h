/* SPDX-License-Identifier: MIT */
/*
 * patterns/stage_pvt.h - what every stage shares (private): the ctx-aware
 * wait for one element, the burst loops that move a batch in and out, the
 * drop of what a stage held when it stops, and building its output.
 */
#ifndef CHAN_PATTERNS_STAGE_PVT_H
#define CHAN_PATTERNS_STAGE_PVT_H

#include <stdbool.h>
#include <stddef.h>

#include <chan/chan.h>

#include "group_pvt.h"

/* Elements moved per burst by a stage whose options give no batch. */
#define CHAN__STAGE_CHUNK 64

/* Larger batches are moved this many at a time (bounds a stage's buffers). */
#define CHAN__STAGE_BATCH_MAX 4096

/*
 * chan__recv_wait() / chan__send_wait() - chan_recv_ctx()/chan_send_ctx()
 * without the ctx-first check (a stage polls the context once per batch).
 * Return: 0, -EPIPE, the context's error, or -ENOMEM when the first wait
 * on @ctx could not make its done channel (then nothing was moved). Never
 * -ENOMEM on a group's context: chan_group_new() makes its done channel.
 */
int chan__recv_wait(chan_t *c, void *elem, chan_ctx_t *ctx);
int chan__send_wait(chan_t *c, const void *elem, chan_ctx_t *ctx);

/*
 * chan__stage_recv() - receive 1..@max elements into @buf: what a burst
 * finds, else wait (ctx-aware) for one, then burst the rest that is ready.
 * Return: how many (>= 1), or 0 with *@err -EPIPE (closed and drained) or
 * the context's error.
 */
size_t chan__stage_recv(chan_t *in, void *buf, size_t esz, size_t max, chan_ctx_t *ctx, int *err);

/*
 * chan__stage_send() - send all @n elements of @buf, in order, with bursts;
 * wait (ctx-aware) when the channel is full. On error (the context is done,
 * or @out was closed) the elements not sent go to @drop.
 * Return: 0, or the error.
 */
int chan__stage_send(chan_t *out, void *buf, size_t esz, size_t n, chan_ctx_t *ctx,
		     void (*drop)(void *));

/*
 * chan__stage_pump() - move everything from @in to @out, @batch at a time
 * through @buf, polling @ctx once per batch.
 * Return: 0 once @in is closed and drained and all was sent, or the error
 * that stopped it (the context's, or -EPIPE if @out was closed); what was
 * taken and not sent went to @drop.
 */
int chan__stage_pump(chan_t *in, chan_t *out, void *buf, size_t esz, size_t batch,
		     chan_ctx_t *ctx, void (*drop)(void *));

/* chan__stage_drop() - @drop on each of @n elements of @buf (NULL: nothing). */
void chan__stage_drop(void *buf, size_t esz, size_t n, void (*drop)(void *));

/*
 * chan__stage_out() - a stage's output channel: @o with elem_size @esz if
 * @o->elem_size is 0 (and @esz is not), CHAN_SINGLE_PRODUCER set when one
 * task sends at a time (@one_sender) and cleared otherwise (the caller
 * cannot promise it for our tasks).
 * Return: the channel, or NULL with errno EINVAL or ENOMEM.
 */
chan_t *chan__stage_out(const chan_opts_t *o, size_t esz, bool one_sender);

/*
 * chan__stage_launch() - start fn(ctx, @state) as a stage task of @g, for a
 * stage whose @state holds one reference each on @in and @out (taken by the
 * caller). Return @out (the caller's reference, for its caller). On failure
 * release the state's two references, free(@state), release the caller's
 * @out, set errno and return NULL: nothing is left behind.
 */
chan_t *chan__stage_launch(chan_group_t *g, chan_task_fn fn, void *state, chan_t *in,
			   chan_t *out);

/* The defaults for a NULL options pointer. */
const chan_stage_opts_t *chan__stage_opts(const chan_stage_opts_t *o);

/* o->batch, or 1; at most CHAN__STAGE_BATCH_MAX. */
size_t chan__stage_batch(const chan_stage_opts_t *o);

/* 0, or -ECANCELED if @g's context is done (the construction check). */
int chan__stage_canceled(chan_group_t *g);

/*
 * chan__stage_start() - start @n stage tasks fn(ctx, args + i * stride), in
 * order, stopping at the first failure.
 * Return: how many were started; *@err is the failure (0 if none).
 */
size_t chan__stage_start(chan_group_t *g, chan_task_fn fn, void *args, size_t stride, size_t n,
			 int *err);

#endif /* CHAN_PATTERNS_STAGE_PVT_H */
