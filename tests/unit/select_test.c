/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/select_test.c - chan_select and friends: Go's semantics.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include <chan/chan.h>

#define MS 1000000LL

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

static chan_case_t rx(chan_t *c, void *elem)
{
	return (chan_case_t){ .chan = c, .op = CHAN_OP_RECV, .elem = elem };
}

static chan_case_t tx(chan_t *c, void *elem)
{
	return (chan_case_t){ .chan = c, .op = CHAN_OP_SEND, .elem = elem };
}

Test(select, bad_input)
{
	chan_t *c = chan_new(8, 1);
	long v = 0;
	chan_case_t cs[2] = { rx(c, &v), { .chan = c, .op = 99, .elem = &v } };

	cr_assert_eq(chan_select(cs, 2), -EINVAL, "unknown op");
	cr_assert_eq(chan_try_select(NULL, 1), -EINVAL);
	cs[1] = tx(c, NULL);
	cr_assert_eq(chan_try_select(cs, 2), -EINVAL, "a send case needs a value");
	cr_assert_eq(chan_len(c), 0, "nothing happened");
	chan_release(c);
}

Test(select, no_channels)
{
	chan_case_t cs[2] = { rx(NULL, NULL), tx(NULL, NULL) };
	int64_t t0 = chan_now();

	cr_assert_eq(chan_select(cs, 2), -EINVAL, "would block forever");
	cr_assert_eq(chan_select(NULL, 0), -EINVAL);
	cr_assert_eq(chan_try_select(cs, 2), -EAGAIN);
	cr_assert_eq(chan_select_timeout(cs, 2, 0), -ETIMEDOUT);
	cr_assert_eq(chan_select_timeout(cs, 2, 20 * MS), -ETIMEDOUT);
	cr_assert_geq(chan_now() - t0, 20 * MS, "the timeout was not waited out");
}

Test(select, null_channel_is_never_ready)
{
	chan_t *c = chan_new(8, 4);
	long v = 5, got = 0;
	chan_case_t cs[2] = { rx(NULL, &got), rx(c, &got) };

	chan_send(c, &v);
	for (int i = 0; i < 50; i++) {
		cr_assert_eq(chan_try_select(cs, 2), 1);
		chan_send(c, &v);
	}
	chan_release(c);
}

Test(select, fairness_between_two_ready_cases)
{
	chan_t *a = chan_new(8, 16), *b = chan_new(8, 16);
	long va = 1, vb = 2, got;
	int count[2] = { 0, 0 };
	chan_case_t cs[2] = { rx(a, &got), rx(b, &got) };

	for (int k = 0; k < 16; k++) {
		chan_send(a, &va);
		chan_send(b, &vb);
	}
	for (int i = 0; i < 10000; i++) {
		int r = chan_select(cs, 2);

		cr_assert(r == 0 || r == 1);
		cr_assert_eq(got, r == 0 ? 1 : 2, "the value came from the case that fired");
		count[r]++;
		chan_send(r == 0 ? a : b, r == 0 ? &va : &vb); /* keep both ready */
	}
	cr_assert(count[0] >= 4000 && count[0] <= 6000, "unfair: %d / %d", count[0], count[1]);
	chan_release(a);
	chan_release(b);
}

Test(select, fairness_send_and_recv_ready_at_once)
{
	chan_t *c = chan_new(8, 4);
	long v = 3, got;
	int count[2] = { 0, 0 };
	chan_case_t cs[2] = { tx(c, &v), rx(c, &got) };

	chan_send(c, &v);
	chan_send(c, &v); /* half full: both ops ready */
	for (int i = 0; i < 10000; i++) {
		int r = chan_select(cs, 2);

		count[r]++;
		/* Undo, to stay half full. */
		if (r == 0)
			chan_recv(c, NULL);
		else
			chan_send(c, &v);
	}
	cr_assert(count[0] >= 4000 && count[0] <= 6000, "unfair: %d / %d", count[0], count[1]);
	chan_release(c);
}

struct delayed {
	chan_t *c;
	long v;
	long ms;
	int op;
};

static void *act_later(void *arg)
{
	struct delayed *d = arg;

	sleep_ms(d->ms);
	if (d->op == CHAN_OP_SEND)
		chan_send(d->c, &d->v);
	else if (d->op == CHAN_OP_RECV)
		chan_recv(d->c, &d->v);
	else
		chan_close(d->c);
	return NULL;
}

