/* SPDX-License-Identifier: MIT */
/*
 * chan/stage.h - pipeline stages: generator, map (and filter), fan-out,
 * merge (fan-in), tee, flatten (bridge), or-done, or; and the taskless
 * or-done, chan_recv_ctx()/chan_send_ctx().
 *
 * A pipeline is nested calls; every stage belongs to a group (chan/group.h):
 *
 *	chan_group_t *g = chan_group_new(chan_ctx_background());
 *	chan_t *nums = chan_generate(g, xs, n, &(chan_opts_t){ .elem_size = sizeof(int) });
 *	chan_t *sq = chan_map(g, nums, square, NULL, &(chan_stage_opts_t){ .workers = 4 });
 *	chan_release(nums);			// the stage holds its own reference
 *	while (chan_recv(sq, &v) == 0)
 *		printf("%d\n", v);
 *	chan_release(sq);
 *	int err = chan_group_wait(g);		// the first error of a callback, or 0
 *	chan_group_destroy(g);
 *
 * The contract every stage keeps:
 *   - Ownership. A stage that returns a chan_t * gives the caller one
 *     reference. A stage holds its own references to its inputs and outputs
 *     while its tasks run, so the caller may release its input references at
 *     once. Elements are copied by value (elem_size bytes).
 *   - Who closes what. Only the stage that sends on a channel closes it,
 *     exactly once, after its last task returned from user code; a stage
 *     never closes a channel it did not create. Outputs close when all inputs
 *     are closed and drained and everything was sent, or when the group is
 *     canceled. Every stage releases every reference it holds before
 *     chan_group_wait() returns.
 *   - Cancellation. Canceling the group (its context, its parent, or the
 *     first error) stops every task of every stage. A value a stage had
 *     taken but not forwarded goes to a drop(): of the output's type to
 *     chan_stage_opts_t.out.drop, a map input not yet mapped to .in_drop
 *     (NULL: discarded). So every value is received downstream, dropped by a
 *     stage, or still buffered in a channel (whose drop() runs when it is
 *     freed): exactly once. Stage tasks never report cancellation as an
 *     error; a callback's negative return is the group's error.
 *   - Values already buffered in an input when the group is canceled stay
 *     there (the input's owner drains or frees them).
 *   - Throughput: map workers send straight to the output, merge is one
 *     task over all inputs, each stage moves up to .batch elements per burst
 *     and polls chan_ctx_err() once per batch (a value may still be moved
 *     after a cancel that raced with it; none is lost).
 *
 * Construction errors (NULL + errno, or -errno), checked in this order:
 *   EINVAL     a NULL group, channel or function; n == 0 for chan_fan_out(),
 *              chan_merge(), chan_tee() and chan_or(); merge inputs of
 *              different elem_size; an out.elem_size that differs from the
 *              input's for a stage that does not transform (merge, tee,
 *              or_done); a flatten input whose elem_size is not
 *              sizeof(chan_t *), or a flatten without out.elem_size; out
 *              options that chan_new_opts() refuses;
 *   ECANCELED  the group is already canceled;
 *   ENOMEM     out of memory;
 *   EAGAIN     no task could be started (the system's thread limit).
 * On any of them nothing was started and nothing is retained. (If some, but
 * not all, of a stage's tasks could be started, the stage runs with those
 * and succeeds: a map with fewer workers; a fan_out output without its
 * worker is closed at once, and the other workers take every value.)
 *
 * Concurrency: every function is thread-safe. A stage's channels are
 * ordinary channels; a stage's output must not be closed or sent on by
 * anyone else (a stage that finds its output closed stops, dropping what it
 * held).
 */
#ifndef CHAN_STAGE_H
#define CHAN_STAGE_H

#include <stddef.h>

#include <chan/api.h>
#include <chan/channel.h>
#include <chan/ctx.h>
#include <chan/group.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A chan_map_fn result: emit nothing for this input (a filter). */
#define CHAN_MAP_SKIP 1

/**
 * typedef chan_map_fn - a map callback.
 * @in:  the input element (the stage's copy).
 * @out: room for one output element (out elem_size bytes).
 * @arg: the argument given to chan_map()/chan_fan_out().
 * Return: 0 to emit *@out, CHAN_MAP_SKIP to emit nothing (the callback then
 * owns whatever @in owned), or a negative errno: the group fails with it,
 * *@out is ignored and @in goes to in_drop.
 */
typedef int (*chan_map_fn)(const void *in, void *out, void *arg);

