/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/pubsub_test.c - chan/pubsub.h (DESIGN.md, "chan/pubsub.h"):
 * bad input, delivery from subscribe on, what DROP_NEWEST and DROP_OLDEST
 * keep and the counters (delivered + dropped == offered, eviction moves a
 * value from delivered to dropped, drop() once per evicted value), filters,
 * clone/drop with owning pointers (the asan build checks each is freed
 * once), take_dropped, the ctx rules of publish and publish_burst (*done),
 * close and destroy lifetimes, unsubscribe unblocking a publisher, and
 * composition with chan_select. The concurrent runs are in
 * tests/stress/pubsub_stress.c.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <urcu/urcu-bp.h>

#include <chan/chan.h>

#include "tests/common/thread_state.h"

#define MS 1000000LL

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * MS};

	nanosleep(&ts, NULL);
}

/*
 * Unsubscribed subscriptions are freed by call_rcu callbacks after a grace
 * period: wait until a callback queued now has run. liburcu runs them in
 * queue order on one thread, so the earlier ones have run too. (What
 * urcu_bp_barrier() does, but with a flag that ThreadSanitizer sees; the
 * barrier's own completion record is malloc'd by the caller and freed by the
 * call_rcu thread through a futex TSan cannot see.)
 */
static struct rcu_head grace_head;
static atomic_bool grace_done;

static void grace_cb(struct rcu_head *h)
{
	(void)h;
	atomic_store_explicit(&grace_done, true, memory_order_release);
}

static void grace(void)
{
	atomic_store_explicit(&grace_done, false, memory_order_relaxed);
	urcu_bp_call_rcu(&grace_head, grace_cb);
	while (!atomic_load_explicit(&grace_done, memory_order_acquire))
		sleep_ms(1);
}

static chan_pubsub_t *mk_ps(size_t es)
{
	chan_pubsub_t *ps = chan_pubsub_new(&(chan_pubsub_opts_t){.elem_size = es});

	cr_assert_not_null(ps, "chan_pubsub_new: errno %d", errno);
	return ps;
}

static chan_pubsub_sub_t *sub(chan_pubsub_t *ps, int policy, size_t cap)
{
	chan_pubsub_sub_t *s = chan_pubsub_subscribe(
		ps, &(chan_pubsub_sub_opts_t){.capacity = cap, .policy = policy});

	cr_assert_not_null(s, "subscribe(policy %d, cap %zu): errno %d", policy, cap, errno);
	return s;
}

static int pub(chan_pubsub_t *ps, uint64_t v)
{
	return chan_pubsub_publish(ps, &v, chan_ctx_background());
}

static uint64_t recv_u64(chan_pubsub_sub_t *s)
{
	uint64_t v = ~0ull;

	cr_assert_eq(chan_try_recv(chan_pubsub_chan(s), &v), 0, "a value should be there");
	return v;
}

static void expect_stats(chan_pubsub_sub_t *s, uint64_t delivered, uint64_t dropped)
{
	chan_pubsub_stats_t st;

	chan_pubsub_stats(s, &st);
	cr_assert_eq(st.delivered, delivered, "delivered %llu, expected %llu",
		     (unsigned long long)st.delivered, (unsigned long long)delivered);
	cr_assert_eq(st.dropped, dropped, "dropped %llu, expected %llu",
		     (unsigned long long)st.dropped, (unsigned long long)dropped);
}

/* ---- bad input ------------------------------------------------------------- */

