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
 *   - done is made lazily, on the first chan_ctx_done() (Go 1.19's
 *     context does the same): NULL until then, installed once, under the
 *     lock, and never changed after. The installer reads err under that
 *     lock: a done installed after the transition is installed already
 *     closed, one installed before it is closed by the transition;
 *   - cancel order: err is stored before the done channel is closed, so a
 *     thread that sees the close (-EPIPE) also sees err (close happens-before
 *     the receive that reports it);
 *   - children of the background context are not linked to it: it never
 *     cancels, so top-level contexts never contend on one lock.
 * Cancelation walks the tree with an explicit worklist, so a deep chain of
 * contexts cannot overflow the stack.
 *
 * After-funcs (chan_ctx_after_func, Go's context.AfterFunc): a record is in
 * its context's afters list iff ->linked, under the context's lock; the
 * transition detaches the whole list under that lock (so a record added
 * after it sees err != 0 and fires at once), and the one CAS of ->state
 * from AFTER_PENDING decides between firing and chan_ctx_stop_after().
 */
#include <errno.h>
#include <stdlib.h>

#include <chan/clock.h>
#include <chan/ctx.h>
#include <chan/task.h>

#include "chan_pvt.h"
#include "clock_pvt.h"
#include "debug_pvt.h"
#include "dlist_pvt.h"
#include "lock_pvt.h"
#include "../ring/fault.h"
#include "timer_pvt.h"

struct chan_ctx {
	struct chan__timer timer; /* first: the timer callback gets &timer */
	_Atomic uint32_t refs;
	_Atomic int err;
	chan_ctx_t *parent; /* referenced; NULL for the background */
	_Atomic(chan_t *) done; /* NULL until the first chan_ctx_done(); set under lock */
	int64_t deadline;   /* effective: never later than the parent's */
	bool has_timer;
	bool has_value;
	const void *key;
	void *value;

	struct chan__lock lock;	   /* guards err's transition, done's install, both lists */
	struct chan__dlist children; /* of ->sibling, under lock */
	struct chan__dlink sibling;  /* in the parent's children, under its lock */
	bool linked;		     /* in the parent's list, under the parent's lock */
	chan_ctx_t *work_next;	     /* the canceling thread's worklist */
	struct chan__dlist afters;   /* chan_ctx_after_func records, under lock */
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
		/* Relaxed: the acq_rel above orders every install before us. */
		chan_t *done = atomic_load_explicit(&c->done, memory_order_relaxed);

		if (done)
			chan_release(done);
		free(c);
		c = parent; /* drop the child's reference on its parent */
	}
}

static void after_detach(chan_ctx_t *c, struct chan__dlist *out);
static void after_fire_list(struct chan__dlist *list);

/*
 * The one 0 -> err transition. Returns false if @c was already canceled.
 * On success, the detached children are pushed onto *@work (each carrying
 * the list's reference) and the done channel, if one was made, is closed.
 */