/** chan_stage_opts_t.flags */
enum {
	/** map: output in input order (a bounded reorder window; see .window). */
	CHAN_STAGE_ORDERED = 1u << 0,
};

/**
 * struct chan_stage_opts - stage options; zeroed (or a NULL pointer) means
 * the defaults.
 * @out:     the output channel: elem_size 0 = the input's (flatten: required,
 *           the inner channels' size); capacity 0 = unbuffered; flags; drop()
 *           also receives the in-flight values of the output's type on cancel.
 * @workers: map / fan_out: 0 = 1 (fan_out takes its count from n).
 * @flags:   CHAN_STAGE_ORDERED.
 * @window:  ordered map: at most this many items in flight (taken from the
 *           input, not yet sent); 0 = 2 * workers.
 * @batch:   elements moved per burst (0 = 1). With batch b, a tee's unread
 *           output stops it after capacity + b values.
 * @clone:   tee: duplicate an owning element into @dst; 0, or < 0 fails
 *           the group (the value goes to drop()). NULL: copy the bytes.
 * @in_drop: map / fan_out: inputs taken but not mapped when the group is
 *           canceled (or when the callback failed on them).
 */
typedef struct chan_stage_opts {
	chan_opts_t out;
	unsigned workers;
	unsigned flags;
	size_t window;
	size_t batch;
	int (*clone)(void *dst, const void *src);
	void (*in_drop)(void *elem);
} chan_stage_opts_t;

/**
 * chan_generate() - a channel that delivers a copy of @elems[0..n-1], then
 * closes (Go's generator).
 * @g:     the group.
 * @elems: @n elements of out->elem_size bytes, copied during the call.
 * @n:     0 gives a channel that is already closed (no task).
 * @out:   the output's options (elem_size required).
 * On cancel, the elements not yet sent go to out->drop.
 * Return: the output (one reference for the caller), or NULL with errno
 * EINVAL (@g or @out NULL, @elems NULL with @n > 0, bad @out), ECANCELED,
 * ENOMEM or EAGAIN; see the construction errors above.
 */
CHAN_API chan_t *chan_generate(chan_group_t *g, const void *elems, size_t n, const chan_opts_t *out);

/**
 * chan_generate_fn() - a channel fed by next(elem, arg) until it returns
 * -EPIPE.
 * @next: 0 emits *@elem; -EPIPE ends the stream (the output closes);
 *        another negative errno fails the group. Called from one task at a
 *        time, never after the group was seen canceled.
 * @arg:  passed to @next; the caller's.
 * @out:  the output's options (elem_size required).
 * On cancel, an element produced but not sent goes to out->drop.
 * Return: the output, or NULL with errno EINVAL, ECANCELED, ENOMEM, EAGAIN.
 */
CHAN_API chan_t *chan_generate_fn(chan_group_t *g, int (*next)(void *elem, void *arg), void *arg,
				  const chan_opts_t *out);

/**
 * chan_map() - fn applied to every element of @in, by o->workers tasks that
 * send straight to the output (Go's pipeline stage; a filter with
 * CHAN_MAP_SKIP).
 * @in:  the input; the stage takes its own reference.
 * @fn:  the callback, called concurrently by the workers.
 * @arg: passed to @fn.
 * @o:   options (NULL: 1 worker, unordered, output like the input).
 *
 * Unordered: outputs in completion order. CHAN_STAGE_ORDERED: outputs in
 * input order, with at most o->window items taken from @in and not yet sent.
 * Return: the output, or NULL with errno EINVAL, ECANCELED, ENOMEM, EAGAIN.
 */
CHAN_API chan_t *chan_map(chan_group_t *g, chan_t *in, chan_map_fn fn, void *arg,
			  const chan_stage_opts_t *o);

/**
 * chan_fan_out() - @n workers each applying @fn to elements of @in and
 * sending to its own output (the seed's fanOut: an output per worker).
 * @outs: room for @n channels; on success each holds one reference for the
 *        caller; untouched on error.
 * o->workers and o->flags are ignored (each output follows its worker's
 * order).
 * Return: 0, or -EINVAL, -ECANCELED, -ENOMEM, -EAGAIN.
 */
CHAN_API int chan_fan_out(chan_group_t *g, chan_t *in, size_t n, chan_map_fn fn, void *arg,
			  const chan_stage_opts_t *o, chan_t *outs[]);

