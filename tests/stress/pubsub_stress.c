/* SPDX-License-Identifier: MIT */
/*
 * tests/stress/pubsub_stress.c - chan/pubsub.h under concurrency. Invariants,
 * each expect_failure named:
 *   - BLOCK subscribers get every message published after their subscribe
 *     returned, in order, none twice: 1 publisher x 16 subscribers x 100,000
 *     messages, with publish and with publish_burst ("gap", "twice or out of
 *     order", "count"); 2 publishers: per-publisher order ("FIFO per
 *     publisher"); subscribers that join while messages flow get everything
 *     from the first publish that happened after their subscribe returned
 *     ("missed after subscribe");
 *   - DROP_NEWEST/DROP_OLDEST with a concurrent receiver: every message is
 *     exactly one of received, dropped (drop(), once) or left in the channel
 *     ("received twice", "dropped twice", "lost"), receivers see increasing
 *     values per publisher, delivered == received + left, dropped == drop()
 *     calls == chan_dropped() ("stats");
 *   - subscribe/unsubscribe churn from 8 threads while 2 publish: no crash,
 *     no TSan report, and for each subscription, once it is quiesced,
 *     delivered + dropped == offered and delivered == received
 *     ("conservation"), BLOCK ones with no gap per publisher; subscriptions
 *     that never receive and leave while a publisher waits on them (the
 *     publisher must wake: the run would hang);
 *   - owning pointers (clone/drop) from 2 publishers to every policy, with
 *     churn: every clone freed exactly once (the asan build checks it).
 * Sizes: the message counts below, scaled by CHAN_STRESS_SCALE and divided by
 * 8 under ThreadSanitizer, as in stress_impl.h.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <urcu/urcu-bp.h>

#include <chan/chan.h>

#include "tests/common/expect.h"

#include "ring/compiler.h"

#ifndef PS_FANOUT_MSGS
#define PS_FANOUT_MSGS 100000
#endif
#ifndef PS_CHURN_MSGS
#define PS_CHURN_MSGS 40000
#endif

#define MS 1000000LL

static uint64_t scaled(uint64_t n)
{
	const char *s = getenv("CHAN_STRESS_SCALE");
	double scale = s ? atof(s) : 1.0;

	if (scale <= 0)
		scale = 1.0;
#if CHAN__TSAN
	scale /= 8;
#endif
	n = (uint64_t)((double)n * scale);
	return n < 64 ? 64 : n;
}

static struct rcu_head grace_head;
static atomic_bool grace_done;

static void grace_cb(struct rcu_head *h)
{
	(void)h;
	atomic_store_explicit(&grace_done, true, memory_order_release);
}

/* Wait for the call_rcu callbacks queued so far (see pubsub_test.c). */
static void grace(void)
{
	atomic_store_explicit(&grace_done, false, memory_order_relaxed);
	urcu_bp_call_rcu(&grace_head, grace_cb);
	while (!atomic_load_explicit(&grace_done, memory_order_acquire))
		sched_yield();
}

static unsigned rnd(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return (*seed >> 16) & 0x7fff;
}

#define PUB_SHIFT 40
#define SEQ(v)	  ((v) & ((1ull << PUB_SHIFT) - 1))
#define PUB(v)	  ((unsigned)((v) >> PUB_SHIFT))

static chan_pubsub_t *mk_ps(void (*drop)(void *))
{
	chan_pubsub_t *ps =
		chan_pubsub_new(&(chan_pubsub_opts_t){.elem_size = sizeof(uint64_t), .drop = drop});

	cr_assert_not_null(ps);
	return ps;
}

/* ---- BLOCK fan-out: every message, in order, none twice -------------------- */

#define FAN_SUBS 16
#define MAXPUB	 2

struct fan_sub {
	chan_pubsub_sub_t *s;
	uint64_t n; /* messages per publisher; 0: a late subscriber (checked after) */
	int pubs;
	bool seen;	      /* late: received anything */
	uint64_t first, next; /* late: first seen, last seen + 1 */
	uint64_t first_must;  /* late: written by the publisher (read after joins) */
	pthread_t t;
};

/* Receive until closed: per publisher, consecutive from 0 to n-1 (late
 * subscribers: from the first one seen; the bounds are checked after). */
