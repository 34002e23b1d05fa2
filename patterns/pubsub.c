/* SPDX-License-Identifier: MIT */
/*
 * patterns/pubsub.c - publish/subscribe on a channel per subscriber, the
 * subscriber set an RCU-protected copy-on-write array (liburcu, urcu-bp).
 *
 * Invariants:
 * - ps->subs is NULL (no subscriber) or an immutable array, published with a
 *   release store (R1) after it was filled; writers (subscribe, unsubscribe,
 *   close) replace it under ps->lock and hand the old one to call_rcu.
 * - An array holds one reference on each subscriber in it; its own count is
 *   1 while published (dropped by its call_rcu callback) plus one per
 *   publisher that left its read-side section still using it. A subscriber
 *   holds a reference on its channel and one on the publisher; the
 *   subscription handle holds one on the subscriber until unsubscribe. So a
 *   channel lives while any array, and any publisher blocked on it, can still
 *   reach it, and the publisher struct outlives every subscriber.
 * - A publisher reads ps->subs inside urcu_bp_read_lock(), where the array
 *   cannot be freed (its callback waits for the grace period), and only
 *   try-sends there; before it blocks on a full BLOCK subscriber it takes a
 *   reference on the array and leaves the section (McKenney's "RCU +
 *   reference count" hand-over: the blocking wait is outside it).
 * - A subscriber's counters: sent = sends its channel took (policy discards
 *   included), lost = copies the publish itself gave up on; delivered =
 *   sent - chan_dropped(ch), dropped = chan_dropped(ch) + lost. A
 *   DROP_OLDEST eviction moves a value from delivered to dropped because the
 *   core counts it in chan_dropped() of that channel.
 */
#include <errno.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/urcu-bp.h>

#include <chan/chan.h>
#include <chan/pubsub.h>

#include "tsan_pvt.h"

#define PS_CACHELINE 64

/* Copy buffers that live on the publisher's stack; larger ones are malloc'd. */
#define PS_STACK_ELEM  1024
#define PS_STACK_BURST 4096

struct subarr {
	struct rcu_head rcu; /* call_rcu once unpublished */
	atomic_size_t refs;
	size_t n;
	struct chan_pubsub_sub *v[];
};

struct chan_pubsub_sub {
	/* Written once before the first array holding it is published. */
	chan_pubsub_t *ps;
	chan_t *ch;
	int policy;
	bool (*filter)(const void *elem, void *arg);
	void *filter_arg;
	atomic_bool dead;   /* unsubscribed: leaves the array at the next rebuild */
	atomic_size_t refs; /* the handle (until unsubscribe) + one per array */
	/* Written by publishers. */
	alignas(PS_CACHELINE) _Atomic uint64_t sent;
	_Atomic uint64_t lost;
	/* Written by take_dropped(). */
	alignas(PS_CACHELINE) _Atomic uint64_t taken;
};

struct chan_pubsub {
	/* Read by every publish. */
	_Atomic(struct subarr *) subs;
	atomic_bool closed;
	atomic_bool any_filter; /* sticky: some subscriber ever had a filter */
	size_t elem_size;
	int (*clone)(void *dst, const void *src);
	void (*drop)(void *elem);
	/* Writers only. */
	alignas(PS_CACHELINE) pthread_mutex_t lock;
	atomic_size_t refs; /* the handle (until destroy) + one per subscriber struct */
};

/* ---- fork(): liburcu's handlers, registered once pub/sub is used ------- */

static void fork_prepare(void)
{
	/* The call_rcu threads pause first: they may be in a grace period,
	 * which needs the locks urcu_bp_before_fork() takes. */
	urcu_bp_call_rcu_before_fork();
	urcu_bp_before_fork();
}

static void fork_parent(void)
{
	urcu_bp_after_fork_parent();
	urcu_bp_call_rcu_after_fork_parent();
}

