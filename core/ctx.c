/* SPDX-License-Identifier: MIT */
/*
 * core/ctx.c - context trees (Go's context package).
 *
 * Each context but the background one holds a reference on its parent (so
 * values and deadlines stay reachable however the tree is released), and a
 * parent's children list holds a reference on each linked child (so a
 * cancel walking the list never meets freed memory). The caller's hold is
 * the third kind of reference. Memory goes when all are gone.
 *
 * Invariants:
 *   - err goes from 0 to non-zero once, under the context's own lock; the
 *     thread that makes that transition detaches the children list (under
 *     the same lock) and cancels them, so a child created after its parent
 *     was canceled sees err != 0 under the parent's lock and starts canceled;
 *   - a child is in its parent's list iff ->linked, guarded by the parent's
 *     lock; whoever clears ->linked takes over the list's reference;
 *   - cancel order: err is stored before the done channel is closed, so a
 *     thread that sees the close (-EPIPE) also sees err (close happens-before
 *     the receive that reports it);
 *   - children of the background context are not linked to it: it never
 *     cancels, so top-level contexts never contend on one lock.
 * Cancelation walks the tree with an explicit worklist, so a deep chain of
 * contexts cannot overflow the stack.
 */
#include <errno.h>
#include <stdlib.h>

#include <chan/clock.h>
#include <chan/ctx.h>

#include "chan_pvt.h"
#include "clock_pvt.h"
#include "lock_pvt.h"
#include "../ring/fault.h"
#include "timer_pvt.h"

struct chan_ctx {
	struct chan__timer timer; /* first: the timer callback gets &timer */
	_Atomic uint32_t refs;
	_Atomic int err;
	chan_ctx_t *parent; /* referenced; NULL for the background */
	chan_t *done;
	int64_t deadline;   /* effective: never later than the parent's */
	bool has_timer;
	bool has_value;
	const void *key;
	void *value;

	struct chan__lock lock; /* guards err's transition and the children list */
	chan_ctx_t *first_child;
	chan_ctx_t *prev, *next; /* siblings, under the parent's lock */
	bool linked;		 /* in the parent's list, under the parent's lock */
	chan_ctx_t *work_next;	 /* the canceling thread's worklist */
};

/*
 * The background context and its done channel live in static storage: no
 * allocation that could fail on first use, no once-initialisation, nothing
 * to reset after fork(). The channel is never closed (nothing cancels the
 * background) and never freed.
 */
static struct chan background_done = CHAN__STATIC_UNBUFFERED(1);
static struct chan_ctx background = { .deadline = CHAN__FOREVER, .done = &background_done };

chan_ctx_t *chan_ctx_background(void)
{
	return &background;
}