static bool transition(chan_ctx_t *c, int err, chan_ctx_t **work)
{
	struct chan__dlist afters;
	struct chan__dlink *link;
	chan_t *done;

	chan__lock_acquire(&c->lock);
	/* Relaxed: err only changes under this lock. */
	if (atomic_load_explicit(&c->err, memory_order_relaxed) != 0) {
		chan__lock_release(&c->lock);
		return false;
	}
	/* E1: release; pairs with E2 in chan_ctx_err(). Orders a done
	 * installed before this critical section (D1, ordered by the lock)
	 * before a load of err that sees @err. */
	atomic_store_explicit(&c->err, err, memory_order_release);
	/* Relaxed: done is only written under this lock (D1). A done that is
	 * NULL here is installed later, by a chan_ctx_done() that reads err
	 * under the lock and installs it closed: nothing for us to close. */
	done = atomic_load_explicit(&c->done, memory_order_relaxed);
	while ((link = chan__dlist_pop_front(&c->children)) != NULL) {
		chan_ctx_t *kid = chan__container_of(link, chan_ctx_t, sibling);

		kid->linked = false; /* the list's reference moves to *work */
		kid->work_next = *work;
		*work = kid;
	}
	after_detach(c, &afters);
	chan__lock_release(&c->lock);
	/* err is set and the lists are detached, done is still open: a child
	 * or after-func added now must see err under the lock, and a waiter
	 * that sees err before the close must still get the close. */
	CHAN__DEBUG_WINDOW("ctx: err stored, before closing done");
	if (done)
		chan_close(done);
	if (c->has_timer)
		chan__timer_stop(&c->timer); /* does not wait for its own callback */
	after_fire_list(&afters); /* after the close: fn sees chan_ctx_err() != 0 */
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
		chan__dlist_unlink(&p->children, &c->sibling);
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
	atomic_init(&c->done, NULL); /* made on the first chan_ctx_done() */
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
			chan__dlist_push_front(&parent->children, &c->sibling);
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

/*
 * The first call makes the channel. It allocates outside the lock (a cancel
 * never waits for malloc) and installs under it, where err is stable: after
 * the transition the channel is closed before anyone can see it, before it
 * the transition will find it and close it. A thread that loses the race
 * to install releases its own channel and returns the winner's.
 */
chan_t *chan_ctx_done(chan_ctx_t *ctx)
{
	chan_t *done, *mine;

	if (!ctx) {
		errno = EINVAL;
		return NULL;
	}
	/* D2: acquire; pairs with D1: the channel's initialisation (and the
	 * close of one made closed) happen-before our caller uses it. The
	 * background's is static and set from the start. */
	done = atomic_load_explicit(&ctx->done, memory_order_acquire);
	if (done)
		return done;
	mine = chan_new(1, 0);
	if (!mine) {
		errno = ENOMEM; /* nothing changed: a later call may succeed */
		return NULL;
	}
	CHAN__DEBUG_WINDOW("ctx: done made, before installing it");
	chan__lock_acquire(&ctx->lock);
	/* Relaxed: done is only written under the lock we hold. */
	done = atomic_load_explicit(&ctx->done, memory_order_relaxed);
	if (!done) {
		/* Relaxed: err changes only under the lock we hold. */
		if (atomic_load_explicit(&ctx->err, memory_order_relaxed) != 0)
			chan_close(mine); /* canceled already: made closed */
		/* D1: release; pairs with D2 and with D3 in chan_ctx_err(). */
		atomic_store_explicit(&ctx->done, mine, memory_order_release);
		done = mine;
		mine = NULL;
	}
	chan__lock_release(&ctx->lock);
	if (mine)
		chan_release(mine); /* another thread installed one first */
	return done;
}

/*
 * As in Go, err is 0 until done is closed: no caller sees an error while
 * the done channel still blocks. If done exists, an error is reported only
 * once its close is visible, as before done was lazy: the transition stores
 * err (E1) before it closes done, so a close seen here makes err visible.
 * If done is NULL at D3 although err != 0 was read at E2, no done channel
 * can ever be handed out open: one installed open (D1) read err == 0 under
 * the lock, so its critical section came before the transition's, D1
 * happens-before E1, and E2 reading E1 makes D1 happen-before D3, which
 * then could not read NULL (read-read coherence). So done, if it is ever
 * made, is made by a chan_ctx_done() that reads err != 0 under the lock and
 * closes it before D1 publishes it: every caller that gets it finds it
 * closed. Conversely, a caller that saw the close sees err != 0: both E1
 * and the close of a done made closed come after err was stored.
 */
int chan_ctx_err(chan_ctx_t *ctx)
{
	chan_t *done;
	int err;

	if (!ctx)
		return -EINVAL;
	/* E2: acquire; pairs with E1 in transition() (and through it with
	 * every D1 that came before the transition's critical section). */
	err = atomic_load_explicit(&ctx->err, memory_order_acquire);
	if (err == 0)
		return 0;
	/* D3: acquire; pairs with D1 in chan_ctx_done(): the channel is
	 * initialised before chan_is_closed() reads it. */
	done = atomic_load_explicit(&ctx->done, memory_order_acquire);
	if (done && !chan_is_closed(done))
		return 0; /* the cancel is in progress: done is not closed yet */
	return err;
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

/* ---- chan_ctx_after_func / chan_ctx_stop_after ------------------------------
 *
 * A record carries two references: the caller's (dropped by stop_after) and
 * the list's (dropped by whoever takes the record off the list: the firing
 * path, after fn, or stop_after when it unlinks). It holds a reference on its
 * context, so stop_after may lock the context's list however the context was
 * released meanwhile.
 *
 * Exactly one of "fn runs" and "stop_after returns true" happens: both go
 * through one CAS of ->state from AFTER_PENDING (to AFTER_STARTED by the
 * firing path, to AFTER_STOPPED by stop_after). No firing is lost: a record
 * is either linked before the transition (which detaches it under the lock it
 * was linked under) or it sees err != 0 under that lock and fires at once.
 */
enum { AFTER_PENDING, AFTER_STARTED, AFTER_STOPPED };

struct chan_ctx_after {
	_Atomic uint32_t refs;
	_Atomic int state;
	chan_ctx_t *ctx; /* referenced (not for the background) */
	void (*fn)(void *);
	void *arg;
	struct chan__dlink link; /* in ctx->afters, under ctx->lock */
	bool linked;		 /* under ctx->lock */
};

static void after_unref(chan_ctx_after_t *a)
{
	/* Acq_rel: every use of the record happens-before the free. */
	if (atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) != 1)
		return;
	ctx_unref(a->ctx);
	free(a);
}

static void after_run(void *arg)
{
	chan_ctx_after_t *a = arg;

	a->fn(a->arg);
	after_unref(a); /* the list's reference, handed to us */
}

/* The firing path for one detached record; owns the list's reference. */
static void after_fire(chan_ctx_after_t *a)
{
	int expect = AFTER_PENDING;

	/* Acq_rel: pairs with the CAS in chan_ctx_stop_after(); the winner
	 * alone decides whether fn runs. */
	if (!atomic_compare_exchange_strong_explicit(&a->state, &expect, AFTER_STARTED,
						     memory_order_acq_rel, memory_order_acquire)) {
		after_unref(a); /* stopped first */
		return;
	}
	/* On its own task, as in Go. If no task can be started (the system's
	 * thread limit), run it here rather than lose it. */
	if (chan_go(after_run, a) != 0)
		after_run(a);
}

/* Under c->lock, in the transition: take the whole list into *@out, which
 * is the firing thread's alone from here (every record is !linked, so
 * chan_ctx_stop_after() no longer touches its links). */
static void after_detach(chan_ctx_t *c, struct chan__dlist *out)
{
	for (struct chan__dlink *n = c->afters.first; n; n = n->next)
		chan__container_of(n, chan_ctx_after_t, link)->linked = false;
	*out = c->afters;
	chan__dlist_init(&c->afters);
}

static void after_fire_list(struct chan__dlist *list)
{
	struct chan__dlink *n;

	/* Unlinked before it fires: the record can go inside after_fire(). */
	while ((n = chan__dlist_pop_front(list)) != NULL)
		after_fire(chan__container_of(n, chan_ctx_after_t, link));
}

chan_ctx_after_t *chan_ctx_after_func(chan_ctx_t *ctx, void (*fn)(void *), void *arg)
{
	chan_ctx_after_t *a;
	chan_t *done = NULL;
	int err = 0;

	if (!ctx || !fn) {
		errno = EINVAL;
		return NULL;
	}
	a = chan__calloc(1, sizeof(*a));
	if (!a) {
		errno = ENOMEM;
		return NULL;
	}
	atomic_init(&a->refs, 2);
	atomic_init(&a->state, AFTER_PENDING);
	a->fn = fn;
	a->arg = arg;
	if (ctx == &background) {
		/* Never canceled: never fires, never linked, no list reference. */
		atomic_store_explicit(&a->refs, 1, memory_order_relaxed); /* not shared yet */
		return a;
	}
	ctx_ref(ctx);
	a->ctx = ctx;
	chan__lock_acquire(&ctx->lock);
	/* Relaxed: err changes only under the lock we hold. */
	err = atomic_load_explicit(&ctx->err, memory_order_relaxed);
	if (err == 0) {
		chan__dlist_push_front(&ctx->afters, &a->link);
		a->linked = true;
	} else {
		/* Relaxed: done is only written under the lock we hold. */
		done = atomic_load_explicit(&ctx->done, memory_order_relaxed);
	}
	chan__lock_release(&ctx->lock);
	if (err != 0) {
		/* Already done: fire now. fn must see chan_ctx_err() != 0.
		 * A done that existed under the lock is closed by the
		 * transition (which may still be on its way: a receive on a
		 * channel that is being closed returns soon) or was made
		 * closed; wait for that close. One that did not exist yet will
		 * be made closed, and chan_ctx_err() already reports err while
		 * done is NULL: nothing to wait for, nothing to allocate. Our
		 * reference on ctx keeps done alive. */
		if (done)
			chan_recv(done, NULL);
		atomic_store_explicit(&a->state, AFTER_STARTED, memory_order_relaxed); /* not shared yet */
		if (chan_go(after_run, a) != 0) {
			ctx_unref(ctx);
			free(a);
			errno = ENOMEM;
			return NULL;
		}
	}
	return a;
}

bool chan_ctx_stop_after(chan_ctx_after_t *a)
{
	chan_ctx_t *ctx;
	int expect = AFTER_PENDING;
	bool unlinked = false, stopped;

	if (!a)
		return false;
	ctx = a->ctx;
	if (ctx) {
		chan__lock_acquire(&ctx->lock);
		if (a->linked) {
			chan__dlist_unlink(&ctx->afters, &a->link);
			a->linked = false;
			unlinked = true;
		}
		chan__lock_release(&ctx->lock);
	}
	/* Acq_rel: pairs with the CAS in after_fire(). */
	stopped = atomic_compare_exchange_strong_explicit(&a->state, &expect, AFTER_STOPPED,
							  memory_order_acq_rel, memory_order_acquire);
	if (unlinked)
		after_unref(a); /* the list's reference: the firing path never saw it */
	after_unref(a);		/* the caller's */
	return stopped;
}