Test(pubsub, bad_input_is_einval)
{
	chan_pubsub_t *ps = mk_ps(8);
	chan_pubsub_sub_t *s = sub(ps, CHAN_PUBSUB_BLOCK, 1);
	chan_ctx_t *done = chan_ctx_with_cancel(chan_ctx_background());
	chan_pubsub_stats_t st = {7, 7};
	uint64_t v = 1;
	size_t d = 99;

	errno = 0;
	cr_assert_null(chan_pubsub_new(NULL));
	cr_assert_eq(errno, EINVAL);
	errno = 0;
	cr_assert_null(chan_pubsub_new(&(chan_pubsub_opts_t){.elem_size = 0}));
	cr_assert_eq(errno, EINVAL);
	errno = 0;
	cr_assert_null(chan_pubsub_new(&(chan_pubsub_opts_t){.elem_size = CHAN_ELEM_SIZE_MAX + 1}));
	cr_assert_eq(errno, EINVAL);

	const chan_pubsub_sub_opts_t bad[] = {
		{.policy = 3, .capacity = 4},
		{.policy = -1, .capacity = 4},
		{.policy = CHAN_PUBSUB_DROP_NEWEST, .capacity = 0},
		{.policy = CHAN_PUBSUB_DROP_OLDEST, .capacity = 0},
		{.policy = CHAN_PUBSUB_DROP_NEWEST, .capacity = CHAN_UNBOUNDED},
		{.policy = CHAN_PUBSUB_DROP_OLDEST, .capacity = CHAN_UNBOUNDED},
		{.policy = CHAN_PUBSUB_BLOCK, .capacity = CHAN_CAPACITY_MAX + 1},
		{.policy = CHAN_PUBSUB_DROP_OLDEST, .capacity = CHAN_CAPACITY_MAX + 1},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		cr_assert_null(chan_pubsub_subscribe(ps, &bad[i]), "bad sub opts %zu accepted", i);
		cr_assert_eq(errno, EINVAL, "bad sub opts %zu: errno %d", i, errno);
	}
	errno = 0;
	cr_assert_null(chan_pubsub_subscribe(NULL, NULL));
	cr_assert_eq(errno, EINVAL);

	cr_assert_eq(chan_pubsub_publish(NULL, &v, chan_ctx_background()), -EINVAL);
	cr_assert_eq(chan_pubsub_publish(ps, NULL, chan_ctx_background()), -EINVAL);
	cr_assert_eq(chan_pubsub_publish(ps, &v, NULL), -EINVAL);
	cr_assert_eq(chan_pubsub_publish_burst(NULL, &v, 1, chan_ctx_background(), &d), -EINVAL);
	cr_assert_eq(d, 0);
	cr_assert_eq(chan_pubsub_publish_burst(ps, NULL, 1, chan_ctx_background(), &d), -EINVAL);
	cr_assert_eq(chan_pubsub_publish_burst(ps, &v, 1, NULL, &d), -EINVAL);
	/* Bad arguments are checked before the context. */
	chan_ctx_cancel(done);
	cr_assert_eq(chan_pubsub_publish(ps, NULL, done), -EINVAL);
	cr_assert_eq(chan_pubsub_publish_burst(ps, NULL, 2, done, NULL), -EINVAL);

	cr_assert_eq(chan_pubsub_unsubscribe(NULL), -EINVAL);
	cr_assert_eq(chan_pubsub_close(NULL), -EINVAL);
	cr_assert_null(chan_pubsub_chan(NULL));
	chan_pubsub_stats(NULL, &st);
	cr_assert(st.delivered == 0 && st.dropped == 0);
	chan_pubsub_stats(s, NULL); /* ignored */
	cr_assert_eq(chan_pubsub_take_dropped(NULL), 0);
	chan_pubsub_destroy(NULL);

	/* Nothing reached the subscriber. */
	cr_assert_eq(chan_len(chan_pubsub_chan(s)), 0);
	expect_stats(s, 0, 0);
	chan_ctx_release(done);
	chan_pubsub_unsubscribe(s);
	chan_pubsub_destroy(ps);
	grace();
}

Test(pubsub, null_sub_opts_mean_unbuffered_block)
{
	chan_pubsub_t *ps = mk_ps(4);
	chan_pubsub_sub_t *s = chan_pubsub_subscribe(ps, NULL);
	int v = 5;

	cr_assert_not_null(s);
	cr_assert_eq(chan_cap(chan_pubsub_chan(s)), 0);
	cr_assert_eq(chan_elem_size(chan_pubsub_chan(s)), 4);
	/* Unbuffered and nobody receiving: a bounded publish gives up. */
	chan_ctx_t *ctx = chan_ctx_with_timeout(chan_ctx_background(), 20 * MS);
	cr_assert_eq(chan_pubsub_publish(ps, &v, ctx), -ETIMEDOUT);
	chan_ctx_release(ctx);
	expect_stats(s, 0, 1);
	chan_pubsub_unsubscribe(s);
	chan_pubsub_destroy(ps);
	grace();
}

/* ---- delivery -------------------------------------------------------------- */

Test(pubsub, every_subscriber_gets_every_message_in_order)
{
	chan_pubsub_t *ps = mk_ps(8);
	chan_pubsub_sub_t *s[3];

	cr_assert_eq(pub(ps, 100), 0, "no subscriber: nobody got it");
	for (int i = 0; i < 3; i++)
		s[i] = sub(ps, CHAN_PUBSUB_BLOCK, 8);
	for (uint64_t v = 0; v < 8; v++)
		cr_assert_eq(pub(ps, v), 3);
	for (int i = 0; i < 3; i++) {
		for (uint64_t v = 0; v < 8; v++)
			cr_assert_eq(recv_u64(s[i]), v, "subscriber %d: FIFO", i);
		cr_assert_eq(chan_try_recv(chan_pubsub_chan(s[i]), NULL), -EAGAIN,
			     "the message before subscribe is not there, none twice");
		expect_stats(s[i], 8, 0);
		cr_assert_eq(chan_pubsub_take_dropped(s[i]), 0);
	}
	/* A late subscriber gets only what is published after it. */
	chan_pubsub_sub_t *late = sub(ps, CHAN_PUBSUB_DROP_OLDEST, 4);
	cr_assert_eq(pub(ps, 8), 4);
	cr_assert_eq(recv_u64(late), 8);
	for (int i = 0; i < 3; i++)
		chan_pubsub_unsubscribe(s[i]);
	cr_assert_eq(pub(ps, 9), 1, "unsubscribed ones are not offered");
	expect_stats(late, 2, 0);
	chan_pubsub_unsubscribe(late);
	cr_assert_eq(pub(ps, 10), 0);
	chan_pubsub_destroy(ps);
	grace();
}

Test(pubsub, unbounded_block_subscriber_never_waits)
{
	chan_pubsub_t *ps = mk_ps(8);
	chan_pubsub_sub_t *s = sub(ps, CHAN_PUBSUB_BLOCK, CHAN_UNBOUNDED);

	for (uint64_t v = 0; v < 1000; v++)
		cr_assert_eq(pub(ps, v), 1);
	expect_stats(s, 1000, 0);
	for (uint64_t v = 0; v < 1000; v++)
		cr_assert_eq(recv_u64(s), v);
	chan_pubsub_unsubscribe(s);
	chan_pubsub_destroy(ps);
	grace();
}

