/* SPDX-License-Identifier: MIT */
/*
 * chan/async.h - a function's result delivered through a channel: the
 * seed's Result + withContext idiom, without its goroutine leak.
 *
 *	struct result { long value; int err; };
 *	chan_t *res = chan_async(ctx, fetch, url, free, &(chan_opts_t){
 *		.elem_size = sizeof(struct result) });
 *	struct result r;
 *	if (chan_recv_ctx(res, &r, ctx) == 0)	// or give up when ctx is done:
 *		use(r);				// the task still finishes, and
 *	chan_release(res);			// its result goes to drop()
 *
 * The Go original leaks its goroutine when nobody reads the result (an
 * unbuffered send that blocks forever). Here the result channel has room
 * for the one result, so the task always finishes; an unread result goes to
 * opts->drop when the last reference to the channel is released.
 */
#ifndef CHAN_ASYNC_H
#define CHAN_ASYNC_H

#include <chan/api.h>
#include <chan/channel.h>
#include <chan/ctx.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * chan_async() - run fn on its own task; its result arrives on a channel.
 * @ctx:      the parent of the context @fn gets (a child, so the caller may
 *            release @ctx at any time: that cancels the child). A done @ctx
 *            does not stop @fn from running: it sees the canceled child and
 *            writes its error result.
 * @fn:       writes one result of opts->elem_size bytes to @result (which
 *            starts zeroed); it should return soon after its context is done.
 * @arg:      owned by the task from a successful call on: @arg_free(@arg)
 *            runs exactly once, after @fn returned (NULL @arg_free: nothing).
 * @arg_free: may be NULL.
 * @opts:     the result channel: elem_size (required), flags and drop();
 *            the capacity is always 1.
 *
 * The channel receives exactly one result, then is closed: a receive gets
 * the result, and later ones -EPIPE. Ownership: the caller owns the
 * channel's one reference (the task holds its own until it closed it);
 * pair with chan_release(). @fn's return and @arg_free happen-before the
 * receive of the result returns.
 *
 * Concurrency: thread-safe.
 * Return: the result channel, or NULL with errno
 *   EINVAL  @ctx, @fn or @opts is NULL, opts->elem_size is 0, or opts is
 *           refused by chan_new_opts();
 *   ENOMEM  out of memory;
 *   EAGAIN  no task could be started (the system's thread limit).
 * On error @fn was not started and the caller still owns @arg.
 */
CHAN_API chan_t *chan_async(chan_ctx_t *ctx, void (*fn)(chan_ctx_t *ctx, void *arg, void *result),
			    void *arg, void (*arg_free)(void *arg), const chan_opts_t *opts);

#ifdef __cplusplus
}
#endif

#endif /* CHAN_ASYNC_H */