Test(select, over_1_to_64_channels)
{
	static const size_t caps[] = { 0, 1, 8, CHAN_UNBOUNDED };

	for (size_t c = 0; c < 4; c++) {
		for (size_t n = 1; n <= 64; n += (n < 8 ? 1 : 7)) {
			chan_t *ch[64];
			chan_case_t cs[64];
			long got = -1;

			for (size_t i = 0; i < n; i++) {
				ch[i] = chan_new_opts(&(chan_opts_t){ .elem_size = 8, .capacity = caps[c] });
				cs[i] = rx(ch[i], &got);
			}
			/* Blocking: another thread sends on one channel later. */
			size_t k = (n * 7 + 3) % n;
			struct delayed d = { ch[k], (long)k + 100, 2, CHAN_OP_SEND };
			pthread_t t;

			pthread_create(&t, NULL, act_later, &d);
			cr_assert_eq(chan_select(cs, n), (int)k, "n=%zu cap=%zu", n, caps[c]);
			cr_assert_eq(got, (long)k + 100);
			pthread_join(t, NULL);
			cr_assert_eq(chan_try_select(cs, n), -EAGAIN, "exactly one case fired");
			for (size_t i = 0; i < n; i++)
				chan_release(ch[i]);
		}
	}
}

Test(select, one_case_fires_when_many_are_ready)
{
	chan_t *ch[8];
	chan_case_t cs[8];
	long got;

	for (int i = 0; i < 8; i++) {
		long v = i;

		ch[i] = chan_new(8, 1);
		chan_send(ch[i], &v);
		cs[i] = rx(ch[i], &got);
	}
	int r = chan_select(cs, 8);
	size_t left = 0;

	for (int i = 0; i < 8; i++)
		left += chan_len(ch[i]);
	cr_assert_eq(left, 7, "exactly one value was taken");
	cr_assert_eq(got, r);
	for (int i = 0; i < 8; i++)
		chan_release(ch[i]);
}

Test(select, closed_channels_are_ready_with_epipe)
{
	chan_t *b = chan_new(8, 2), *u = chan_new(8, 0);
	long v = 4, got = 0;

	chan_send(b, &v);
	chan_close(b);
	chan_close(u);
	chan_case_t r1[1] = { rx(b, &got) };
	cr_assert_eq(chan_select(r1, 1), 0);
	cr_assert_eq(r1[0].err, 0, "buffered values come first");
	cr_assert_eq(got, 4);
	cr_assert_eq(chan_select(r1, 1), 0);
	cr_assert_eq(r1[0].err, -EPIPE);
	chan_case_t s1[2] = { tx(b, &v), tx(u, &v) };
	for (int i = 0; i < 10; i++) {
		int r = chan_select(s1, 2);

		cr_assert(r == 0 || r == 1);
		cr_assert_eq(s1[r].err, -EPIPE, "a send case on a closed channel fires with -EPIPE");
	}
	chan_case_t r2[1] = { rx(u, &got) };
	cr_assert_eq(chan_try_select(r2, 1), 0);
	cr_assert_eq(r2[0].err, -EPIPE);
	chan_release(b);
	chan_release(u);
}

Test(select, close_wakes_a_blocked_select)
{
	static const size_t caps[] = { 0, 1, 8, CHAN_UNBOUNDED };

	for (size_t c = 0; c < 4; c++) {
		chan_t *a = chan_new_opts(&(chan_opts_t){ .elem_size = 8, .capacity = caps[c] });
		chan_t *b = chan_new(8, 0);
		long got;
		chan_case_t cs[2] = { rx(b, &got), rx(a, &got) };
		struct delayed d = { a, 0, 10, 0 };
		pthread_t t;

		pthread_create(&t, NULL, act_later, &d);
		cr_assert_eq(chan_select(cs, 2), 1);
		cr_assert_eq(cs[1].err, -EPIPE);
		pthread_join(t, NULL);
		chan_release(a);
		chan_release(b);
	}
}

Test(select, blocked_send_case_fails_on_close)
{
	chan_t *u = chan_new(8, 0), *full = chan_new(8, 1);
	long v = 1;
	chan_case_t cs[2] = { tx(full, &v), tx(u, &v) };
	struct delayed d = { u, 0, 10, 0 };
	pthread_t t;

	chan_send(full, &v);
	pthread_create(&t, NULL, act_later, &d);
	cr_assert_eq(chan_select(cs, 2), 1);
	cr_assert_eq(cs[1].err, -EPIPE);
	cr_assert_eq(chan_len(full), 1, "the other case did nothing");
	pthread_join(t, NULL);
	chan_release(u);
	chan_release(full);
}