/* A subscription is a channel: it sits in a select with other channels. */
Test(pubsub, subscriptions_compose_with_select)
{
	chan_pubsub_t *a = mk_ps(8), *b = mk_ps(8);
	chan_pubsub_sub_t *sa = sub(a, CHAN_PUBSUB_BLOCK, 4), *sb = sub(b, CHAN_PUBSUB_BLOCK, 4);
	uint64_t got = 0, va = 0, vb = 0;

	cr_assert_eq(pub(a, 1), 1);
	cr_assert_eq(pub(b, 2), 1);
	chan_pubsub_close(a);
	chan_pubsub_close(b);
	for (int open = 2; open > 0;) {
		chan_case_t cs[] = {
			{.chan = chan_pubsub_chan(sa), .op = CHAN_OP_RECV, .elem = &va},
			{.chan = chan_pubsub_chan(sb), .op = CHAN_OP_RECV, .elem = &vb},
		};
		int r = chan_select(cs, 2);

		cr_assert(r == 0 || r == 1);
		if (cs[r].err == -EPIPE) {
			open--;
			if (r == 0)
				sa = (chan_pubsub_unsubscribe(sa), NULL);
			else
				sb = (chan_pubsub_unsubscribe(sb), NULL);
			continue;
		}
		got += r == 0 ? va : vb;
	}
	cr_assert_eq(got, 3);
	chan_pubsub_destroy(a);
	chan_pubsub_destroy(b);
	grace();
}

/* ---- the drop policies ---------------------------------------------------- */

static _Atomic uint64_t drops;
static uint64_t drop_log[64];

static void log_drop(void *elem)
{
	uint64_t v;

	memcpy(&v, elem, sizeof(v));
	uint64_t i = atomic_fetch_add(&drops, 1);
	if (i < 64)
		drop_log[i] = v;
}

static chan_pubsub_t *mk_logging(void)
{
	chan_pubsub_t *ps = chan_pubsub_new(
		&(chan_pubsub_opts_t){.elem_size = sizeof(uint64_t), .drop = log_drop});

	cr_assert_not_null(ps);
	atomic_store(&drops, 0);
	return ps;
}

Test(pubsub, drop_newest_keeps_the_first_c)
{
	const size_t caps[] = {1, 3, 16};

	for (size_t ci = 0; ci < 3; ci++) {
		size_t c = caps[ci], n = 3 * c + 2;
		chan_pubsub_t *ps = mk_logging();
		chan_pubsub_sub_t *s = sub(ps, CHAN_PUBSUB_DROP_NEWEST, c);

		for (uint64_t v = 0; v < n; v++)
			cr_assert_eq(pub(ps, v), v < c ? 1 : 0,
				     "publish %llu: a discarded copy is not 'got'",
				     (unsigned long long)v);
		expect_stats(s, c, n - c);
		cr_assert_eq(chan_dropped(chan_pubsub_chan(s)), n - c);
		cr_assert_eq(atomic_load(&drops), n - c, "drop() once per discarded value");
		for (uint64_t v = 0; v < n - c; v++)
			cr_assert_eq(drop_log[v], c + v);
		cr_assert_eq(chan_pubsub_take_dropped(s), n - c);
		cr_assert_eq(chan_pubsub_take_dropped(s), 0);
		for (uint64_t v = 0; v < c; v++)
			cr_assert_eq(recv_u64(s), v);
		/* Room again: the next one is kept. */
		cr_assert_eq(pub(ps, 1000), 1);
		cr_assert_eq(recv_u64(s), 1000);
		expect_stats(s, c + 1, n - c);
		chan_pubsub_unsubscribe(s);
		chan_pubsub_destroy(ps);
		grace();
	}
}

Test(pubsub, drop_oldest_keeps_the_last_c)
{
	const size_t caps[] = {1, 3, 16};

	for (size_t ci = 0; ci < 3; ci++) {
		size_t c = caps[ci], n = 3 * c + 2;
		chan_pubsub_t *ps = mk_logging();
		chan_pubsub_sub_t *s = sub(ps, CHAN_PUBSUB_DROP_OLDEST, c);

		for (uint64_t v = 0; v < n; v++) {
			cr_assert_eq(pub(ps, v), 1, "DROP_OLDEST: the new copy is always taken");
			/* An eviction moves a value from delivered to dropped. */
			expect_stats(s, v < c ? v + 1 : c, v < c ? 0 : v + 1 - c);
		}
		cr_assert_eq(atomic_load(&drops), n - c, "drop() once per evicted value");
		for (uint64_t v = 0; v < n - c; v++)
			cr_assert_eq(drop_log[v], v, "evicted oldest first");
		cr_assert_eq(chan_pubsub_take_dropped(s), n - c);
		for (uint64_t v = n - c; v < n; v++)
			cr_assert_eq(recv_u64(s), v);
		chan_pubsub_unsubscribe(s);
		chan_pubsub_destroy(ps);
		grace();
		cr_assert_eq(atomic_load(&drops), n - c, "nothing left to drop");
	}
}

