/* SPDX-License-Identifier: MIT */
/*
 * patterns/async.c - chan_async(): fn on its own task, its one result on a
 * channel of capacity 1.
 *
 * The task is the only sender and sends once into an empty channel with
 * room for one, so it never blocks: it always finishes, frees arg, closes
 * the channel and drops its references (channel and child context), whether
 * or not anyone reads. An unread result is the channel's, for its drop().
 */
#include <errno.h>
#include <stdlib.h>

#include <chan/chan.h>

struct async {
	chan_ctx_t *child; /* ours: released at the end */
	chan_t *out;	   /* the task's reference */
	void (*fn)(chan_ctx_t *ctx, void *arg, void *result);
	void *arg;
	void (*arg_free)(void *arg);
	char result[];
};

static void async_main(void *p)
{
	struct async *a = p;

	a->fn(a->child, a->arg, a->result);
	if (a->arg_free)
		a->arg_free(a->arg);
	chan_send(a->out, a->result); /* room for it: never blocks */
	chan_close(a->out);
	chan_release(a->out);
	chan_ctx_release(a->child);
	free(a);
}

chan_t *chan_async(chan_ctx_t *ctx, void (*fn)(chan_ctx_t *ctx, void *arg, void *result),
		   void *arg, void (*arg_free)(void *arg), const chan_opts_t *opts)
{
	chan_opts_t co;
	struct async *a;
	chan_t *out;
	int r;

	if (!ctx || !fn || !opts || opts->elem_size == 0) {
		errno = EINVAL;
		return NULL;
	}
	co = *opts;
	co.capacity = 1;
	co.flags |= CHAN_SINGLE_PRODUCER;
	out = chan_new_opts(&co);
	if (!out)
		return NULL;
	a = calloc(1, sizeof(*a) + co.elem_size);
	if (!a) {
		chan_release(out);
		errno = ENOMEM;
		return NULL;
	}
	a->child = chan_ctx_with_cancel(ctx);
	if (!a->child) {
		free(a);
		chan_release(out);
		errno = ENOMEM;
		return NULL;
	}
	a->out = chan_retain(out);
	a->fn = fn;
	a->arg = arg;
	a->arg_free = arg_free;
	r = chan_go(async_main, a);
	if (r != 0) {
		chan_ctx_release(a->child);
		chan_release(a->out);
		free(a);
		chan_release(out);
		errno = -r;
		return NULL;
	}
	return out;
}