static void *fan_recv(void *arg)
{
	struct fan_sub *f = arg;
	uint64_t next[MAXPUB] = {0}, buf[32];
	bool seen[MAXPUB] = {false};
	chan_t *c = chan_pubsub_chan(f->s);
	size_t k;

	while ((k = chan_recv_burst(c, buf, 32)) > 0) {
		for (size_t j = 0; j < k; j++) {
			unsigned p = PUB(buf[j]);
			uint64_t seq = SEQ(buf[j]);

			EXPECT(p < (unsigned)f->pubs, "bad publisher id %u", p);
			if (p >= MAXPUB)
				continue;
			if (!seen[p] && f->n == 0) {
				f->first = seq;
				next[p] = seq;
			}
			seen[p] = true;
			EXPECT(seq >= next[p], "twice or out of order: %llu after %llu",
			       (unsigned long long)seq, (unsigned long long)next[p]);
			EXPECT(seq <= next[p], "gap (FIFO per publisher): %llu, expected %llu",
			       (unsigned long long)seq, (unsigned long long)next[p]);
			next[p] = seq + 1;
		}
	}
	if (f->n == 0) {
		f->seen = seen[0];
		f->next = next[0];
		return NULL;
	}
	for (int p = 0; p < f->pubs; p++)
		EXPECT(next[p] == f->n, "count: publisher %d ended at %llu of %llu", p,
		       (unsigned long long)next[p], (unsigned long long)f->n);
	return NULL;
}

struct fan_pub {
	chan_pubsub_t *ps;
	unsigned id;
	uint64_t n;
	size_t burst;
};

static void *fan_publish(void *arg)
{
	struct fan_pub *p = arg;
	uint64_t buf[64];

	for (uint64_t i = 0; i < p->n;) {
		size_t k = p->burst, done = 0;

		if (k > p->n - i)
			k = p->n - i;
		for (size_t j = 0; j < k; j++)
			buf[j] = ((uint64_t)p->id << PUB_SHIFT) | (i + j);
		if (k == 1) {
			int r = chan_pubsub_publish(p->ps, buf, chan_ctx_background());
			EXPECT(r == FAN_SUBS || r == FAN_SUBS / MAXPUB, "publish -> %d", r);
		} else {
			int r = chan_pubsub_publish_burst(p->ps, buf, k, chan_ctx_background(),
							  &done);
			EXPECT(r == 0 && done == k, "burst -> %d, done %zu of %zu", r, done, k);
		}
		i += k;
	}
	return NULL;
}

/* As fan_publish(), for the drop runs (one subscriber: 0 or 1 got it). */
static void *drop_publish(void *arg)
{
	struct fan_pub *p = arg;
	uint64_t buf[8];

	for (uint64_t i = 0; i < p->n;) {
		size_t k = p->burst, done = 0;
		int r;

		if (k > p->n - i)
			k = p->n - i;
		for (size_t j = 0; j < k; j++)
			buf[j] = ((uint64_t)p->id << PUB_SHIFT) | (i + j);
		if (k == 1) {
			r = chan_pubsub_publish(p->ps, buf, chan_ctx_background());
			EXPECT(r == 0 || r == 1, "publish -> %d", r);
		} else {
			r = chan_pubsub_publish_burst(p->ps, buf, k, chan_ctx_background(), &done);
			EXPECT(r == 0 && done == k, "burst -> %d, done %zu of %zu", r, done, k);
		}
		i += k;
	}
	return NULL;
}

static void fanout(int pubs, int subs, size_t cap, size_t burst, uint64_t div)
{
	chan_pubsub_t *ps = mk_ps(NULL);
	struct fan_sub f[FAN_SUBS];
	struct fan_pub p[MAXPUB];
	pthread_t pt[MAXPUB];
	uint64_t n = scaled(PS_FANOUT_MSGS) / div / (uint64_t)pubs;

	atomic_store(&expect_failed_once, 0);
	for (int i = 0; i < subs; i++) {
		f[i] = (struct fan_sub){.n = n, .pubs = pubs};
		f[i].s = chan_pubsub_subscribe(ps, &(chan_pubsub_sub_opts_t){.capacity = cap});
		cr_assert_not_null(f[i].s);
		pthread_create(&f[i].t, NULL, fan_recv, &f[i]);
	}
	for (int i = 0; i < pubs; i++) {
		p[i] = (struct fan_pub){.ps = ps, .id = (unsigned)i, .n = n, .burst = burst};
		pthread_create(&pt[i], NULL, fan_publish, &p[i]);
	}
	for (int i = 0; i < pubs; i++)
		pthread_join(pt[i], NULL);
	chan_pubsub_close(ps);
	for (int i = 0; i < subs; i++) {
		pthread_join(f[i].t, NULL);
		chan_pubsub_stats_t st;
		chan_pubsub_stats(f[i].s, &st);
		EXPECT(st.delivered == n * (uint64_t)pubs && st.dropped == 0,
		       "stats: delivered %llu dropped %llu", (unsigned long long)st.delivered,
		       (unsigned long long)st.dropped);
		chan_pubsub_unsubscribe(f[i].s);
	}
	chan_pubsub_destroy(ps);
	grace();
	EXPECT_REPORTED();
}