Test(pubsub, take_dropped_counts_since_the_last_call)
{
	chan_pubsub_t *ps = mk_ps(8);
	chan_pubsub_sub_t *s = sub(ps, CHAN_PUBSUB_DROP_OLDEST, 2);

	cr_assert_eq(chan_pubsub_take_dropped(s), 0);
	for (uint64_t v = 0; v < 5; v++)
		pub(ps, v);
	cr_assert_eq(chan_pubsub_take_dropped(s), 3);
	for (uint64_t v = 0; v < 4; v++)
		pub(ps, v);
	cr_assert_eq(chan_pubsub_take_dropped(s), 4);
	cr_assert_eq(chan_pubsub_take_dropped(s), 0);
	expect_stats(s, 2, 7);
	chan_pubsub_unsubscribe(s);
	chan_pubsub_destroy(ps);
	grace();
}

/* ---- filter ------------------------------------------------------------- */

static bool is_multiple(const void *elem, void *arg)
{
	uint64_t v;

	memcpy(&v, elem, sizeof(v));
	return v % (uint64_t)(uintptr_t)arg == 0;
}

Test(pubsub, filter_offers_only_what_it_accepts)
{
	chan_pubsub_t *ps = mk_ps(8);
	chan_pubsub_sub_t *even = chan_pubsub_subscribe(
		ps, &(chan_pubsub_sub_opts_t){.capacity = 64,
					      .filter = is_multiple,
					      .filter_arg = (void *)(uintptr_t)2});
	chan_pubsub_sub_t *by3 = chan_pubsub_subscribe(
		ps, &(chan_pubsub_sub_opts_t){.capacity = 2,
					      .policy = CHAN_PUBSUB_DROP_NEWEST,
					      .filter = is_multiple,
					      .filter_arg = (void *)(uintptr_t)3});
	chan_pubsub_sub_t *all = sub(ps, CHAN_PUBSUB_BLOCK, 64);

	cr_assert_not_null(even);
	cr_assert_not_null(by3);
	for (uint64_t v = 0; v < 12; v++) {
		int want = 1 + (v % 2 == 0) + (v % 3 == 0 && v < 6);

		cr_assert_eq(pub(ps, v), want, "publish %llu", (unsigned long long)v);
	}
	/* A refused message counts in neither counter. */
	expect_stats(even, 6, 0);
	expect_stats(by3, 2, 2); /* 0, 3 kept; 6, 9 discarded */
	expect_stats(all, 12, 0);
	for (uint64_t v = 0; v < 12; v += 2)
		cr_assert_eq(recv_u64(even), v);
	cr_assert_eq(recv_u64(by3), 0);
	cr_assert_eq(recv_u64(by3), 3);

	/* The burst path filters the same way. */
	uint64_t vs[12];
	size_t done = 0;
	for (uint64_t v = 0; v < 12; v++)
		vs[v] = 100 + v;
	cr_assert_eq(chan_pubsub_publish_burst(ps, vs, 12, chan_ctx_background(), &done), 0);
	cr_assert_eq(done, 12);
	expect_stats(even, 12, 0);
	expect_stats(by3, 4, 4); /* 102, 105 kept (room for two); 108, 111 not */
	expect_stats(all, 24, 0);
	for (uint64_t v = 100; v < 112; v += 2)
		cr_assert_eq(recv_u64(even), v);
	cr_assert_eq(recv_u64(by3), 102);
	cr_assert_eq(recv_u64(by3), 105);
	chan_pubsub_unsubscribe(even);
	chan_pubsub_unsubscribe(by3);
	chan_pubsub_unsubscribe(all);
	chan_pubsub_destroy(ps);
	grace();
}

/* ---- clone/drop: owning pointers ------------------------------------------- */

struct obj {
	uint64_t v;
	uint64_t magic;
};

#define MAGIC 0x5ca1ab1e
static _Atomic long live;   /* objects allocated and not freed */
static _Atomic long clones; /* successful clone() calls */
static _Atomic long fail_clone_of = -1;

static struct obj *obj_new(uint64_t v)
{
	struct obj *o = malloc(sizeof(*o));

	cr_assert_not_null(o);
	o->v = v;
	o->magic = MAGIC;
	atomic_fetch_add(&live, 1);
	return o;
}

static void obj_free(struct obj *o)
{
	cr_assert_eq(o->magic, MAGIC, "freed twice or never made");
	o->magic = 0;
	free(o);
	atomic_fetch_sub(&live, 1);
}

static int obj_clone(void *dst, const void *src)
{
	struct obj *o;

	memcpy(&o, src, sizeof(o));
	if ((long)o->v == atomic_load(&fail_clone_of))
		return -ENOMEM;
	struct obj *c = obj_new(o->v);
	memcpy(dst, &c, sizeof(c));
	atomic_fetch_add(&clones, 1);
	return 0;
}

static void obj_drop(void *elem)
{
	struct obj *o;

	memcpy(&o, elem, sizeof(o));
	obj_free(o);
}

static chan_pubsub_t *mk_owning(void)
{
	chan_pubsub_t *ps = chan_pubsub_new(&(chan_pubsub_opts_t){
		.elem_size = sizeof(struct obj *), .clone = obj_clone, .drop = obj_drop});

	cr_assert_not_null(ps);
	atomic_store(&live, 0);
	atomic_store(&clones, 0);
	atomic_store(&fail_clone_of, -1);
	return ps;
}

static int pub_obj(chan_pubsub_t *ps, uint64_t v, chan_ctx_t *ctx)
{
	struct obj *o = obj_new(v);
	int r = chan_pubsub_publish(ps, &o, ctx);

	obj_free(o); /* the caller keeps its original */
	return r;
}