Test(select, timeout_is_never_early_and_has_no_effect)
{
	chan_t *a = chan_new(8, 0), *b = chan_new(8, 1);
	long v = 1, got = -1;
	chan_case_t cs[2] = { rx(a, &got), tx(b, &v) };

	chan_send(b, &v); /* b full: the send case blocks */
	int64_t t0 = chan_now();
	cr_assert_eq(chan_select_timeout(cs, 2, 30 * MS), -ETIMEDOUT);
	cr_assert_geq(chan_now() - t0, 30 * MS);
	cr_assert_eq(chan_len(b), 1);
	cr_assert_eq(got, -1);
	cr_assert_eq(chan_select_timeout(cs, 2, 0), -ETIMEDOUT);
	cr_assert_eq(chan_try_select(cs, 2), -EAGAIN);
	cr_assert_eq(chan_try_send(a, &v), -EAGAIN, "no select waiter was left behind on a");
	chan_release(a);
	chan_release(b);
}

Test(select, try_select_takes_a_ready_case)
{
	chan_t *a = chan_new(8, 1);
	long v = 9, got = 0;
	chan_case_t cs[1] = { rx(a, &got) };

	cr_assert_eq(chan_try_select(cs, 1), -EAGAIN);
	chan_send(a, &v);
	cr_assert_eq(chan_try_select(cs, 1), 0);
	cr_assert_eq(got, 9);
	cr_assert_eq(cs[0].err, 0);
	chan_release(a);
}

Test(select, duplicate_cases_on_one_channel_share_the_wins)
{
	/* Two receive cases on one unbuffered channel, blocked: a plain send
	 * picks the first queued entry, and entries queue in random order. */
	chan_t *u = chan_new(8, 0);
	int count[2] = { 0, 0 };

	for (int i = 0; i < 2000; i++) {
		long got = 0;
		chan_case_t cs[2] = { rx(u, &got), rx(u, &got) };
		struct delayed d = { u, 7, 0, CHAN_OP_SEND };
		pthread_t t;

		pthread_create(&t, NULL, act_later, &d);
		int r = chan_select(cs, 2);

		cr_assert(r == 0 || r == 1);
		cr_assert_eq(got, 7);
		count[r]++;
		pthread_join(t, NULL);
	}
	cr_assert(count[0] >= 800 && count[0] <= 1200, "skewed: %d / %d", count[0], count[1]);
	chan_release(u);
}

Test(select, send_and_recv_of_one_unbuffered_channel_in_one_select)
{
	chan_t *u = chan_new(8, 0);
	long v = 11, got = 0;
	chan_case_t cs[2] = { tx(u, &v), rx(u, &got) };
	struct delayed d = { u, 0, 5, CHAN_OP_RECV };
	pthread_t t;

	pthread_create(&t, NULL, act_later, &d);
	cr_assert_eq(chan_select(cs, 2), 0, "only a partner can complete it, never itself");
	pthread_join(t, NULL);
	cr_assert_eq(d.v, 11);
	chan_release(u);
}

/* ---- select on both ends of unbuffered channels ------------------------- */

struct both {
	chan_t **ch;
	int nch;
	long per_thread;
	int id;
	_Atomic long *seen;
	long total;
};

static void *select_sender(void *arg)
{
	struct both *b = arg;
	chan_case_t cs[8];

	for (long i = 0; i < b->per_thread; i++) {
		long v = (long)b->id * b->per_thread + i;

		for (int k = 0; k < b->nch; k++)
			cs[k] = tx(b->ch[k], &v);
		int r = chan_select(cs, (size_t)b->nch);

		if (r < 0 || cs[r].err != 0)
			abort();
	}
	return NULL;
}

static void *select_receiver(void *arg)
{
	struct both *b = arg;
	chan_case_t cs[8];

	for (long i = 0; i < b->per_thread; i++) {
		long v = -1;

		for (int k = 0; k < b->nch; k++)
			cs[k] = rx(b->ch[k], &v);
		int r = chan_select(cs, (size_t)b->nch);

		if (r < 0 || cs[r].err != 0 || v < 0 || v >= b->total)
			abort();
		atomic_fetch_add(&b->seen[v], 1);
	}
	return NULL;
}