Test(pubsub_stress, block_1_publisher_16_subscribers)
{
	fanout(1, FAN_SUBS, 64, 1, 1);
}

Test(pubsub_stress, block_1_publisher_16_subscribers_burst)
{
	fanout(1, FAN_SUBS, 64, 64, 1);
}

/* A rendezvous per copy: a tenth of the messages. */
Test(pubsub_stress, block_1_publisher_16_subscribers_unbuffered)
{
	fanout(1, FAN_SUBS, 0, 1, 10);
}

Test(pubsub_stress, block_2_publishers_per_publisher_order)
{
	fanout(2, FAN_SUBS / MAXPUB, 16, 1, 1);
	fanout(2, FAN_SUBS / MAXPUB, 16, 64, 1);
}

/* Subscribers join while the publisher runs. The publisher notes, for each
 * subscriber whose subscribe it has seen return (acquire), the first
 * message it publishes after that: that one and every later one must
 * arrive. It goes on until all have joined, then publishes n more. */
#define LATE 8

struct late {
	chan_pubsub_t *ps;
	struct fan_sub f[LATE];
	atomic_bool joined[LATE];
	uint64_t n, total;
};

static void *late_publisher(void *arg)
{
	struct late *l = arg;
	bool noted[LATE] = {false};
	int nnoted = 0;
	uint64_t i, end = UINT64_MAX;

	for (i = 0; i < end; i++) {
		for (int j = 0; j < LATE; j++)
			if (!noted[j] &&
			    /* Acquire: pairs with the release in the test thread
			     * after subscribe returned. */
			    atomic_load_explicit(&l->joined[j], memory_order_acquire)) {
				noted[j] = true;
				l->f[j].first_must = i;
				if (++nnoted == LATE)
					end = i + l->n;
			}
		int r = chan_pubsub_publish(l->ps, &i, chan_ctx_background());
		EXPECT(r >= 0, "publish -> %d", r);
	}
	l->total = i;
	return NULL;
}

Test(pubsub_stress, late_subscribers_get_everything_after_subscribe)
{
	struct late *l = calloc(1, sizeof(*l));
	pthread_t pt;

	atomic_store(&expect_failed_once, 0);
	l->ps = mk_ps(NULL);
	l->n = scaled(PS_FANOUT_MSGS) / 4;
	pthread_create(&pt, NULL, late_publisher, l);
	for (int j = 0; j < LATE; j++) {
		struct timespec ts = {0, (long)(j + 1) * MS};

		nanosleep(&ts, NULL);
		l->f[j] = (struct fan_sub){.n = 0, .pubs = 1};
		l->f[j].s = chan_pubsub_subscribe(l->ps, &(chan_pubsub_sub_opts_t){.capacity = 32});
		cr_assert_not_null(l->f[j].s);
		pthread_create(&l->f[j].t, NULL, fan_recv, &l->f[j]);
		atomic_store_explicit(&l->joined[j], true, memory_order_release);
	}
	pthread_join(pt, NULL);
	chan_pubsub_close(l->ps);
	for (int j = 0; j < LATE; j++) {
		struct fan_sub *f = &l->f[j];

		pthread_join(f->t, NULL);
		EXPECT(f->seen && f->first <= f->first_must,
		       "missed after subscribe: subscriber %d first %llu, must have %llu", j,
		       (unsigned long long)f->first, (unsigned long long)f->first_must);
		EXPECT(f->next == l->total, "count: subscriber %d ended at %llu of %llu", j,
		       (unsigned long long)f->next, (unsigned long long)l->total);
		chan_pubsub_unsubscribe(f->s);
	}
	chan_pubsub_destroy(l->ps);
	grace();
	free(l);
	EXPECT_REPORTED();
}