static uint64_t recv_obj(chan_pubsub_sub_t *s)
{
	struct obj *o = NULL;
	uint64_t v;

	cr_assert_eq(chan_try_recv(chan_pubsub_chan(s), &o), 0);
	v = o->v;
	obj_free(o);
	return v;
}

Test(pubsub, clone_and_drop_free_every_copy_once)
{
	chan_pubsub_t *ps = mk_owning();
	chan_pubsub_sub_t *nw = sub(ps, CHAN_PUBSUB_DROP_NEWEST, 2);
	chan_pubsub_sub_t *old = sub(ps, CHAN_PUBSUB_DROP_OLDEST, 2);
	chan_pubsub_sub_t *blk = sub(ps, CHAN_PUBSUB_BLOCK, 2);
	chan_pubsub_sub_t *left = sub(ps, CHAN_PUBSUB_DROP_OLDEST, 8);
	chan_ctx_t *ctx;

	cr_assert_eq(pub_obj(ps, 0, chan_ctx_background()), 4);
	cr_assert_eq(pub_obj(ps, 1, chan_ctx_background()), 4);
	ctx = chan_ctx_with_timeout(chan_ctx_background(), 20 * MS);
	/* Now nw, old and blk are full: nw discards 2 (its clone to drop()),
	 * old evicts 0 for it, blk waits until the timeout (its clone is
	 * dropped), and left is not offered 2. */
	cr_assert_eq(pub_obj(ps, 2, ctx), -ETIMEDOUT);
	chan_ctx_release(ctx);
	/* Clones made: 4 + 4 + 3 (2 reaches nw, old, blk, not left). */
	cr_assert_eq(atomic_load(&clones), 11);
	expect_stats(blk, 2, 1);
	expect_stats(nw, 2, 1);
	expect_stats(old, 2, 1);
	expect_stats(left, 2, 0);
	cr_assert_eq(recv_obj(blk), 0);
	cr_assert_eq(recv_obj(nw), 0);
	cr_assert_eq(recv_obj(old), 1);
	/* Unsubscribing with values left: they go to drop() (after the grace
	 * period); the retained one stays receivable. */
	chan_t *keep = chan_retain(chan_pubsub_chan(left));
	chan_pubsub_unsubscribe(blk);
	chan_pubsub_unsubscribe(nw);
	chan_pubsub_unsubscribe(old);
	chan_pubsub_unsubscribe(left);
	grace();
	struct obj *o;
	cr_assert_eq(chan_recv(keep, &o), 0);
	cr_assert_eq(o->v, 0);
	obj_free(o);
	chan_release(keep); /* drops the other one */
	chan_pubsub_destroy(ps);
	grace();
	cr_assert_eq(atomic_load(&live), 0, "every clone freed exactly once: %ld live",
		     atomic_load(&live));
}

Test(pubsub, a_failed_clone_counts_as_dropped)
{
	chan_pubsub_t *ps = mk_owning();
	chan_pubsub_sub_t *a = sub(ps, CHAN_PUBSUB_BLOCK, 8),
			  *b = sub(ps, CHAN_PUBSUB_DROP_OLDEST, 8);

	atomic_store(&fail_clone_of, 1);
	for (uint64_t v = 0; v < 3; v++)
		cr_assert_eq(pub_obj(ps, v, chan_ctx_background()), v == 1 ? 0 : 2);
	expect_stats(a, 2, 1);
	expect_stats(b, 2, 1);
	cr_assert_eq(chan_pubsub_take_dropped(a), 1);
	cr_assert_eq(recv_obj(a), 0);
	cr_assert_eq(recv_obj(a), 2);

	/* And in a burst. */
	struct obj *os[4];
	size_t done;
	for (uint64_t v = 0; v < 4; v++)
		os[v] = obj_new(v);
	cr_assert_eq(chan_pubsub_publish_burst(ps, os, 4, chan_ctx_background(), &done), 0);
	cr_assert_eq(done, 4);
	for (int v = 0; v < 4; v++)
		obj_free(os[v]);
	expect_stats(a, 5, 2);
	expect_stats(b, 5, 2);
	for (uint64_t v = 0; v < 4; v++)
		if (v != 1)
			cr_assert_eq(recv_obj(a), v);
	chan_pubsub_unsubscribe(a);
	chan_pubsub_unsubscribe(b);
	chan_pubsub_destroy(ps);
	grace();
	cr_assert_eq(atomic_load(&live), 0);
}

/* ---- ctx rules ------------------------------------------------------------ */

Test(pubsub, a_done_ctx_offers_nothing)
{
	chan_pubsub_t *ps = mk_owning();
	chan_pubsub_sub_t *s = sub(ps, CHAN_PUBSUB_DROP_OLDEST, 4);
	chan_ctx_t *ctx = chan_ctx_with_cancel(chan_ctx_background());
	struct obj *o = obj_new(1);
	size_t done = 7;

	chan_ctx_cancel(ctx);
	cr_assert_eq(chan_pubsub_publish(ps, &o, ctx), -ECANCELED);
	cr_assert_eq(chan_pubsub_publish_burst(ps, &o, 1, ctx, &done), -ECANCELED);
	cr_assert_eq(done, 0);
	cr_assert_eq(chan_pubsub_publish_burst(ps, &o, 0, ctx, &done), -ECANCELED);
	chan_ctx_release(ctx);
	ctx = chan_ctx_with_deadline(chan_ctx_background(), chan_now() - 1);
	cr_assert_eq(chan_pubsub_publish(ps, &o, ctx), -ETIMEDOUT);
	chan_ctx_release(ctx);
	cr_assert_eq(atomic_load(&clones), 0, "nothing was even cloned");
	expect_stats(s, 0, 0);
	obj_free(o);
	chan_pubsub_unsubscribe(s);
	chan_pubsub_destroy(ps);
	grace();
}