static void ctx_ref(chan_ctx_t *c)
{
	/* Relaxed: the caller already holds a reference. */
	atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

/* Drop a reference; free the context (and any parents that become free). */
static void ctx_unref(chan_ctx_t *c)
{
	while (c && c != &background) {
		chan_ctx_t *parent = c->parent;

		/* Acq_rel: all uses happen-before the free by the last one. */
		if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
			return;
		chan_release(c->done);
		free(c);
		c = parent; /* drop the child's reference on its parent */
	}
}

/*
 * The one 0 -> err transition. Returns false if @c was already canceled.
 * On success, the detached children are pushed onto *@work (each carrying
 * the list's reference) and the done channel is closed.
 */
static bool transition(chan_ctx_t *c, int err, chan_ctx_t **work)
{
	chan_ctx_t *kid;

	chan__lock_acquire(&c->lock);
	/* Relaxed: err only changes under this lock. */
	if (atomic_load_explicit(&c->err, memory_order_relaxed) != 0) {
		chan__lock_release(&c->lock);
		return false;
	}
	/* Release: pairs with the acquire in chan_ctx_err(). */
	atomic_store_explicit(&c->err, err, memory_order_release);
	while ((kid = c->first_child) != NULL) {
		c->first_child = kid->next;
		kid->linked = false;
		kid->prev = kid->next = NULL;
		kid->work_next = *work;
		*work = kid;
	}
	chan__lock_release(&c->lock);
	chan_close(c->done);
	if (c->has_timer)
		chan__timer_stop(&c->timer); /* does not wait for its own callback */
	return true;
}

static void unlink_from_parent(chan_ctx_t *c)
{
	chan_ctx_t *p = c->parent;
	bool drop = false;

	if (!p || p == &background)
		return;
	chan__lock_acquire(&p->lock);
	if (c->linked) {
		if (c->prev)
			c->prev->next = c->next;
		else
			p->first_child = c->next;
		if (c->next)
			c->next->prev = c->prev;
		c->linked = false;
		drop = true;
	}
	chan__lock_release(&p->lock);
	if (drop)
		ctx_unref(c); /* the list's reference */
}

static void cancel(chan_ctx_t *c, int err)
{
	chan_ctx_t *work = NULL;

	if (c == &background || !transition(c, err, &work))
		return;
	unlink_from_parent(c);
	while (work) {
		chan_ctx_t *k = work;

		work = k->work_next;
		transition(k, err, &work); /* a child inherits the parent's error */
		ctx_unref(k);		   /* the list's reference, now ours */
	}
}

static void deadline_fire(struct chan__timer *t, int64_t now)
{
	(void)now;
	/* Valid: chan_ctx_release() stops the timer (waiting for us) before
	 * it drops the caller's reference. */
	cancel((chan_ctx_t *)t, -ETIMEDOUT);
}

static chan_ctx_t *new_child(chan_ctx_t *parent, int64_t deadline, const void *key, void *value,
			     bool has_value)
{
	chan_ctx_t *c;
	bool own_deadline;
	int perr = 0;

	if (!parent) {
		errno = EINVAL;
		return NULL;
	}
	c = chan__calloc(1, sizeof(*c));
	if (!c) {
		errno = ENOMEM;
		return NULL;
	}
	c->done = chan_new(1, 0);
	if (!c->done) {
		free(c);
		errno = ENOMEM;
		return NULL;
	}
	atomic_init(&c->refs, 1);
	atomic_init(&c->err, 0);
	chan__lock_init(&c->lock);
	c->timer.heap_index = SIZE_MAX;
	c->deadline = deadline < parent->deadline ? deadline : parent->deadline;
	c->key = key;
	c->value = value;
	c->has_value = has_value;
	c->parent = parent;
	/* Our own deadline is the earlier one: we need a timer for it (an
	 * equal or later one is the parent's to enforce). Set it up before
	 * the list lock publishes us to a canceling parent. */
	own_deadline = deadline < parent->deadline;
	if (own_deadline && deadline > chan_now()) {
		c->timer.when = deadline;
		c->timer.fn = deadline_fire;
		c->has_timer = true;
	}
	if (parent != &background) {
		ctx_ref(parent);
		chan__lock_acquire(&parent->lock);
		/* Relaxed: err changes only under the lock we hold. */
		perr = atomic_load_explicit(&parent->err, memory_order_relaxed);
		if (perr == 0) {
			c->next = parent->first_child;
			if (c->next)
				c->next->prev = c;
			parent->first_child = c;
			c->linked = true;
			ctx_ref(c); /* the list's reference */
		}
		chan__lock_release(&parent->lock);
	}
	if (perr) {
		cancel(c, perr); /* created under a canceled parent */
	} else if (own_deadline && !c->has_timer) {
		cancel(c, -ETIMEDOUT); /* the deadline has passed already */
	} else if (c->has_timer && atomic_load_explicit(&c->err, memory_order_acquire) == 0) {
		/* (A parent canceled meanwhile has nothing left for it to do.) */
		int r = chan__timer_start(&c->timer);

		if (r != 0) {
			chan_ctx_release(c);
			errno = -r;
			return NULL;
		}
	}
	return c;
}

chan_ctx_t *chan_ctx_with_cancel(chan_ctx_t *parent)
{
	return new_child(parent, CHAN__FOREVER, NULL, NULL, false);
}

chan_ctx_t *chan_ctx_with_deadline(chan_ctx_t *parent, int64_t deadline_ns)
{
	return new_child(parent, deadline_ns, NULL, NULL, false);
}

chan_ctx_t *chan_ctx_with_timeout(chan_ctx_t *parent, int64_t timeout_ns)
{
	return new_child(parent, chan__deadline(timeout_ns), NULL, NULL, false);
}

chan_ctx_t *chan_ctx_with_value(chan_ctx_t *parent, const void *key, void *value)
{
	if (!key) {
		errno = EINVAL;
		return NULL;
	}
	return new_child(parent, CHAN__FOREVER, key, value, true);
}

void *chan_ctx_value(chan_ctx_t *ctx, const void *key)
{
	/* Parents are immutable and referenced by their children. */
	for (; ctx; ctx = ctx->parent)
		if (ctx->has_value && ctx->key == key)
			return ctx->value;
	return NULL;
}

void chan_ctx_cancel(chan_ctx_t *ctx)
{
	if (ctx)
		cancel(ctx, -ECANCELED);
}

chan_t *chan_ctx_done(chan_ctx_t *ctx)
{
	return ctx ? ctx->done : NULL;
}

int chan_ctx_err(chan_ctx_t *ctx)
{
	if (!ctx)
		return -EINVAL;
	/* As in Go, err is 0 until done is closed: transition() stores err
	 * before it closes done, so a close seen here (acquire) makes err
	 * visible, and no caller sees an error while done still blocks. */
	if (!chan_is_closed(ctx->done))
		return 0;
	/* Acquire: pairs with the release store in transition(). */
	return atomic_load_explicit(&ctx->err, memory_order_acquire);
}

int64_t chan_ctx_deadline(chan_ctx_t *ctx)
{
	return ctx ? ctx->deadline : CHAN__FOREVER;
}

void chan_ctx_release(chan_ctx_t *ctx)
{
	if (!ctx || ctx == &background)
		return;
	cancel(ctx, -ECANCELED);
	/* Another thread's cancel may have made the transition, and the
	 * deadline callback may still be running: wait for it to finish
	 * before our reference (maybe the last) goes. */
	if (ctx->has_timer)
		chan__timer_stop(&ctx->timer);
	ctx_unref(ctx);
}