/* ---- drop policies with a concurrent receiver -------------------------------- */

enum { RECEIVED = 1, DROPPED = 2 };

static _Atomic unsigned char *marks; /* per message of the current run */
static uint64_t marks_per_pub;
static _Atomic uint64_t drop_calls;

static void mark(uint64_t v, unsigned what)
{
	uint64_t i = PUB(v) * marks_per_pub + SEQ(v);
	unsigned char old;

	EXPECT(PUB(v) < MAXPUB && SEQ(v) < marks_per_pub, "invented value %llx",
	       (unsigned long long)v);
	if (PUB(v) >= MAXPUB || SEQ(v) >= marks_per_pub)
		return;
	old = atomic_fetch_or(&marks[i], (unsigned char)what);
	EXPECT(!(old & what), what == RECEIVED ? "received twice: %llx" : "dropped twice: %llx",
	       (unsigned long long)v);
	EXPECT(!(old & (RECEIVED | DROPPED) & ~what), "received and dropped: %llx",
	       (unsigned long long)v);
}

static void mark_drop(void *elem)
{
	uint64_t v;

	memcpy(&v, elem, sizeof(v));
	mark(v, DROPPED);
	atomic_fetch_add(&drop_calls, 1);
}

struct drop_rx {
	chan_pubsub_sub_t *s;
	atomic_bool stop; /* leave the rest in the channel */
	uint64_t received;
	unsigned seed;
};

static void *drop_receiver(void *arg)
{
	struct drop_rx *d = arg;
	chan_t *c = chan_pubsub_chan(d->s);
	uint64_t last[MAXPUB] = {0}, buf[16];
	bool seen[MAXPUB] = {false};

	while (!atomic_load(&d->stop)) {
		size_t k = 0;

		switch (rnd(&d->seed) % 4) {
		case 0:
			k = chan_recv_timeout(c, buf, MS) == 0 ? 1 : 0;
			break;
		case 1:
			k = chan_try_recv_burst(c, buf, 16);
			break;
		case 2:
			sched_yield(); /* let the channel fill: discards, evictions */
			break;
		default:
			k = chan_try_recv(c, buf) == 0 ? 1 : 0;
		}
		if (k == 0 && chan_is_closed(c) && chan_len(c) == 0)
			break;
		for (size_t j = 0; j < k; j++) {
			unsigned p = PUB(buf[j]);

			mark(buf[j], RECEIVED);
			if (p < MAXPUB) {
				EXPECT(!seen[p] || SEQ(buf[j]) > last[p],
				       "out of order: %llu after %llu",
				       (unsigned long long)SEQ(buf[j]),
				       (unsigned long long)last[p]);
				seen[p] = true;
				last[p] = SEQ(buf[j]);
			}
		}
		d->received += k;
	}
	return NULL;
}