Test(pubsub, ctx_error_while_blocked_drops_that_copy_and_stops)
{
	chan_pubsub_t *ps = mk_ps(8);
	chan_pubsub_sub_t *before = sub(ps, CHAN_PUBSUB_DROP_OLDEST, 4);
	chan_pubsub_sub_t *full = sub(ps, CHAN_PUBSUB_BLOCK, 1);
	chan_pubsub_sub_t *after = sub(ps, CHAN_PUBSUB_BLOCK, 4);
	chan_ctx_t *ctx;
	int64_t t0;

	cr_assert_eq(pub(ps, 1), 3);
	t0 = chan_now();
	ctx = chan_ctx_with_timeout(chan_ctx_background(), 30 * MS);
	cr_assert_eq(chan_pubsub_publish(ps, &(uint64_t){2}, ctx), -ETIMEDOUT);
	cr_assert_geq(chan_now() - t0, 30 * MS, "never early");
	chan_ctx_release(ctx);
	expect_stats(before, 2, 0); /* earlier deliveries stand */
	expect_stats(full, 1, 1);   /* the copy it waited on counts as dropped */
	expect_stats(after, 1, 0);  /* not offered */
	cr_assert_eq(chan_pubsub_take_dropped(full), 1);
	cr_assert_eq(recv_u64(after), 1);
	cr_assert_eq(chan_try_recv(chan_pubsub_chan(after), NULL), -EAGAIN);
	cr_assert_eq(recv_u64(before), 1);
	cr_assert_eq(recv_u64(before), 2);
	cr_assert_eq(recv_u64(full), 1);
	chan_pubsub_unsubscribe(before);
	chan_pubsub_unsubscribe(full);
	chan_pubsub_unsubscribe(after);
	chan_pubsub_destroy(ps);
	grace();
}

/* Cancels @ctx once thread @tid (the publisher) is parked; @parked says
 * whether it was (no cr_assert off the test's thread). */
struct canceler {
	chan_ctx_t *ctx;
	long tid;
	bool parked;
};

static void *cancel_when_parked(void *arg)
{
	struct canceler *c = arg;

	c->parked = test_wait_asleep(c->tid, 10, 20000);
	chan_ctx_cancel(c->ctx);
	return NULL;
}

Test(pubsub, cancel_while_blocked)
{
	chan_pubsub_t *ps = mk_ps(8);
	chan_pubsub_sub_t *s = sub(ps, CHAN_PUBSUB_BLOCK, 0); /* unbuffered, nobody receives */
	struct canceler c = {.ctx = chan_ctx_with_cancel(chan_ctx_background()),
			     .tid = test_gettid()};
	pthread_t t;

	pthread_create(&t, NULL, cancel_when_parked, &c);
	cr_assert_eq(chan_pubsub_publish(ps, &(uint64_t){1}, c.ctx), -ECANCELED);
	pthread_join(t, NULL);
	cr_assert(c.parked, "the publisher never blocked");
	expect_stats(s, 0, 1);
	chan_ctx_release(c.ctx);
	chan_pubsub_unsubscribe(s);
	chan_pubsub_destroy(ps);
	grace();
}

/* ---- publish_burst and *done ----------------------------------------------- */

Test(pubsub, burst_delivers_all_and_sets_done)
{
	chan_pubsub_t *ps = mk_ps(8);
	chan_pubsub_sub_t *s[3] = {sub(ps, CHAN_PUBSUB_BLOCK, 64),
				   sub(ps, CHAN_PUBSUB_DROP_NEWEST, 5),
				   sub(ps, CHAN_PUBSUB_DROP_OLDEST, 5)};
	uint64_t vs[20];
	size_t done = 0;

	for (uint64_t v = 0; v < 20; v++)
		vs[v] = v;
	cr_assert_eq(chan_pubsub_publish_burst(ps, vs, 20, chan_ctx_background(), &done), 0);
	cr_assert_eq(done, 20);
	cr_assert_eq(chan_pubsub_publish_burst(ps, vs, 0, chan_ctx_background(), &done), 0);
	cr_assert_eq(done, 0);
	cr_assert_eq(chan_pubsub_publish_burst(ps, vs, 0, chan_ctx_background(), NULL), 0);
	expect_stats(s[0], 20, 0);
	expect_stats(s[1], 5, 15);
	expect_stats(s[2], 5, 15);
	for (uint64_t v = 0; v < 20; v++)
		cr_assert_eq(recv_u64(s[0]), v);
	for (uint64_t v = 0; v < 5; v++)
		cr_assert_eq(recv_u64(s[1]), v);
	for (uint64_t v = 15; v < 20; v++)
		cr_assert_eq(recv_u64(s[2]), v);
	for (int i = 0; i < 3; i++)
		chan_pubsub_unsubscribe(s[i]);
	chan_pubsub_destroy(ps);
	grace();
}

