/* SPDX-License-Identifier: MIT */
/*
 * chan/group.h - errgroup (Go's golang.org/x/sync/errgroup), the home of
 * every pattern task, and hedged requests (chan_first).
 *
 * A group owns a context derived from its parent. Tasks started with
 * chan_group_go() receive that context; the first task that returns an
 * error (a negative errno) records it and cancels the context, which stops
 * every other task and every stage (chan/stage.h) of the group.
 * chan_group_wait() joins all of them and returns the first error, or 0:
 *
 *	chan_group_t *g = chan_group_new(chan_ctx_background());
 *	chan_group_go(g, fetch, &urls[0]);
 *	chan_group_go(g, fetch, &urls[1]);
 *	int err = chan_group_wait(g);		// 0, or the first error
 *	chan_group_destroy(g);
 *
 * Limits (chan_group_set_limit) bound the tasks started by chan_group_go()
 * and chan_group_try_go() that run at once, with x/sync's semantics; stage
 * tasks never count toward the limit (a pipeline must not deadlock on it).
 *
 * Ownership: the caller owns the group (pair chan_group_new() with
 * chan_group_destroy()); the parent context is borrowed and must outlive
 * the group; the group's context is borrowed until chan_group_destroy().
 *
 * Concurrency: every function is thread-safe and may be called from the
 * group's own tasks, except chan_group_wait() and chan_group_destroy() from
 * a task of the same group (it would wait for itself).
 */
#ifndef CHAN_GROUP_H
#define CHAN_GROUP_H

#include <stddef.h>
#include <stdint.h>

#include <chan/api.h>
#include <chan/ctx.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An opaque group. */
typedef struct chan_group chan_group_t;

/**
 * typedef chan_task_fn - a task of a group.
 * @ctx: the group's context (or chan_first's) : stop when it is done.
 * @arg: the argument given to chan_group_go().
 * Return: 0, or a negative errno (recorded if it is the group's first).
 */
typedef int (*chan_task_fn)(chan_ctx_t *ctx, void *arg);

/**
 * chan_group_new() - create a group with a context derived from @parent.
 * @parent: borrowed; must outlive the group. Canceling it cancels the group.
 *
 * Concurrency: thread-safe. Pair with chan_group_destroy().
 * Return: the group, or NULL with errno EINVAL (@parent NULL) or ENOMEM.
 * A group made from a canceled parent starts canceled.
 */
CHAN_API chan_group_t *chan_group_new(chan_ctx_t *parent);

/**
 * chan_group_ctx() - the group's context; borrowed until chan_group_destroy().
 * Its done channel exists from chan_group_new() on, so chan_ctx_done() on it
 * never fails (tasks may select on it without checking for NULL).
 * Return: the context, or NULL for a NULL @g.
 */
CHAN_API chan_ctx_t *chan_group_ctx(chan_group_t *g);

/**
 * chan_group_set_limit() - at most @n tasks of chan_group_go() and
 * chan_group_try_go() run at once; @n < 0 removes the limit (the default).
 * @n == 0 lets none run (chan_group_go() then blocks until the group is
 * canceled). Stage tasks never count.
 *
 * Return: 0, or
 *   -EINVAL  @g is NULL;
 *   -EBUSY   a task counted by the limit is running (x/sync panics); the
 *            limit is unchanged.
 */
CHAN_API int chan_group_set_limit(chan_group_t *g, int n);

/**
 * chan_group_go() - run fn(chan_group_ctx(g), arg) on a task of the group,
 * blocking while the limit is reached.
 * @g:   the group.
 * @fn:  the task; its negative return is the group's error if it is first,
 *       and cancels the group.
 * @arg: passed to @fn; owned by the caller's protocol.
 *
 * Concurrency: thread-safe; blocks at the limit until a task ends or the
 * group is canceled. The call happens-before @fn starts; @fn's return
 * happens-before chan_group_wait() returns.
 *
 * Return: 0 (@fn will run), or
 *   -EINVAL     @g or @fn is NULL;
 *   -ECANCELED  the group is canceled (also while waiting at the limit);
 *   -EAGAIN     no task could be started (the system's thread limit);
 *   -ENOMEM     out of memory.
 * On any error @fn will never run.
 */
CHAN_API int chan_group_go(chan_group_t *g, chan_task_fn fn, void *arg);

/**
 * chan_group_try_go() - chan_group_go() that does not wait at the limit.
 * Return: 0, or -EAGAIN at the limit (or no task could be started), or
 * -EINVAL / -ECANCELED / -ENOMEM as chan_group_go(). On error @fn will never
 * run.
 */
CHAN_API int chan_group_try_go(chan_group_t *g, chan_task_fn fn, void *arg);

/**
 * chan_group_cancel() - record @err as the group's error if it is the first
 * (only for @err < 0; 0 records nothing), and cancel the group's context.
 * Idempotent; NULL is ignored. Thread-safe; never blocks on tasks.
 */
CHAN_API void chan_group_cancel(chan_group_t *g, int err);

/**
 * chan_group_wait() - wait for every task and every stage of the group,
 * then cancel its context (x/sync semantics: a group is used once).
 *
 * When it returns, every task has returned and every stage has closed its
 * outputs and released every reference it held.
 * Concurrency: thread-safe; several threads may wait. Not from a task of @g.
 * Return: the first error recorded (a task's, a stage's user callback's, or
 * chan_group_cancel()'s), 0 if none, or -EINVAL for a NULL @g. Stage tasks
 * never report cancellation as an error.
 */
CHAN_API int chan_group_wait(chan_group_t *g);

/**
 * chan_group_destroy() - cancel, wait, and free the group (and its context).
 * NULL is ignored. Not from a task of @g; once per group.
 */
CHAN_API void chan_group_destroy(chan_group_t *g);

/**
 * chan_first() - hedged requests: the first replica to succeed wins.
 * @ctx:      parent of the replicas' context (a group's, derived from it).
 * @n:        replicas, >= 1.
 * @fn:       the request; replica i runs fn(rctx, @args[i]).
 * @args:     @n arguments (NULL: every replica gets NULL).
 * @hedge_ns: replica i starts at i * @hedge_ns after the call (<= 0: all
 *            at once), unless a replica already succeeded.
 * @winner:   set to the index of the winning replica (may be NULL).
 *
 * Cancels the other replicas as soon as one returns 0, and joins every
 * replica that was started before it returns. Once @ctx is done no further
 * replica is started.
 *
 * Concurrency: thread-safe; blocks until every started replica returned.
 * Return: 0 and *@winner for the first replica that returned 0, or
 *   -EINVAL   @ctx or @fn is NULL, or @n is 0 (checked before the context);
 *   chan_ctx_err(@ctx) if @ctx is already done (nothing was started);
 *   -ENOMEM / -EAGAIN if not even replica 0 could be started;
 *   otherwise the first error in time of the replicas that ran (all failed).
 * On error *@winner is untouched.
 */
CHAN_API int chan_first(chan_ctx_t *ctx, size_t n, chan_task_fn fn, void *const args[],
			int64_t hedge_ns, size_t *winner);

#ifdef __cplusplus
}
#endif

#endif /* CHAN_GROUP_H */