static void drop_run(int policy, size_t cap, int pubs, bool drain, unsigned seed)
{
	chan_pubsub_t *ps = mk_ps(mark_drop);
	struct drop_rx d = {.seed = seed};
	struct fan_pub p[MAXPUB];
	pthread_t pt[MAXPUB], rt;
	uint64_t n = scaled(PS_CHURN_MSGS) / 4, left;
	chan_pubsub_stats_t st;

	marks_per_pub = n;
	marks = calloc((size_t)(MAXPUB * n), 1);
	atomic_store(&drop_calls, 0);
	d.s = chan_pubsub_subscribe(ps,
				    &(chan_pubsub_sub_opts_t){.capacity = cap, .policy = policy});
	cr_assert_not_null(d.s);
	pthread_create(&rt, NULL, drop_receiver, &d);
	for (int i = 0; i < pubs; i++) {
		p[i] = (struct fan_pub){.ps = ps, .id = (unsigned)i, .n = n, .burst = i ? 7 : 1};
		pthread_create(&pt[i], NULL, drop_publish, &p[i]);
	}
	for (int i = 0; i < pubs; i++)
		pthread_join(pt[i], NULL);
	if (drain)
		chan_pubsub_close(ps); /* the receiver takes the rest, then stops */
	else
		atomic_store(&d.stop, true);
	pthread_join(rt, NULL);
	left = chan_len(chan_pubsub_chan(d.s));
	chan_pubsub_stats(d.s, &st);
	EXPECT(st.delivered == d.received + left,
	       "stats: delivered %llu, received %llu + left %llu", (unsigned long long)st.delivered,
	       (unsigned long long)d.received, (unsigned long long)left);
	EXPECT(st.dropped == atomic_load(&drop_calls) &&
		       st.dropped == chan_dropped(chan_pubsub_chan(d.s)),
	       "stats: dropped %llu, drop() %llu, chan_dropped %llu",
	       (unsigned long long)st.dropped, (unsigned long long)atomic_load(&drop_calls),
	       (unsigned long long)chan_dropped(chan_pubsub_chan(d.s)));
	EXPECT(st.delivered + st.dropped == n * (uint64_t)pubs,
	       "stats: %llu + %llu offered of %llu", (unsigned long long)st.delivered,
	       (unsigned long long)st.dropped, (unsigned long long)(n * (uint64_t)pubs));
	if (drain)
		EXPECT(left == 0, "closed and drained, %llu left", (unsigned long long)left);
	chan_pubsub_unsubscribe(d.s); /* what is left goes to drop() */
	chan_pubsub_destroy(ps);
	grace();
	for (int q = 0; q < pubs; q++)
		for (uint64_t i = 0; i < n; i++)
			EXPECT(atomic_load(&marks[q * n + i]) != 0,
			       "lost: publisher %d message %llu", q, (unsigned long long)i);
	free((void *)marks);
	EXPECT_REPORTED();
}

Test(pubsub_stress, drop_policies_with_a_concurrent_receiver)
{
	static const size_t caps[] = {1, 3, 64};
	unsigned seed = 1;

	atomic_store(&expect_failed_once, 0);
	for (int policy = CHAN_PUBSUB_DROP_NEWEST; policy <= CHAN_PUBSUB_DROP_OLDEST; policy++)
		for (size_t c = 0; c < 3; c++)
			for (int pubs = 1; pubs <= MAXPUB; pubs++)
				for (int drain = 0; drain < 2; drain++)
					drop_run(policy, caps[c], pubs, drain, seed++);
}

/* ---- churn: 8 threads subscribe and unsubscribe while 2 publish ------------- */

#define CHURNERS 8

struct churn {
	chan_pubsub_t *ps;
	uint64_t n;			/* per publisher */
	_Atomic uint64_t epoch[MAXPUB]; /* publishes returned, per publisher */
	atomic_bool finished[MAXPUB];
	_Atomic uint64_t lives, quick;
};

struct churn_pub {
	struct churn *c;
	unsigned id;
};

static void *churn_publish(void *arg)
{
	struct churn_pub *p = arg;
	struct churn *c = p->c;
	uint64_t buf[16];

	for (uint64_t i = 0; i < c->n;) {
		size_t k = (i / 16) % 3 == 0 ? 16 : 1, done;
		int r;

		if (k > c->n - i)
			k = c->n - i;
		for (size_t j = 0; j < k; j++)
			buf[j] = ((uint64_t)p->id << PUB_SHIFT) | (i + j);
		if (k == 1)
			r = chan_pubsub_publish(c->ps, buf, chan_ctx_background());
		else
			r = chan_pubsub_publish_burst(c->ps, buf, k, chan_ctx_background(), &done);
		EXPECT(r >= 0, "publish -> %d", r);
		i += k;
		/* Seq_cst: ordered against the churners' stop flag (see quiesce). */
		atomic_fetch_add(&c->epoch[p->id], 1);
	}
	atomic_store(&c->finished[p->id], true);
	return NULL;
}

/* One subscription's life, seen by its filter: offered counts what the
 * filter let through; once stop is set no later publish offers anything. */
struct life {
	atomic_bool stop;
	_Atomic uint64_t offered;
	struct life *next; /* kept until the publishers are joined: a publish
			      that overlapped the unsubscribe may still call
			      the filter (chan/pubsub.h, filter_arg) */
};

static bool life_filter(const void *elem, void *arg)
{
	struct life *l = arg;

	(void)elem;
	if (atomic_load(&l->stop))
		return false;
	atomic_fetch_add(&l->offered, 1);
	return true;
}

struct order {
	uint64_t last[MAXPUB];
	bool seen[MAXPUB];
	bool block;
	uint64_t received;
};