static void burst_timeout_case(int full_first, size_t *done, chan_pubsub_stats_t st[2])
{
	chan_pubsub_t *ps = mk_ps(8);
	chan_pubsub_sub_t *s[2];
	uint64_t vs[10];
	chan_ctx_t *ctx;

	for (int i = 0; i < 2; i++) /* in subscription order */
		s[i] = (i == 0) == (full_first != 0) ? sub(ps, CHAN_PUBSUB_BLOCK, 4)
						     : sub(ps, CHAN_PUBSUB_DROP_OLDEST, 100);
	for (uint64_t v = 0; v < 10; v++)
		vs[v] = v;
	*done = 77;
	/* The clock starts here, not before the subscriptions (slow under TSan):
	 * the burst must reach its wait before the deadline. */
	ctx = chan_ctx_with_timeout(chan_ctx_background(), 20 * MS);
	cr_assert_eq(chan_pubsub_publish_burst(ps, vs, 10, ctx, done), -ETIMEDOUT);
	chan_ctx_release(ctx);
	for (int i = 0; i < 2; i++) {
		chan_pubsub_stats(s[i], &st[i]);
		chan_pubsub_unsubscribe(s[i]);
	}
	chan_pubsub_destroy(ps);
	grace();
}

Test(pubsub, burst_ctx_error_sets_done)
{
	chan_pubsub_stats_t st[2];
	size_t done;

	/* BLOCK (cap 4) last: the DROP_OLDEST one before it got all ten; the
	 * BLOCK one took 0..3, waited on 4 (dropped), never saw 5..9. */
	burst_timeout_case(0, &done, st);
	cr_assert_eq(done, 4);
	cr_assert(st[0].delivered == 10 && st[0].dropped == 0);
	cr_assert(st[1].delivered == 4 && st[1].dropped == 1);
	/* BLOCK first: the one after it was offered nothing, so no message
	 * reached every subscriber. */
	burst_timeout_case(1, &done, st);
	cr_assert_eq(done, 0);
	cr_assert(st[0].delivered == 4 && st[0].dropped == 1);
	cr_assert(st[1].delivered == 0 && st[1].dropped == 0);
}

Test(pubsub, burst_with_clones_and_a_timeout_frees_what_it_did_not_send)
{
	chan_pubsub_t *ps = mk_owning();
	chan_pubsub_sub_t *s = sub(ps, CHAN_PUBSUB_BLOCK, 3);
	chan_ctx_t *ctx = chan_ctx_with_timeout(chan_ctx_background(), 20 * MS);
	struct obj *os[8];
	size_t done;

	for (uint64_t v = 0; v < 8; v++)
		os[v] = obj_new(v);
	cr_assert_eq(chan_pubsub_publish_burst(ps, os, 8, ctx, &done), -ETIMEDOUT);
	cr_assert_eq(done, 3);
	chan_ctx_release(ctx);
	for (int v = 0; v < 8; v++)
		obj_free(os[v]);
	expect_stats(s, 3, 1);
	cr_assert_eq(atomic_load(&live), 3, "the three sent; the five others freed");
	for (uint64_t v = 0; v < 3; v++)
		cr_assert_eq(recv_obj(s), v);
	chan_pubsub_unsubscribe(s);
	chan_pubsub_destroy(ps);
	grace();
	cr_assert_eq(atomic_load(&live), 0);
}

/* A burst larger than the stack buffers (the malloc'd copy path). */
Test(pubsub, large_burst_with_filter)
{
	enum { N = 5000 };
	chan_pubsub_t *ps = mk_ps(8);
	chan_pubsub_sub_t *even = chan_pubsub_subscribe(
		ps, &(chan_pubsub_sub_opts_t){.capacity = N,
					      .filter = is_multiple,
					      .filter_arg = (void *)(uintptr_t)2});
	uint64_t *vs = malloc(N * sizeof(*vs));
	size_t done;

	for (uint64_t v = 0; v < N; v++)
		vs[v] = v;
	cr_assert_eq(chan_pubsub_publish_burst(ps, vs, N, chan_ctx_background(), &done), 0);
	cr_assert_eq(done, N);
	expect_stats(even, N / 2, 0);
	for (uint64_t v = 0; v < N; v += 2)
		cr_assert_eq(recv_u64(even), v);
	free(vs);
	chan_pubsub_unsubscribe(even);
	chan_pubsub_destroy(ps);
	grace();
}

/* ---- close, destroy ------------------------------------------------------- */

Test(pubsub, close_ends_publishing_and_closes_subscribers)
{
	chan_pubsub_t *ps = mk_ps(8);
	chan_pubsub_sub_t *s = sub(ps, CHAN_PUBSUB_BLOCK, 4);
	size_t done = 5;

	cr_assert_eq(pub(ps, 1), 1);
	cr_assert_eq(chan_pubsub_close(ps), 0);
	cr_assert_eq(chan_pubsub_close(ps), -EPIPE);
	cr_assert_eq(pub(ps, 2), -EPIPE);
	cr_assert_eq(chan_pubsub_publish_burst(ps, &(uint64_t){3}, 1, chan_ctx_background(), &done),
		     -EPIPE);
	cr_assert_eq(done, 0);
	errno = 0;
	cr_assert_null(chan_pubsub_subscribe(ps, NULL));
	cr_assert_eq(errno, EPIPE);
	cr_assert(chan_is_closed(chan_pubsub_chan(s)));
	cr_assert_eq(recv_u64(s), 1, "buffered values stay receivable");
	cr_assert_eq(chan_recv(chan_pubsub_chan(s), NULL), -EPIPE);
	expect_stats(s, 1, 0);
	chan_pubsub_unsubscribe(s);
	chan_pubsub_destroy(ps);
	grace();
}

