/* SPDX-License-Identifier: MIT */
/*
 * chan/select.h - wait on several channel operations at once (Go's select).
 *
 * Semantics (Go's, with errors instead of panics):
 *   - among the cases that are ready, one is chosen uniformly at random;
 *     exactly one case fires per call;
 *   - a case whose channel is NULL is never ready (Go's nil channel);
 *   - a receive case on a closed and drained channel is ready and fires with
 *     err -EPIPE; a send case on a closed channel is ready and fires with
 *     err -EPIPE (nothing was sent);
 *   - a case that fires has done its operation: a send case's value was
 *     sent, a receive case's value was written to its elem (unless elem is
 *     NULL: discarded);
 *   - a blocked select registers its cases in random order, so two cases
 *     on one channel are each chosen about half of the time;
 *   - the same channel may appear in several cases, with either operation.
 *
 * Concurrency: thread-safe; any number of threads may select on the same
 * channels, and mix selects with plain sends and receives. A select over
 * channels that are ready costs no lock on any channel it does not take a
 * value from, so many threads selecting on one shared channel (a context's
 * done channel, say) do not serialise on it.
 *
 * Ownership: the caller keeps the cases array and every channel in it alive
 * for the whole call; elem buffers are read (send) or written (receive)
 * only for the case that fires.
 */
#ifndef CHAN_SELECT_H
#define CHAN_SELECT_H

#include <stddef.h>
#include <stdint.h>

#include <chan/api.h>
#include <chan/channel.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Operations of a select case. */
enum chan_op {
	CHAN_OP_SEND = 1,
	CHAN_OP_RECV = 2,
};

/**
 * struct chan_case - one arm of a select.
 * @chan: the channel, or NULL for a case that is never ready.
 * @op:   CHAN_OP_SEND or CHAN_OP_RECV.
 * @elem: send: elem_size bytes to send (must not be NULL);
 *        receive: where to put the value, or NULL to discard it.
 * @err:  output, set on the case that fired only: 0, or -EPIPE (closed).
 */
typedef struct chan_case {
	chan_t *chan;
	int op;
	void *elem;
	int err;
} chan_case_t;

/**
 * chan_select() - block until one case can proceed, and do it.
 * @cases: @n cases.
 * @n:     number of cases; 0 is allowed (see the return value).
 *
 * Return: the index of the case that fired (its err says 0 or -EPIPE), or
 *   -EINVAL  no case has a channel (Go would block forever), @cases is NULL
 *            with @n > 0, a case has an unknown op, or a send case has a
 *            NULL elem;
 *   -ENOMEM  more than 16 cases and no memory for the bookkeeping.
 */
CHAN_API int chan_select(chan_case_t *cases, size_t n);

/**
 * chan_try_select() - do one ready case, or return at once (Go's default:).
 * Return: the index that fired, -EAGAIN if no case was ready (nothing was
 * done), or -EINVAL / -ENOMEM as for chan_select().
 */
CHAN_API int chan_try_select(chan_case_t *cases, size_t n);

/**
 * chan_select_timeout() - chan_select() that gives up after @timeout_ns.
 * @timeout_ns: relative, as for chan_send_timeout(): 0 or less means
 *              "only if ready now", INT64_MAX waits forever.
 * Return: the index that fired, -ETIMEDOUT (never early; nothing was done;
 * also when no case has a channel and the timeout passes: then it waits out
 * the timeout, however long), or -EINVAL / -ENOMEM as for chan_select()
 * (except that no channel is not an error here).
 */
CHAN_API int chan_select_timeout(chan_case_t *cases, size_t n, int64_t timeout_ns);

#ifdef __cplusplus
}
#endif

#endif /* CHAN_SELECT_H */
