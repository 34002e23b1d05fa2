/* SPDX-License-Identifier: MIT */
/*
 * chan/ctx.h - contexts: cancelation, deadlines and request-scoped values
 * that flow down a tree (Go's context package).
 *
 * Every context but the background one has a parent. Canceling a context
 * cancels all of its descendants, including those created after the cancel
 * (they start canceled); canceling a child never touches its parent. A
 * context's done channel is closed when it is canceled, so it can sit in a
 * select next to the real work:
 *
 *	chan_t *done = chan_ctx_done(ctx);	// made on first use
 *	if (!done)
 *		return -ENOMEM;
 *	chan_case_t cs[] = {
 *		{ .chan = jobs, .op = CHAN_OP_RECV, .elem = &job },
 *		{ .chan = done, .op = CHAN_OP_RECV },
 *	};
 *	if (chan_select(cs, 2) == 1)
 *		return chan_ctx_err(ctx);	// -ECANCELED or -ETIMEDOUT
 *
 * Ownership and release order: each chan_ctx_with_*() returns a context
 * owned by the caller; pair it with chan_ctx_release(), which cancels it
 * (and so its descendants) and drops the caller's hold. A context's memory
 * lives on while descendants still refer to it, so contexts may be released
 * in any order: releasing a parent before its children is safe, the
 * children are canceled by it and remain valid (their values, err and done
 * channel keep working) until they are released themselves. Every context
 * created must be released exactly once; the background context needs no
 * release (releasing it does nothing).
 *
 * Concurrency: every function is thread-safe; a context may be used from
 * any number of threads until the caller's chan_ctx_release().
 */
#ifndef CHAN_CTX_H
#define CHAN_CTX_H

#include <stdbool.h>
#include <stdint.h>

#include <chan/api.h>
#include <chan/channel.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An opaque context. */
typedef struct chan_ctx chan_ctx_t;

/**
 * chan_ctx_background() - the root: never canceled, no deadline, no values.
 * Its done channel is never closed. Static: never freed.
 */
CHAN_API chan_ctx_t *chan_ctx_background(void);

/**
 * chan_ctx_with_cancel() - a child that chan_ctx_cancel() can cancel.
 * @parent: any context (NULL: EINVAL).
 * Return: the child (canceled already if @parent is), or NULL with errno
 * EINVAL or ENOMEM.
 */
CHAN_API chan_ctx_t *chan_ctx_with_cancel(chan_ctx_t *parent);

/**
 * chan_ctx_with_deadline() - a child canceled with -ETIMEDOUT at @deadline_ns
 * (absolute, chan_now() clock), or earlier if its parent's deadline is
 * earlier: a child's deadline is never later than its parent's.
 * A deadline already past gives a child that is already canceled.
 * Return: the child, or NULL with errno EINVAL, ENOMEM or EAGAIN (no timer
 * thread).
 */
CHAN_API chan_ctx_t *chan_ctx_with_deadline(chan_ctx_t *parent, int64_t deadline_ns);

/**
 * chan_ctx_with_timeout() - chan_ctx_with_deadline(parent, chan_now() + timeout),
 * without overflow for huge timeouts.
 */
CHAN_API chan_ctx_t *chan_ctx_with_timeout(chan_ctx_t *parent, int64_t timeout_ns);

/**
 * chan_ctx_with_value() - a child that carries @key -> @value.
 * @key:   compared by address (use the address of a static object).
 * @value: borrowed; the caller keeps it alive as long as the context.
 * The child is canceled with its parent (or by chan_ctx_cancel() on it).
 * Return: the child, or NULL with errno EINVAL (@parent or @key NULL) or ENOMEM.
 */
CHAN_API chan_ctx_t *chan_ctx_with_value(chan_ctx_t *parent, const void *key, void *value);

/**
 * chan_ctx_value() - the value of the nearest context, from @ctx up to the
 * root, that carries @key; NULL if none does (or @ctx is NULL).
 */
CHAN_API void *chan_ctx_value(chan_ctx_t *ctx, const void *key);

/**
 * chan_ctx_cancel() - cancel @ctx and every descendant with -ECANCELED
 * (a no-op if already canceled, for NULL and for the background context).
 * Closes the done channels, which wakes every waiter on them.
 */