Test(pubsub, subscriptions_outlive_destroy)
{
	chan_pubsub_t *ps = mk_owning();
	chan_pubsub_sub_t *a = sub(ps, CHAN_PUBSUB_BLOCK, 4),
			  *b = sub(ps, CHAN_PUBSUB_DROP_NEWEST, 4);

	cr_assert_eq(pub_obj(ps, 7, chan_ctx_background()), 2);
	cr_assert_eq(pub_obj(ps, 8, chan_ctx_background()), 2);
	chan_pubsub_destroy(ps);
	grace();
	cr_assert(chan_is_closed(chan_pubsub_chan(a)));
	cr_assert_eq(recv_obj(a), 7);
	cr_assert_eq(recv_obj(a), 8);
	cr_assert_eq(chan_recv(chan_pubsub_chan(a), NULL), -EPIPE);
	expect_stats(a, 2, 0);
	expect_stats(b, 2, 0);
	cr_assert_eq(chan_pubsub_take_dropped(b), 0);
	chan_pubsub_unsubscribe(a);
	cr_assert_eq(recv_obj(b), 7);
	chan_pubsub_unsubscribe(b); /* the last: the publisher goes too */
	grace();
	cr_assert_eq(atomic_load(&live), 0, "8 is dropped with b's channel");
}

/* ---- unsubscribe unblocks a publisher ------------------------------------- */

struct blocked_pub {
	chan_pubsub_t *ps;
	_Atomic int state; /* 0 running, 1 returned */
	int result;
};

static void *publish_once(void *arg)
{
	struct blocked_pub *b = arg;

	b->result = chan_pubsub_publish(b->ps, &(uint64_t){42}, chan_ctx_background());
	atomic_store(&b->state, 1);
	return NULL;
}

Test(pubsub, unsubscribe_unblocks_a_blocked_publisher)
{
	chan_pubsub_t *ps = mk_ps(8);
	chan_pubsub_sub_t *full = sub(ps, CHAN_PUBSUB_BLOCK, 1);
	chan_pubsub_sub_t *next = sub(ps, CHAN_PUBSUB_BLOCK, 4);
	struct blocked_pub b = {.ps = ps};
	pthread_t t;

	cr_assert_eq(pub(ps, 1), 2);
	pthread_create(&t, NULL, publish_once, &b);
	sleep_ms(30);
	cr_assert_eq(atomic_load(&b.state), 0, "the publisher waits on the full subscriber");
	cr_assert_eq(chan_len(chan_pubsub_chan(next)), 1, "and has not reached the next one");
	/* The blocked-on subscriber leaves from this (its own) thread. */
	chan_pubsub_unsubscribe(full);
	pthread_join(t, NULL);
	cr_assert_eq(b.result, 1, "only the next one got it");
	cr_assert_eq(recv_u64(next), 1);
	cr_assert_eq(recv_u64(next), 42);
	chan_pubsub_unsubscribe(next);
	chan_pubsub_destroy(ps);
	grace();
}

Test(pubsub, close_unblocks_a_blocked_publisher)
{
	chan_pubsub_t *ps = mk_ps(8);
	chan_pubsub_sub_t *full = sub(ps, CHAN_PUBSUB_BLOCK, 0);
	struct blocked_pub b = {.ps = ps};
	pthread_t t;

	pthread_create(&t, NULL, publish_once, &b);
	sleep_ms(20);
	cr_assert_eq(chan_pubsub_close(ps), 0);
	pthread_join(t, NULL);
	cr_assert(b.result == 0 || b.result == -EPIPE, "-EPIPE: the close came first");
	expect_stats(full, 0, 0);
	chan_pubsub_unsubscribe(full);
	chan_pubsub_destroy(ps);
	grace();
}

/* ---- fork ---------------------------------------------------------------- */

/* A child that does not exec can use pub/sub: liburcu's fork handlers. */
Test(pubsub, works_in_a_forked_child)
{
	chan_pubsub_t *ps = mk_ps(8);
	chan_pubsub_sub_t *s = sub(ps, CHAN_PUBSUB_DROP_OLDEST, 4);
	pid_t pid;
	int status;

	cr_assert_eq(pub(ps, 1), 1);
	chan_pubsub_unsubscribe(sub(ps, CHAN_PUBSUB_BLOCK, 1)); /* call_rcu thread running */
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		chan_pubsub_sub_t *c = chan_pubsub_subscribe(
			ps, &(chan_pubsub_sub_opts_t){.capacity = 1,
						      .policy = CHAN_PUBSUB_DROP_OLDEST});
		int ok = c != NULL && pub(ps, 2) == 2 && chan_pubsub_unsubscribe(c) == 0;

		chan_pubsub_unsubscribe(s);
		chan_pubsub_destroy(ps);
		grace(); /* the call_rcu thread works in the child */
		_exit(ok ? 0 : 1);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
	cr_assert_eq(recv_u64(s), 1);
	chan_pubsub_unsubscribe(s);
	chan_pubsub_destroy(ps);
	grace();
}