Test(select, select_send_meets_select_recv_on_unbuffered, .timeout = 300)
{
	enum { T = 4, NCH = 3, PER = 3000 };
	chan_t *ch[NCH];
	struct both sb[T], rb[T];
	pthread_t st[T], rt[T];
	_Atomic long *seen = calloc(T * PER, sizeof(*seen));

	for (int k = 0; k < NCH; k++)
		ch[k] = chan_new(8, 0);
	for (int i = 0; i < T; i++) {
		sb[i] = (struct both){ ch, NCH, PER, i, seen, T * PER };
		rb[i] = sb[i];
		pthread_create(&rt[i], NULL, select_receiver, &rb[i]);
		pthread_create(&st[i], NULL, select_sender, &sb[i]);
	}
	for (int i = 0; i < T; i++) {
		pthread_join(st[i], NULL);
		pthread_join(rt[i], NULL);
	}
	for (long v = 0; v < T * PER; v++)
		cr_assert_eq(atomic_load(&seen[v]), 1, "value %ld received %ld times", v,
			     atomic_load(&seen[v]));
	for (int k = 0; k < NCH; k++)
		chan_release(ch[k]);
	free(seen);
}

Test(select, select_send_meets_plain_recv_and_back)
{
	chan_t *u = chan_new(8, 0), *other = chan_new(8, 0);
	long v = 21, got = 0;
	chan_case_t cs[2] = { tx(u, &v), tx(other, &v) };
	struct delayed d = { u, 0, 5, CHAN_OP_RECV };
	pthread_t t;

	pthread_create(&t, NULL, act_later, &d);
	cr_assert_eq(chan_select(cs, 2), 0);
	pthread_join(t, NULL);
	cr_assert_eq(d.v, 21);

	chan_case_t rs[2] = { rx(other, &got), rx(u, &got) };
	struct delayed e = { u, 33, 5, CHAN_OP_SEND };
	pthread_create(&t, NULL, act_later, &e);
	cr_assert_eq(chan_select(rs, 2), 1);
	cr_assert_eq(got, 33);
	pthread_join(t, NULL);
	chan_release(u);
	chan_release(other);
}

/* ---- Go's TestNonblockSelectRace{,2}: default only if nothing was ready --- */

struct nbrace {
	chan_t *c1, *c2, *go, *done;
	int iters;
};

static void *nb_selector(void *arg)
{
	struct nbrace *r = arg;

	for (int i = 0; i < r->iters; i++) {
		long tok, ok;

		chan_recv(r->go, &tok);
		chan_case_t cs[2] = { rx(r->c1, NULL), rx(r->c2, NULL) };

		ok = chan_try_select(cs, 2) >= 0;
		chan_send(r->done, &ok);
	}
	return NULL;
}

static void nonblock_race(bool close_c2)
{
	struct nbrace r = { .go = chan_new(8, 1), .done = chan_new(8, 1), .iters = 20000 };
	pthread_t t;
	long one = 1, ok;

	pthread_create(&t, NULL, nb_selector, &r);
	for (int i = 0; i < r.iters; i++) {
		chan_t *c1 = chan_new(8, 1), *c2 = chan_new(8, close_c2 ? 0 : 1);

		chan_send(c1, &one);
		r.c1 = c1;
		r.c2 = c2;
		chan_send(r.go, &one); /* publishes c1/c2 to the selector */
		if (close_c2)
			chan_close(c2);
		else
			chan_send(c2, &one);
		chan_try_recv(c1, NULL);
		chan_recv(r.done, &ok);
		cr_assert(ok, "iteration %d: default taken while a case was ready", i);
		chan_release(c1);
		chan_release(c2);
	}
	pthread_join(t, NULL);
	chan_release(r.go);
	chan_release(r.done);
}

Test(select, nonblock_select_race, .timeout = 120)
{
	nonblock_race(false);
}

Test(select, nonblock_select_race_with_close, .timeout = 120)
{
	nonblock_race(true);
}

static void *select_forever(void *arg)
{
	chan_case_t cs[2] = { rx(NULL, NULL), tx(NULL, NULL) };

	*(int *)arg = chan_select_timeout(cs, 2, INT64_MAX);
	return NULL;
}

Test(select, no_channels_with_an_endless_timeout_waits)
{
	static int ret = 12345;
	pthread_t t;

	pthread_create(&t, NULL, select_forever, &ret);
	sleep_ms(50);
	cr_assert_eq(ret, 12345, "returned %d instead of waiting out INT64_MAX", ret);
	pthread_detach(t); /* it never returns; the test process ends here */
}