CHAN_API void chan_ctx_cancel(chan_ctx_t *ctx);

/**
 * chan_ctx_done() - a channel closed when @ctx is canceled: receives on it
 * block until then and return -EPIPE after. Borrowed: valid until @ctx is
 * released.
 *
 * The channel is made on the first call (as in Go), so a context that is
 * never waited on costs no channel; every later call returns the same one.
 * One made after the cancel is already closed.
 *
 * Concurrency: thread-safe; callers racing on the first call all get the
 * one channel. Lock-free once the channel exists; the first call allocates
 * and takes the context's lock briefly.
 *
 * Return: the channel, or NULL with errno
 *   EINVAL  @ctx is NULL;
 *   ENOMEM  this was the first call and the channel could not be allocated
 *           (never for the background context, whose channel is static).
 * On error nothing changed: the context works as before and a later call
 * may succeed. A NULL in a select case is never ready, so check the result
 * before waiting on it.
 */
CHAN_API chan_t *chan_ctx_done(chan_ctx_t *ctx);

/**
 * chan_ctx_err() - 0 while @ctx is live, -ECANCELED once canceled, or
 * -ETIMEDOUT if its (or an ancestor's) deadline passed. -EINVAL for NULL.
 * A non-zero result is never seen while the done channel still blocks: it
 * happens-after the close of the done channel, or, if chan_ctx_done() has
 * not made that channel yet, the channel it makes will be closed already.
 * Never allocates.
 */
CHAN_API int chan_ctx_err(chan_ctx_t *ctx);

/**
 * chan_ctx_deadline() - the deadline of @ctx (absolute ns), or INT64_MAX if
 * it has none.
 */
CHAN_API int64_t chan_ctx_deadline(chan_ctx_t *ctx);

/**
 * chan_ctx_release() - cancel @ctx (as chan_ctx_cancel()) and drop the
 * caller's hold on it. See the release-order rule above. NULL and the
 * background context are ignored.
 */
CHAN_API void chan_ctx_release(chan_ctx_t *ctx);

/** A registration made by chan_ctx_after_func(); opaque. */
typedef struct chan_ctx_after chan_ctx_after_t;

/**
 * chan_ctx_after_func() - run fn(arg) once, on its own task, when @ctx is
 * done (Go 1.21's context.AfterFunc).
 * @ctx: the context to watch (borrowed: the registration keeps the
 *       context's memory alive until chan_ctx_stop_after(), so @ctx may be
 *       released meanwhile; releasing it cancels it, which fires @fn).
 * @fn:  the function; it runs after chan_ctx_err(@ctx) became non-zero.
 * @arg: passed to @fn.
 *
 * If @ctx is already done, @fn is started at once. The background context
 * is never done: @fn never runs. @fn runs on a chan_go() task; should the
 * system refuse a new task at cancel time, @fn runs in the canceling thread
 * instead (it is never lost).
 *
 * Concurrency: thread-safe; O(1) under the context's lock.
 * Ownership: pair with exactly one chan_ctx_stop_after(), before or after
 * @fn ran, whatever happened to @ctx meanwhile.
 *
 * Return: a handle, or NULL with errno
 *   EINVAL  @ctx or @fn is NULL;
 *   ENOMEM  out of memory, or @ctx was already done and no task could be
 *           started for @fn.
 * On error @fn will never run and nothing is retained.
 */
CHAN_API chan_ctx_after_t *chan_ctx_after_func(chan_ctx_t *ctx, void (*fn)(void *), void *arg);

/**
 * chan_ctx_stop_after() - unregister and free @h.
 * @h: a handle from chan_ctx_after_func() (NULL: returns false).
 *
 * Exactly one of "fn runs" and "this returns true" happens. false means fn
 * has started (it may still be running: a caller that must know it finished
 * coordinates with fn itself, as in Go).
 *
 * Concurrency: thread-safe against the cancel of the context; call once
 * per handle, which is invalid afterwards.
 *
 * Return: true if it stopped fn from running, false if fn has started (or
 * finished).
 */
CHAN_API bool chan_ctx_stop_after(chan_ctx_after_t *h);

#ifdef __cplusplus
}
#endif

#endif /* CHAN_CTX_H */