static void fork_child(void)
{
	urcu_bp_after_fork_child();
	urcu_bp_call_rcu_after_fork_child();
}

static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void fork_register(void)
{
	/* Best effort: without the handlers only a fork() that does not exec
	 * right away and then uses pub/sub in the child is unsafe. */
	(void)pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* ---- references ---------------------------------------------------------- */

static void ps_put(chan_pubsub_t *ps)
{
	/* AR1: acq_rel, so that the last put sees every holder's accesses. */
	if (atomic_fetch_sub_explicit(&ps->refs, 1, memory_order_acq_rel) != 1)
		return;
	/* Every array entry holds a subscriber, which holds ps: none is left. */
	pthread_mutex_destroy(&ps->lock);
	free(ps);
}

static void sub_put(struct chan_pubsub_sub *s)
{
	/* AR2: acq_rel, as AR1: the freeing thread sees every user's reads. */
	if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
		return;
	chan_pubsub_t *ps = s->ps;

	chan_release(s->ch); /* drop() on what is still buffered, unless retained */
	free(s);
	ps_put(ps);
}

static void arr_put(struct subarr *a)
{
	/* AR3: acq_rel, as AR1. */
	if (atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (size_t i = 0; i < a->n; i++)
		sub_put(a->v[i]);
	free(a);
}

/* The call_rcu callback: no reader can reach @h's array any more. */
static void arr_reclaim(struct rcu_head *h)
{
	struct subarr *a = (struct subarr *)((char *)h - offsetof(struct subarr, rcu));

	/* Pairs with chan__tsan_release(a) in the publishers' read sections and
	 * in retire(): the grace period orders them before us, through liburcu. */
	chan__tsan_acquire(a);
	arr_put(a);
}

static void retire(struct subarr *old)
{
	if (!old)
		return;
	chan__tsan_release(old); /* pairs with chan__tsan_acquire() in arr_reclaim() */
	urcu_bp_call_rcu(&old->rcu, arr_reclaim);
}

/* ---- writers (under ps->lock) ------------------------------------------- */

/*
 * A copy of the current array without its dead subscribers, plus @add (whose
 * reference for the array the caller has taken). Return: 0 and *@out (NULL
 * for no subscriber), or -ENOMEM (nothing changed).
 */
static int arr_rebuild(chan_pubsub_t *ps, struct chan_pubsub_sub *add, struct subarr **out)
{
	/* Relaxed: writers hold ps->lock, which orders their stores. */
	struct subarr *old = atomic_load_explicit(&ps->subs, memory_order_relaxed);
	size_t n = add ? 1 : 0;
	struct subarr *a;

	for (size_t i = 0; old && i < old->n; i++)
		/* Relaxed: set before its unsubscriber took ps->lock. */
		n += !atomic_load_explicit(&old->v[i]->dead, memory_order_relaxed);
	if (n == 0) {
		*out = NULL;
		return 0;
	}
	a = malloc(sizeof(*a) + n * sizeof(a->v[0]));
	if (!a)
		return -ENOMEM;
	atomic_init(&a->refs, 1);
	a->n = 0;
	for (size_t i = 0; old && i < old->n; i++) {
		struct chan_pubsub_sub *s = old->v[i];

		if (atomic_load_explicit(&s->dead, memory_order_relaxed))
			continue;
		/* Relaxed: the old array's reference keeps s alive meanwhile. */
		atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
		a->v[a->n++] = s;
	}
	if (add)
		a->v[a->n++] = add;
	*out = a;
	return 0;
}

/* Whether the current array holds a dead subscriber (another rebuild may
 * have taken ours out already). */
static bool has_dead(chan_pubsub_t *ps)
{
	struct subarr *a = atomic_load_explicit(&ps->subs, memory_order_relaxed);

	for (size_t i = 0; a && i < a->n; i++)
		if (atomic_load_explicit(&a->v[i]->dead, memory_order_relaxed))
			return true;
	return false;
}

/* Publish @a; return the array it replaces (for retire()). */
static struct subarr *arr_publish(chan_pubsub_t *ps, struct subarr *a)
{
	struct subarr *old = atomic_load_explicit(&ps->subs, memory_order_relaxed);

	/* R1: publishes a's contents and its subscribers' fields; pairs with A1
	 * in the publishes. */
	atomic_store_explicit(&ps->subs, a, memory_order_release);
	return old;
}

/* ---- the publisher side --------------------------------------------------- */

chan_pubsub_t *chan_pubsub_new(const chan_pubsub_opts_t *o)
{
	chan_pubsub_t *ps;

	if (!o || o->elem_size == 0 || o->elem_size > CHAN_ELEM_SIZE_MAX) {
		errno = EINVAL;
		return NULL;
	}
	ps = aligned_alloc(PS_CACHELINE, sizeof(*ps));
	if (!ps) {
		errno = ENOMEM;
		return NULL;
	}
	memset(ps, 0, sizeof(*ps));
	if (pthread_mutex_init(&ps->lock, NULL) != 0) {
		free(ps);
		errno = ENOMEM;
		return NULL;
	}
	atomic_init(&ps->subs, NULL);
	atomic_init(&ps->closed, false);
	atomic_init(&ps->any_filter, false);
	atomic_init(&ps->refs, 1);
	ps->elem_size = o->elem_size;
	ps->clone = o->clone;
	ps->drop = o->drop;
	(void)pthread_once(&fork_once, fork_register);
	return ps;
}

int chan_pubsub_close(chan_pubsub_t *ps)
{
	struct subarr *a;

	if (!ps)
		return -EINVAL;
	pthread_mutex_lock(&ps->lock);
	/* Relaxed: written only under ps->lock. */
	if (atomic_load_explicit(&ps->closed, memory_order_relaxed)) {
		pthread_mutex_unlock(&ps->lock);
		return -EPIPE;
	}
	/* R2: pairs with A2 in the publishes; a publish that starts after we
	 * return sees it (and every channel below is closed by then anyway). */
	atomic_store_explicit(&ps->closed, true, memory_order_release);
	a = atomic_load_explicit(&ps->subs, memory_order_relaxed);
	for (size_t i = 0; a && i < a->n; i++)
		(void)chan_close(a->v[i]->ch); /* -EPIPE: unsubscribed already */
	pthread_mutex_unlock(&ps->lock);
	return 0;
}

void chan_pubsub_destroy(chan_pubsub_t *ps)
{
	if (!ps)
		return;
	(void)chan_pubsub_close(ps);
	ps_put(ps);
}

/* ---- subscriptions --------------------------------------------------------- */

chan_pubsub_sub_t *chan_pubsub_subscribe(chan_pubsub_t *ps, const chan_pubsub_sub_opts_t *o)
{
	static const chan_pubsub_sub_opts_t zero;
	struct chan_pubsub_sub *s;
	struct subarr *a, *old;
	unsigned flags;

	if (!ps) {
		errno = EINVAL;
		return NULL;
	}
	if (!o)
		o = &zero;
	switch (o->policy) {
	case CHAN_PUBSUB_BLOCK:
		flags = 0;
		if (o->capacity > CHAN_CAPACITY_MAX && o->capacity != CHAN_UNBOUNDED) {
			errno = EINVAL;
			return NULL;
		}
		break;
	case CHAN_PUBSUB_DROP_NEWEST:
	case CHAN_PUBSUB_DROP_OLDEST:
		flags = o->policy == CHAN_PUBSUB_DROP_NEWEST ? CHAN_DROP_NEWEST : CHAN_DROP_OLDEST;
		if (o->capacity == 0 || o->capacity > CHAN_CAPACITY_MAX) {
			errno = EINVAL;
			return NULL;
		}
		break;
	default:
		errno = EINVAL;
		return NULL;
	}
	/* A2: pairs with R2 in chan_pubsub_close() (rechecked under the lock). */
	if (atomic_load_explicit(&ps->closed, memory_order_acquire)) {
		errno = EPIPE;
		return NULL;
	}
	s = aligned_alloc(PS_CACHELINE, sizeof(*s));
	if (!s) {
		errno = ENOMEM;
		return NULL;
	}
	memset(s, 0, sizeof(*s));
	s->ch = chan_new_opts(&(chan_opts_t){.elem_size = ps->elem_size,
					     .capacity = o->capacity,
					     .flags = flags,
					     .drop = ps->drop});
	if (!s->ch) {
		int e = errno;

		free(s);
		errno = e;
		return NULL;
	}
	s->ps = ps;
	s->policy = o->policy;
	s->filter = o->filter;
	s->filter_arg = o->filter_arg;
	atomic_init(&s->dead, false);
	atomic_init(&s->refs, 2); /* the handle and the array it joins */
	atomic_init(&s->sent, 0);
	atomic_init(&s->lost, 0);
	atomic_init(&s->taken, 0);

	pthread_mutex_lock(&ps->lock);
	if (atomic_load_explicit(&ps->closed, memory_order_relaxed) ||
	    arr_rebuild(ps, s, &a) != 0) {
		int e = atomic_load_explicit(&ps->closed, memory_order_relaxed) ? EPIPE : ENOMEM;

		pthread_mutex_unlock(&ps->lock);
		chan_release(s->ch);
		free(s);
		errno = e;
		return NULL;
	}
	/* Relaxed: the caller's handle keeps ps alive; AR1 orders the rest. */
	atomic_fetch_add_explicit(&ps->refs, 1, memory_order_relaxed);
	if (s->filter)
		/* Relaxed: published by R1 with the array that holds s. */
		atomic_store_explicit(&ps->any_filter, true, memory_order_relaxed);
	old = arr_publish(ps, a);
	pthread_mutex_unlock(&ps->lock);
	retire(old);
	return s;
}

chan_t *chan_pubsub_chan(chan_pubsub_sub_t *s)
{
	return s ? s->ch : NULL;
}

int chan_pubsub_unsubscribe(chan_pubsub_sub_t *s)
{
	struct subarr *a, *old = NULL;
	chan_pubsub_t *ps;

	if (!s)
		return -EINVAL;
	ps = s->ps;
	/* First: a publish blocked on s wakes with -EPIPE and goes on. */
	(void)chan_close(s->ch); /* -EPIPE: closed by chan_pubsub_close() */
	/* Release: pairs with the acquire in sub_dead(); writers read it under
	 * ps->lock, which we take next. */
	atomic_store_explicit(&s->dead, true, memory_order_release);
	pthread_mutex_lock(&ps->lock);
	if (has_dead(ps) && arr_rebuild(ps, NULL, &a) == 0)
		old = arr_publish(ps, a);
	/* else -ENOMEM: s stays in the array, dead (its channel is closed, so
	 * publishes skip it), until the next rebuild. */
	pthread_mutex_unlock(&ps->lock);
	retire(old);
	sub_put(s);
	return 0;
}

void chan_pubsub_stats(const chan_pubsub_sub_t *s, chan_pubsub_stats_t *st)
{
	uint64_t evicted, sent, lost;

	if (!st)
		return;
	if (!s) {
		st->delivered = st->dropped = 0;
		return;
	}
	/* Relaxed: counters, snapshots (see the header). The channel counts a
	 * discard before the send that made it returns, and sent after: read
	 * the channel first, so that delivered is not counted short of an
	 * eviction twice; clamp the moment in between. */
	evicted = chan_dropped(s->ch);
	sent = atomic_load_explicit(&s->sent, memory_order_relaxed);
	lost = atomic_load_explicit(&s->lost, memory_order_relaxed);
	st->delivered = sent > evicted ? sent - evicted : 0;
	st->dropped = evicted + lost;
}

uint64_t chan_pubsub_take_dropped(chan_pubsub_sub_t *s)
{
	chan_pubsub_stats_t st;
	uint64_t t;

	if (!s)
		return 0;
	/* Relaxed: a counter; the CAS hands out disjoint parts of it. */
	t = atomic_load_explicit(&s->taken, memory_order_relaxed);
	for (;;) {
		chan_pubsub_stats(s, &st);
		if (st.dropped <= t)
			return 0;
		if (atomic_compare_exchange_weak_explicit(
			    &s->taken, &t, st.dropped, memory_order_relaxed, memory_order_relaxed))
			return st.dropped - t;
	}
}

/* ---- publish ------------------------------------------------------------- */

/*
 * Unsubscribed: skip its filter, whose argument the caller may be about to
 * free. Only narrows the window: a publish that read false may still call it
 * (the header's filter_arg rule).
 */
static bool sub_dead(const struct chan_pubsub_sub *s)
{
	/* Acquire: pairs with the release in chan_pubsub_unsubscribe(). */
	return atomic_load_explicit(&s->dead, memory_order_acquire);
}

/* A send to @c that waits for room, bounded by @ctx. Return: 0, -EPIPE, the
 * ctx's error, or -ENOMEM if this first wait on @ctx could not make its done
 * channel (nothing sent either way: the callers treat -ENOMEM like a ctx
 * that ended while waiting, the copy counts as lost). */
static int send_wait(chan_t *c, const void *elem, chan_ctx_t *ctx)
{
	chan_t *done;
	int r;

	if (ctx == chan_ctx_background())
		return chan_send(c, elem);
	done = chan_ctx_done(ctx);
	if (!done)
		return -ENOMEM; /* a NULL case would never fire: never wait on it */

	chan_case_t cs[2] = {
		{.chan = c, .op = CHAN_OP_SEND, .elem = (void *)elem},
		{.chan = done, .op = CHAN_OP_RECV},
	};

	r = chan_select(cs, 2);
	if (r == 0)
		return cs[0].err;
	if (r == 1) {
		r = chan_ctx_err(ctx);
		return r ? r : -ECANCELED;
	}
	return r; /* a select error: pass it on */
}

/* The copy of @src that is not going to be sent: drop it if it is a clone. */
static void drop_copies(const chan_pubsub_t *ps, const void *copies, size_t n)
{
	if (!ps->clone || !ps->drop)
		return;
	for (size_t i = 0; i < n; i++)
		ps->drop((char *)copies + i * ps->elem_size);
}

struct pub {
	chan_pubsub_t *ps;
	const void *elem;
	unsigned char *tmp; /* clone buffer, elem_size bytes (clone only) */
	const void *src;    /* what is being sent to the current subscriber */
	int got;
};

/*
 * Offer the message to @s without waiting. Return: 0 (done with @s:
 * delivered, discarded, filtered out, skipped), or -EAGAIN: @s is a full
 * BLOCK subscriber and p->src holds its copy, to be sent by offer_wait().
 */
static int offer_try(struct pub *p, struct chan_pubsub_sub *s)
{
	const chan_pubsub_t *ps = p->ps;
	uint64_t d0 = 0;
	int r;

	if (s->filter && (sub_dead(s) || !s->filter(p->elem, s->filter_arg)))
		return 0;
	p->src = p->elem;
	if (ps->clone) {
		if (ps->clone(p->tmp, p->elem) < 0) {
			/* Relaxed: a counter (see chan_pubsub_stats()). */
			atomic_fetch_add_explicit(&s->lost, 1, memory_order_relaxed);
			return 0;
		}
		p->src = p->tmp;
	}
	if (s->policy == CHAN_PUBSUB_DROP_NEWEST)
		d0 = chan_dropped(s->ch);
	r = chan_try_send(s->ch, p->src);
	if (r == 0) {
		atomic_fetch_add_explicit(&s->sent, 1, memory_order_relaxed);
		/* A discard of ours shows in the channel's counter: exact with one
		 * publisher, with several it may be another's (header). */
		if (s->policy != CHAN_PUBSUB_DROP_NEWEST || chan_dropped(s->ch) == d0)
			p->got++;
		return 0;
	}
	if (r == -EAGAIN)
		return -EAGAIN;
	if (r != -EPIPE) /* -ENOMEM: an unbounded channel could not grow */
		atomic_fetch_add_explicit(&s->lost, 1, memory_order_relaxed);
	/* -EPIPE: unsubscribed (or closed) meanwhile; not offered. */
	if (p->src == p->tmp)
		drop_copies(ps, p->tmp, 1);
	return 0;
}

/* Send p->src to the full BLOCK subscriber @s, waiting. Return: 0 (sent, or
 * @s unsubscribed meanwhile), or the ctx's error (the copy counts as lost). */
static int offer_wait(struct pub *p, struct chan_pubsub_sub *s, chan_ctx_t *ctx)
{
	int r = send_wait(s->ch, p->src, ctx);

	if (r == 0) {
		atomic_fetch_add_explicit(&s->sent, 1, memory_order_relaxed);
		p->got++;
		return 0;
	}
	if (p->src == p->tmp)
		drop_copies(p->ps, p->tmp, 1);
	if (r == -EPIPE)
		return 0;
	atomic_fetch_add_explicit(&s->lost, 1, memory_order_relaxed);
	return r;
}

int chan_pubsub_publish(chan_pubsub_t *ps, const void *elem, chan_ctx_t *ctx)
{
	alignas(max_align_t) unsigned char stack[PS_STACK_ELEM];
	struct pub p = {.ps = ps, .elem = elem};
	struct subarr *a;
	size_t i, n;
	int r;

	if (!ps || !elem || !ctx)
		return -EINVAL;
	r = chan_ctx_err(ctx);
	if (r != 0)
		return r;
	/* A2: pairs with R2 in chan_pubsub_close(). */
	if (atomic_load_explicit(&ps->closed, memory_order_acquire))
		return -EPIPE;
	if (ps->clone) {
		p.tmp = ps->elem_size <= sizeof(stack) ? stack : malloc(ps->elem_size);
		if (!p.tmp)
			return -ENOMEM;
	}

	urcu_bp_read_lock();
	/* A1: pairs with R1 in arr_publish(): the array and its subscribers'
	 * fields are filled. */
	a = atomic_load_explicit(&ps->subs, memory_order_acquire);
	n = a ? a->n : 0;
	for (i = 0; i < n; i++)
		if (offer_try(&p, a->v[i]) == -EAGAIN)
			break;
	if (i < n)
		/* Relaxed: the read section keeps a's published reference alive
		 * until after this; AR3 orders what follows. */
		atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed);
	if (a)
		chan__tsan_release(a); /* pairs with chan__tsan_acquire() in arr_reclaim() */
	urcu_bp_read_unlock();

	r = 0;
	if (i < n) {
		/* Outside the read section: a->v[i] is full, wait for it, then go
		 * on with the others (those after it see the message only after
		 * it took it, or after ctx ended the publish). */
		r = offer_wait(&p, a->v[i], ctx);
		for (i++; r == 0 && i < n; i++)
			if (offer_try(&p, a->v[i]) == -EAGAIN)
				r = offer_wait(&p, a->v[i], ctx);
		arr_put(a);
	}
	if (p.tmp && p.tmp != stack)
		free(p.tmp);
	return r < 0 ? r : p.got;
}

/* ---- publish_burst -------------------------------------------------------- */

struct burst {
	chan_pubsub_t *ps;
	const unsigned char *elems;
	size_t n;
	unsigned char *buf; /* n copies, or NULL: send from elems */
	size_t *idx;	    /* with buf: the index in elems of each copy */
	/* The current subscriber's batch: */
	const unsigned char *src; /* elems (then copy k is message k), or buf */
	size_t cnt, sent;
	size_t failed; /* the copy a ctx error stopped at */
};

/* The message (index in elems) of copy @k of the current batch. */
static size_t burst_orig(const struct burst *b, size_t k)
{
	return b->src == b->buf ? b->idx[k] : k;
}

/* The copies for @s in b->src/cnt (clones, filtered); clone failures count
 * as lost. */
static void burst_prepare(struct burst *b, struct chan_pubsub_sub *s)
{
	const chan_pubsub_t *ps = b->ps;
	size_t esz = ps->elem_size;

	b->sent = 0;
	if (!b->buf || (!ps->clone && !s->filter)) {
		b->src = b->elems;
		b->cnt = b->n;
		return;
	}
	b->src = b->buf;
	b->cnt = 0;
	for (size_t j = 0; j < b->n; j++) {
		const unsigned char *e = b->elems + j * esz;
		unsigned char *d = b->buf + b->cnt * esz;

		if (s->filter && (sub_dead(s) || !s->filter(e, s->filter_arg)))
			continue;
		if (ps->clone) {
			if (ps->clone(d, e) < 0) {
				atomic_fetch_add_explicit(&s->lost, 1, memory_order_relaxed);
				continue;
			}
		} else {
			memcpy(d, e, esz);
		}
		b->idx[b->cnt++] = j;
	}
}

/* What was not sent of the batch: drop the clones. */
static void burst_abandon(struct burst *b)
{
	if (b->src == b->buf)
		drop_copies(b->ps, b->src + b->sent * b->ps->elem_size, b->cnt - b->sent);
	b->sent = b->cnt;
}

/* Try-send the batch; Return: 0 (done with @s), or -EAGAIN (full BLOCK
 * subscriber, b->sent of it taken). */
static int burst_try(struct burst *b, struct chan_pubsub_sub *s)
{
	size_t k;
	int e;

	burst_prepare(b, s);
	if (b->cnt == 0)
		return 0;
	k = chan_try_send_burst(s->ch, b->src, b->cnt);
	e = errno; /* meaningful only when k == 0 (chan/channel.h, bursts) */
	if (k > 0)
		atomic_fetch_add_explicit(&s->sent, k, memory_order_relaxed);
	b->sent = k;
	if (k == b->cnt)
		return 0;
	if (k == 0 && e != EAGAIN) {
		/* EPIPE: unsubscribed or closed; ENOMEM: unbounded, cannot grow. */
		if (e != EPIPE)
			atomic_fetch_add_explicit(&s->lost, b->cnt, memory_order_relaxed);
		burst_abandon(b);
		return 0;
	}
	return -EAGAIN; /* full, or a partial count whose reason the wait finds */
}

/* Send the rest of the batch, waiting. Return: 0, or the ctx's error (the
 * copy it waited on counts as lost, b->sent is where it stopped). */
static int burst_wait(struct burst *b, struct chan_pubsub_sub *s, chan_ctx_t *ctx)
{
	size_t esz = b->ps->elem_size;

	while (b->sent < b->cnt) {
		const unsigned char *at = b->src + b->sent * esz;
		size_t left = b->cnt - b->sent, k;
		int r;

		if (ctx == chan_ctx_background()) {
			k = chan_send_burst(s->ch, at, left);
			r = k > 0 ? 0 : -errno;
		} else {
			r = send_wait(s->ch, at, ctx);
			k = r == 0 ? 1 : 0;
		}
		if (r == -EPIPE) {
			burst_abandon(b);
			return 0;
		}
		if (r != 0) {
			/* The ctx, or -ENOMEM for its done channel (-ENOMEM of
			 * an unbounded channel, which does not block, is not
			 * reached here). */
			atomic_fetch_add_explicit(&s->lost, 1, memory_order_relaxed);
			b->failed = b->sent;
			burst_abandon(b);
			return r;
		}
		atomic_fetch_add_explicit(&s->sent, k, memory_order_relaxed);
		b->sent += k;
		if (b->sent < b->cnt && ctx != chan_ctx_background()) {
			k = chan_try_send_burst(s->ch, b->src + b->sent * esz, b->cnt - b->sent);
			atomic_fetch_add_explicit(&s->sent, k, memory_order_relaxed);
			b->sent += k;
		}
	}
	return 0;
}

/* The leading messages every subscriber got, after a ctx error at a->v[i]
 * on message j = burst_orig(b, b->failed): j, or 0 if a live subscriber
 * comes after a->v[i] (it was offered nothing). */
static size_t burst_done(const struct burst *b, const struct subarr *a, size_t i)
{
	for (size_t j = i + 1; j < a->n; j++)
		/* Relaxed: a subscriber unsubscribed meanwhile may count either way. */
		if (!atomic_load_explicit(&a->v[j]->dead, memory_order_relaxed))
			return 0;
	return burst_orig(b, b->failed);
}

int chan_pubsub_publish_burst(chan_pubsub_t *ps, const void *elems, size_t n, chan_ctx_t *ctx,
			      size_t *done)
{
	alignas(max_align_t) unsigned char stack[PS_STACK_BURST];
	size_t stack_idx[PS_STACK_BURST / 8];
	struct burst b = {.ps = ps, .elems = elems, .n = n};
	struct subarr *a;
	size_t i, m = 0, esz;
	int r;

	if (done)
		*done = 0;
	if (!ps || !ctx || (!elems && n > 0))
		return -EINVAL;
	r = chan_ctx_err(ctx);
	if (r != 0)
		return r;
	if (atomic_load_explicit(&ps->closed, memory_order_acquire)) /* A2 */
		return -EPIPE;
	if (n == 0)
		return 0;
	esz = ps->elem_size;

	urcu_bp_read_lock();
	a = atomic_load_explicit(&ps->subs, memory_order_acquire); /* A1 */
	m = a ? a->n : 0;
	/* Relaxed: set before R1 published a subscriber with a filter. */
	if (m > 0 && (ps->clone || atomic_load_explicit(&ps->any_filter, memory_order_relaxed))) {
		if (n <= sizeof(stack) / esz && n <= sizeof(stack_idx) / sizeof(stack_idx[0])) {
			b.buf = stack;
			b.idx = stack_idx;
		} else {
			b.buf = n <= SIZE_MAX / esz ? malloc(n * esz) : NULL;
			b.idx = n <= SIZE_MAX / sizeof(size_t) ? malloc(n * sizeof(size_t)) : NULL;
			if (!b.buf || !b.idx) {
				chan__tsan_release(a);
				urcu_bp_read_unlock();
				free(b.buf);
				free(b.idx);
				return -ENOMEM;
			}
		}
	}
	for (i = 0; i < m; i++)
		if (burst_try(&b, a->v[i]) == -EAGAIN)
			break;
	if (i < m)
		atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed); /* as in publish */
	if (a)
		chan__tsan_release(a); /* pairs with chan__tsan_acquire() in arr_reclaim() */
	urcu_bp_read_unlock();

	r = 0;
	if (i < m) {
		r = burst_wait(&b, a->v[i], ctx);
		while (r == 0 && ++i < m)
			if (burst_try(&b, a->v[i]) == -EAGAIN)
				r = burst_wait(&b, a->v[i], ctx);
		if (r != 0 && done)
			*done = burst_done(&b, a, i);
		arr_put(a);
	}
	if (b.buf && b.buf != stack) {
		free(b.buf);
		free(b.idx);
	}
	if (r == 0 && done)
		*done = n;
	return r;
}