static void order_check(struct order *o, const uint64_t *v, size_t k)
{
	for (size_t j = 0; j < k; j++) {
		unsigned p = PUB(v[j]);
		uint64_t seq = SEQ(v[j]);

		EXPECT(p < MAXPUB, "bad publisher id %u", p);
		if (p >= MAXPUB)
			continue;
		if (o->seen[p]) {
			EXPECT(seq > o->last[p], "FIFO per publisher: %llu after %llu",
			       (unsigned long long)seq, (unsigned long long)o->last[p]);
			EXPECT(!o->block || seq == o->last[p] + 1, "gap (BLOCK): %llu after %llu",
			       (unsigned long long)seq, (unsigned long long)o->last[p]);
		}
		o->seen[p] = true;
		o->last[p] = seq;
	}
	o->received += k;
}

static const struct {
	int policy;
	size_t cap;
} kinds[] = {
	{CHAN_PUBSUB_BLOCK, 0},	      {CHAN_PUBSUB_BLOCK, 1},	    {CHAN_PUBSUB_BLOCK, 16},
	{CHAN_PUBSUB_DROP_NEWEST, 1}, {CHAN_PUBSUB_DROP_NEWEST, 4}, {CHAN_PUBSUB_DROP_OLDEST, 1},
	{CHAN_PUBSUB_DROP_OLDEST, 4},
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

static bool publishers_done(struct churn *c)
{
	return atomic_load(&c->finished[0]) && atomic_load(&c->finished[1]);
}

/* A subscription that receives for a while, is quiesced and checked. */
static void churn_life(struct churn *c, unsigned *seed, struct life **lives)
{
	unsigned kind = rnd(seed) % NKINDS;
	struct life *lp = calloc(1, sizeof(*lp));
	struct order o = {.block = kinds[kind].policy == CHAN_PUBSUB_BLOCK};
	chan_pubsub_sub_t *s =
		chan_pubsub_subscribe(c->ps, &(chan_pubsub_sub_opts_t){.capacity = kinds[kind].cap,
								       .policy = kinds[kind].policy,
								       .filter = life_filter,
								       .filter_arg = lp});
	uint64_t buf[16], e[MAXPUB];
	chan_pubsub_stats_t st;
	chan_t *ch;
	size_t k;
	int rounds = 1 + (int)(rnd(seed) % 64);

	lp->next = *lives;
	*lives = lp;
	EXPECT(s != NULL, "subscribe: errno %d", errno);
	if (!s)
		return;
	ch = chan_pubsub_chan(s);
	for (int i = 0; i < rounds && !publishers_done(c); i++) {
		if (rnd(seed) % 4 == 0)
			sched_yield();
		k = chan_try_recv_burst(ch, buf, 1 + rnd(seed) % 16);
		if (k == 0 && chan_recv_timeout(ch, buf, MS) == 0)
			k = 1;
		order_check(&o, buf, k);
	}
	/* Quiesce: after stop, wait (still receiving: a publisher may be
	 * waiting on us) until each publisher has returned from the publish
	 * it was in; the ones after it see stop. */
	atomic_store(&lp->stop, true);
	for (int p = 0; p < MAXPUB; p++)
		e[p] = atomic_load(&c->epoch[p]);
	for (int p = 0; p < MAXPUB; p++)
		while (!atomic_load(&c->finished[p]) && atomic_load(&c->epoch[p]) == e[p]) {
			k = chan_try_recv_burst(ch, buf, 16);
			order_check(&o, buf, k);
			if (k == 0)
				sched_yield();
		}
	while ((k = chan_try_recv_burst(ch, buf, 16)) > 0)
		order_check(&o, buf, k);
	chan_pubsub_stats(s, &st);
	EXPECT(st.delivered == o.received, "conservation: delivered %llu, received %llu",
	       (unsigned long long)st.delivered, (unsigned long long)o.received);
	EXPECT(st.delivered + st.dropped == atomic_load(&lp->offered),
	       "conservation: delivered %llu + dropped %llu, offered %llu",
	       (unsigned long long)st.delivered, (unsigned long long)st.dropped,
	       (unsigned long long)atomic_load(&lp->offered));
	EXPECT(!o.block || st.dropped == 0, "a BLOCK subscriber dropped %llu",
	       (unsigned long long)st.dropped);
	EXPECT(st.dropped == chan_dropped(ch), "dropped %llu, chan_dropped %llu",
	       (unsigned long long)st.dropped, (unsigned long long)chan_dropped(ch));
	chan_pubsub_unsubscribe(s);
	atomic_fetch_add(&c->lives, 1);
}

/* A subscription that never receives: a BLOCK one stalls the publishers
 * until it leaves, from this thread. What it got is still in order. */
static void churn_quick(struct churn *c, unsigned *seed)
{
	unsigned kind = rnd(seed) % NKINDS;
	struct order o = {.block = kinds[kind].policy == CHAN_PUBSUB_BLOCK};
	chan_pubsub_sub_t *s = chan_pubsub_subscribe(
		c->ps, &(chan_pubsub_sub_opts_t){.capacity = kinds[kind].cap,
						 .policy = kinds[kind].policy});
	uint64_t buf[16];
	size_t k;
	chan_t *ch;

	EXPECT(s != NULL, "subscribe: errno %d", errno);
	if (!s)
		return;
	ch = chan_retain(chan_pubsub_chan(s));
	if (rnd(seed) % 2)
		sched_yield();
	chan_pubsub_unsubscribe(s);
	EXPECT(chan_is_closed(ch), "unsubscribe closes the channel");
	while ((k = chan_try_recv_burst(ch, buf, 16)) > 0)
		order_check(&o, buf, k);
	chan_release(ch);
	atomic_fetch_add(&c->quick, 1);
}

struct churner {
	struct churn *c;
	unsigned seed;
	struct life *lives;
};

static void *churner(void *arg)
{
	struct churner *w = arg;

	while (!publishers_done(w->c)) {
		if (rnd(&w->seed) % 3 == 0)
			churn_quick(w->c, &w->seed);
		else
			churn_life(w->c, &w->seed, &w->lives);
	}
	return NULL;
}

/* Readers of the statistics and take_dropped on a long-lived subscriber. */
Test(pubsub_stress, churn_8_threads_while_2_publish)
{
	struct churn *c = calloc(1, sizeof(*c));
	struct churn_pub p[MAXPUB];
	struct churner w[CHURNERS];
	pthread_t pt[MAXPUB], wt[CHURNERS];

	atomic_store(&expect_failed_once, 0);
	c->ps = mk_ps(NULL);
	c->n = scaled(PS_CHURN_MSGS);
	for (int i = 0; i < CHURNERS; i++) {
		w[i] = (struct churner){.c = c, .seed = 7u * (unsigned)i + 1, .lives = NULL};
		pthread_create(&wt[i], NULL, churner, &w[i]);
	}
	for (int i = 0; i < MAXPUB; i++) {
		p[i] = (struct churn_pub){.c = c, .id = (unsigned)i};
		pthread_create(&pt[i], NULL, churn_publish, &p[i]);
	}
	for (int i = 0; i < MAXPUB; i++)
		pthread_join(pt[i], NULL);
	for (int i = 0; i < CHURNERS; i++) {
		pthread_join(wt[i], NULL);
		for (struct life *l = w[i].lives, *n; l; l = n) {
			n = l->next;
			free(l);
		}
	}
	if (getenv("PUBSUB_STRESS_VERBOSE"))
		fprintf(stderr, "churn: %llu checked lives, %llu quick ones\n",
			(unsigned long long)atomic_load(&c->lives),
			(unsigned long long)atomic_load(&c->quick));
	chan_pubsub_destroy(c->ps);
	grace();
	free(c);
	EXPECT_REPORTED();
}

/* ---- owning pointers from two publishers, with churn ----------------------- */

struct obj {
	uint64_t v, magic;
};

#define MAGIC 0x0b1ec7
static _Atomic long live;

static struct obj *obj_new(uint64_t v)
{
	struct obj *o = malloc(sizeof(*o));

	o->v = v;
	o->magic = MAGIC;
	atomic_fetch_add(&live, 1);
	return o;
}

static void obj_free(struct obj *o)
{
	EXPECT(o->magic == MAGIC, "freed twice");
	o->magic = 0;
	free(o);
	atomic_fetch_sub(&live, 1);
}

static int obj_clone(void *dst, const void *src)
{
	struct obj *o, *c;

	memcpy(&o, src, sizeof(o));
	c = obj_new(o->v);
	memcpy(dst, &c, sizeof(c));
	return 0;
}

static void obj_drop(void *elem)
{
	struct obj *o;

	memcpy(&o, elem, sizeof(o));
	obj_free(o);
}

struct own {
	chan_pubsub_t *ps;
	uint64_t n;
	atomic_int publishing;
};

static void *own_publish(void *arg)
{
	struct own *w = arg;
	struct obj *os[8];

	for (uint64_t i = 0; i < w->n; i += 8) {
		size_t done;

		for (int j = 0; j < 8; j++)
			os[j] = obj_new(i + (uint64_t)j);
		if (i % 16 == 0) {
			for (int j = 0; j < 8; j++)
				EXPECT(chan_pubsub_publish(w->ps, &os[j], chan_ctx_background()) >=
					       0,
				       "publish");
		} else {
			EXPECT(chan_pubsub_publish_burst(w->ps, os, 8, chan_ctx_background(),
							 &done) == 0,
			       "burst");
		}
		for (int j = 0; j < 8; j++)
			obj_free(os[j]); /* the publisher keeps its originals */
	}
	atomic_fetch_sub(&w->publishing, 1);
	return NULL;
}

struct own_rx {
	chan_pubsub_sub_t *s;
	bool slow;
};

static void *own_receive(void *arg)
{
	struct own_rx *r = arg;
	struct obj *o;

	while (chan_recv(chan_pubsub_chan(r->s), &o) == 0) {
		obj_free(o);
		if (r->slow)
			sched_yield();
	}
	return NULL;
}

static void *own_churn(void *arg)
{
	struct own *w = arg;
	unsigned seed = 99;

	while (atomic_load(&w->publishing) > 0) {
		int policy = (int)(rnd(&seed) % 3);
		chan_pubsub_sub_t *s = chan_pubsub_subscribe(
			w->ps, &(chan_pubsub_sub_opts_t){.capacity = 1 + rnd(&seed) % 4,
							 .policy = policy});
		struct obj *o;

		if (!s)
			continue;
		for (int i = 0; i < 4 && chan_try_recv(chan_pubsub_chan(s), &o) == 0; i++)
			obj_free(o);
		chan_pubsub_unsubscribe(s); /* the rest goes to drop() */
	}
	return NULL;
}

Test(pubsub_stress, owning_pointers_every_clone_freed_once)
{
	struct own w = {.n = scaled(PS_CHURN_MSGS) / 4 / 8 * 8};
	struct own_rx rx[3];
	pthread_t pt[2], rt[3], ct;

	atomic_store(&expect_failed_once, 0);
	atomic_store(&live, 0);
	w.ps = chan_pubsub_new(&(chan_pubsub_opts_t){
		.elem_size = sizeof(struct obj *), .clone = obj_clone, .drop = obj_drop});
	cr_assert_not_null(w.ps);
	atomic_store(&w.publishing, 2);
	for (int i = 0; i < 3; i++) {
		rx[i] = (struct own_rx){.slow = i > 0};
		rx[i].s = chan_pubsub_subscribe(
			w.ps, &(chan_pubsub_sub_opts_t){.capacity = i ? 2 : 8, .policy = i});
		cr_assert_not_null(rx[i].s);
		pthread_create(&rt[i], NULL, own_receive, &rx[i]);
	}
	pthread_create(&ct, NULL, own_churn, &w);
	for (int i = 0; i < 2; i++)
		pthread_create(&pt[i], NULL, own_publish, &w);
	for (int i = 0; i < 2; i++)
		pthread_join(pt[i], NULL);
	pthread_join(ct, NULL);
	chan_pubsub_close(w.ps);
	for (int i = 0; i < 3; i++) {
		chan_pubsub_stats_t st;

		pthread_join(rt[i], NULL);
		chan_pubsub_stats(rx[i].s, &st);
		EXPECT(st.delivered + st.dropped == 2 * w.n, "subscriber %d: %llu + %llu of %llu",
		       i, (unsigned long long)st.delivered, (unsigned long long)st.dropped,
		       (unsigned long long)(2 * w.n));
		chan_pubsub_unsubscribe(rx[i].s);
	}
	chan_pubsub_destroy(w.ps);
	grace();
	EXPECT(atomic_load(&live) == 0, "%ld objects never freed", atomic_load(&live));
	EXPECT_REPORTED();
}