/**
 * chan_merge() - one channel that delivers every element of @ins[0..n-1]
 * (fan-in); closes when every input is closed and drained.
 * One task selects over all the inputs (a closed input leaves the select)
 * and drains ready ones with bursts, taking turns so that always-ready
 * inputs share the output evenly. Order per input is kept.
 * Return: the output, or NULL with errno EINVAL (also: elem_size differs
 * between inputs), ECANCELED, ENOMEM, EAGAIN.
 */
CHAN_API chan_t *chan_merge(chan_group_t *g, chan_t *const ins[], size_t n,
			    const chan_stage_opts_t *o);

/**
 * chan_tee() - @n outputs that each receive every element of @in, in order
 * and in lockstep: the next element is taken only after the previous one
 * reached every output (so an unread output stops the tee after its
 * capacity + 1 values).
 * @outs: room for @n channels; on success each holds one reference for the
 *        caller; untouched on error.
 * o->clone makes the copies for outputs 1..n-1 (output 0 gets the value
 * received); every copy not delivered on cancel goes to o->out.drop.
 * Return: 0, or -EINVAL, -ECANCELED, -ENOMEM, -EAGAIN.
 */
CHAN_API int chan_tee(chan_group_t *g, chan_t *in, size_t n, chan_t *outs[],
		      const chan_stage_opts_t *o);

/**
 * chan_flatten() - the elements of every channel received from @chans, one
 * inner channel after the other (Go's bridge).
 * @chans: carries chan_t * elements (elem_size sizeof(chan_t *)); each
 *         reference received is flatten's, released once that inner channel
 *         is drained (or on cancel).
 * @o:     o->out.elem_size is required: the inner channels' elem_size. An
 *         inner channel with another elem_size fails the group with -EINVAL.
 * Return: the output, or NULL with errno EINVAL, ECANCELED, ENOMEM, EAGAIN.
 */
CHAN_API chan_t *chan_flatten(chan_group_t *g, chan_t *chans, const chan_stage_opts_t *o);

/**
 * chan_or_done() - @in's elements until @in is closed or the group is
 * canceled (Go's orDone as a stage; chan_recv_ctx() is the taskless form).
 * Return: the output, or NULL with errno EINVAL, ECANCELED, ENOMEM, EAGAIN.
 */
CHAN_API chan_t *chan_or_done(chan_group_t *g, chan_t *in, const chan_stage_opts_t *o);

/**
 * chan_or() - a channel (elem_size 1, unbuffered) that never carries a value
 * and is closed as soon as any of @sigs[0..n-1] is closed or delivers a
 * value (that value is consumed and discarded), or the group is canceled.
 * One task waits on all the signals at once.
 * Return: the output, or NULL with errno EINVAL, ECANCELED, ENOMEM, EAGAIN.
 */
CHAN_API chan_t *chan_or(chan_group_t *g, chan_t *const sigs[], size_t n);

/**
 * chan_recv_ctx() - chan_recv() that gives up when @ctx is done.
 * @c:    the channel.
 * @elem: destination, or NULL to discard.
 * @ctx:  checked first: a done @ctx fails at once, even if a value is ready.
 *
 * Concurrency: as chan_recv(); blocks. If the cancel races with a value,
 * either outcome may happen, never both: on error no value was taken.
 * Return: 0, or
 *   -EINVAL                 @c or @ctx is NULL (checked before the context);
 *   chan_ctx_err(@ctx)       -ECANCELED or -ETIMEDOUT: @ctx is done;
 *   -EPIPE                  @c is closed and drained;
 *   -ENOMEM                 it had to wait and this was the first wait on
 *                           @ctx: its done channel could not be made
 *                           (chan_ctx_done()); no value was taken.
 */
CHAN_API int chan_recv_ctx(chan_t *c, void *elem, chan_ctx_t *ctx);

/**
 * chan_send_ctx() - chan_send() that gives up when @ctx is done.
 * @elem: elem_size bytes, copied; the caller keeps it (and, on error, still
 *        owns the value: nothing was sent).
 * Return: 0, or
 *   -EINVAL                 @c, @elem or @ctx is NULL (checked first);
 *   chan_ctx_err(@ctx)       @ctx is done;
 *   -EPIPE                  @c is closed;
 *   -ENOMEM                 as chan_recv_ctx(): @ctx's done channel could
 *                           not be made; nothing was sent.
 */
CHAN_API int chan_send_ctx(chan_t *c, const void *elem, chan_ctx_t *ctx);

#ifdef __cplusplus
}
#endif

#endif /* CHAN_STAGE_H */
