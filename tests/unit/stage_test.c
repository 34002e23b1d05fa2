/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/stage_test.c - the stages of chan/stage.h one by one: what
 * they deliver, who closes what, drop accounting on cancel, construction
 * errors, and chan_recv_ctx/chan_send_ctx. The conservation matrix and the
 * races are in tests/stress/stage_stress.c.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <chan/chan.h>

#include "ring/compiler.h"
#include "ring/fault.h"

#define MS 1000000LL

static const chan_opts_t U64 = { .elem_size = sizeof(uint64_t) };

/* A closed channel holding 0..n-1. */
static chan_t *filled(uint64_t n)
{
	chan_t *c = chan_new(sizeof(uint64_t), n ? n : 1);

	cr_assert_not_null(c);
	for (uint64_t i = 0; i < n; i++)
		cr_assert_eq(chan_send(c, &i), 0);
	chan_close(c);
	return c;
}

/* Receive everything until closed; returns the count, values in @out. */
static size_t drain(chan_t *c, uint64_t *out, size_t max)
{
	size_t n = 0;
	uint64_t v;

	while (chan_recv(c, &v) == 0) {
		cr_assert_lt(n, max, "more values than sent");
		out[n++] = v;
	}
	return n;
}

static _Atomic int dropped, in_dropped;
static void count_drop(void *elem)
{
	(void)elem;
	atomic_fetch_add(&dropped, 1);
}
static void count_in_drop(void *elem)
{
	(void)elem;
	atomic_fetch_add(&in_dropped, 1);
}

static int square(const void *in, void *out, void *arg)
{
	uint64_t v = *(const uint64_t *)in;

	(void)arg;
	*(uint64_t *)out = v * v;
	return 0;
}

static int odd_only(const void *in, void *out, void *arg)
{
	uint64_t v = *(const uint64_t *)in;

	(void)arg;
	if (v % 2 == 0)
		return CHAN_MAP_SKIP;
	*(uint64_t *)out = v;
	return 0;
}

/* Fails with -EIO on the value *arg. */
static int fail_at(const void *in, void *out, void *arg)
{
	uint64_t v = *(const uint64_t *)in;

	if (v == *(uint64_t *)arg)
		return -EIO;
	*(uint64_t *)out = v;
	return 0;
}

/* ---- generate ------------------------------------------------------------ */

Test(stage, generate_copies_and_closes)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());
	uint64_t xs[100], got[100];

	for (int i = 0; i < 100; i++)
		xs[i] = (uint64_t)i * 3;
	chan_t *c = chan_generate(g, xs, 100, &U64);

	cr_assert_not_null(c);
	memset(xs, 0xff, sizeof(xs)); /* copied during the call */
	cr_assert_eq(drain(c, got, 100), 100);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(got[i], (uint64_t)i * 3);
	chan_release(c);

	c = chan_generate(g, NULL, 0, &U64);
	cr_assert_not_null(c);
	cr_assert(chan_is_closed(c), "n == 0: already closed");
	cr_assert_eq(chan_recv(c, NULL), -EPIPE);
	chan_release(c);
	cr_assert_eq(chan_group_wait(g), 0);
	chan_group_destroy(g);
}

struct counter {
	uint64_t next, end;
	int fail; /* returned at end instead of -EPIPE if non-zero */
};

static int count_up(void *elem, void *arg)
{
	struct counter *c = arg;

	if (c->next == c->end)
		return c->fail ? c->fail : -EPIPE;
	*(uint64_t *)elem = c->next++;
	return 0;
}

Test(stage, generate_fn_until_epipe_or_error)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());
	struct counter k = { .next = 5, .end = 55 };
	uint64_t got[64];
	chan_t *c = chan_generate_fn(g, count_up, &k, &(chan_opts_t){ .elem_size = 8, .capacity = 4 });

	cr_assert_eq(drain(c, got, 64), 50);
	for (int i = 0; i < 50; i++)
		cr_assert_eq(got[i], 5 + (uint64_t)i);
	chan_release(c);
	cr_assert_eq(chan_group_wait(g), 0);
	chan_group_destroy(g);

	g = chan_group_new(chan_ctx_background());
	k = (struct counter){ .next = 0, .end = 10, .fail = -ENOSPC };
	c = chan_generate_fn(g, count_up, &k, &(chan_opts_t){ .elem_size = 8, .capacity = 16 });
	while (chan_recv(c, NULL) == 0) /* closes after the error */
		;
	chan_release(c);
	cr_assert_eq(chan_group_wait(g), -ENOSPC);
	chan_group_destroy(g);
}

/* ---- map ----------------------------------------------------------------- */

Test(stage, map_maps_and_filters)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_t *in = filled(200), *in2 = filled(200);
	uint64_t got[200];
	chan_t *sq = chan_map(g, in, square, NULL, NULL);
	chan_t *odd = chan_map(g, in2, odd_only, NULL, &(chan_stage_opts_t){ .workers = 3 });

	chan_release(in); /* the stages hold their own references */
	chan_release(in2);
	cr_assert_eq(drain(sq, got, 200), 200);
	for (int i = 0; i < 200; i++)
		cr_assert_eq(got[i], (uint64_t)i * (uint64_t)i, "1 worker keeps order");
	size_t n = drain(odd, got, 200);
	uint64_t sum = 0;

	cr_assert_eq(n, 100);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(got[i] % 2, 1);
		sum += got[i];
	}
	cr_assert_eq(sum, 100 * 100);
	chan_release(sq);
	chan_release(odd);
	cr_assert_eq(chan_group_wait(g), 0);
	chan_group_destroy(g);
}

static int widen(const void *in, void *out, void *arg)
{
	(void)arg;
	*(uint64_t *)out = *(const uint32_t *)in;
	return 0;
}

Test(stage, map_changes_elem_size)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_t *in = chan_new(sizeof(uint32_t), 8);
	uint32_t x = 7;

	chan_send(in, &x);
	chan_close(in);
	chan_t *out = chan_map(g, in, widen, NULL,
			       &(chan_stage_opts_t){ .out = { .elem_size = sizeof(uint64_t) } });
	uint64_t v = 0;

	cr_assert_eq(chan_elem_size(out), sizeof(uint64_t));
	cr_assert_eq(chan_recv(out, &v), 0);
	cr_assert_eq(v, 7);
	cr_assert_eq(chan_recv(out, &v), -EPIPE);
	chan_release(in);
	chan_release(out);
	cr_assert_eq(chan_group_wait(g), 0);
	chan_group_destroy(g);
}


Test(stage, map_error_fails_the_group_and_drops)
{
	for (unsigned ordered = 0; ordered < 2; ordered++) {
		chan_group_t *g = chan_group_new(chan_ctx_background());
		chan_t *in = filled(1000);
		uint64_t bad = 300;
		size_t n = 0;
		chan_t *out = chan_map(g, in, fail_at, &bad,
				       &(chan_stage_opts_t){ .workers = 4,
							     .flags = ordered ? CHAN_STAGE_ORDERED : 0,
							     .batch = 8, .in_drop = count_in_drop,
							     .out = { .capacity = 4, .drop = count_drop } });

		atomic_store(&dropped, 0);
		atomic_store(&in_dropped, 0);
		while (chan_recv(out, NULL) == 0)
			n++;
		cr_assert_eq(chan_group_wait(g), -EIO);
		/* Every input: received, dropped by the stage, or still in the
		 * input channel (freed with it). */
		size_t left = chan_len(in);

		cr_assert_geq(atomic_load(&in_dropped), 1, "the failing input goes to in_drop");
		cr_assert_eq(n + atomic_load(&dropped) + atomic_load(&in_dropped) + left, 1000,
			     "ordered %u: %zu received, %d dropped, %d in_dropped, %zu left", ordered, n,
			     atomic_load(&dropped), atomic_load(&in_dropped), left);
		chan_release(in);
		chan_release(out);
		chan_group_destroy(g);
	}
}

Test(stage, ordered_map_keeps_input_order)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_t *in = filled(3000);
	uint64_t *got = malloc(3000 * sizeof(*got));
	chan_t *out = chan_map(g, in, square, NULL,
			       &(chan_stage_opts_t){ .workers = 5, .flags = CHAN_STAGE_ORDERED,
						     .window = 7, .batch = 3 });

	chan_release(in);
	cr_assert_eq(drain(out, got, 3000), 3000);
	for (uint64_t i = 0; i < 3000; i++)
		cr_assert_eq(got[i], i * i, "out of order at %llu", (unsigned long long)i);
	chan_release(out);
	cr_assert_eq(chan_group_wait(g), 0);
	chan_group_destroy(g);
	free(got);
}

static int ordered_skip(const void *in, void *out, void *arg)
{
	uint64_t v = *(const uint64_t *)in;

	(void)arg;
	if (v % 3 == 0)
		return CHAN_MAP_SKIP;
	*(uint64_t *)out = v;
	return 0;
}

Test(stage, ordered_map_with_skips)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_t *in = filled(999);
	uint64_t got[999], want = 0;
	chan_t *out = chan_map(g, in, ordered_skip, NULL,
			       &(chan_stage_opts_t){ .workers = 3, .flags = CHAN_STAGE_ORDERED });
	size_t n = drain(out, got, 999);

	cr_assert_eq(n, 666);
	for (size_t i = 0; i < n; i++) {
		if (want % 3 == 0)
			want++;
		cr_assert_eq(got[i], want);
		want++;
	}
	chan_release(in);
	chan_release(out);
	chan_group_destroy(g);
}

/* ---- fan_out ------------------------------------------------------------- */

Test(stage, fan_out_one_output_per_worker)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_t *in = filled(500), *outs[4];
	uint64_t seen[500] = { 0 }, v;

	cr_assert_eq(chan_fan_out(g, in, 4, square, NULL, NULL, outs), 0);
	chan_release(in);
	chan_t *all = chan_merge(g, outs, 4, NULL);

	for (int i = 0; i < 4; i++)
		chan_release(outs[i]);
	while (chan_recv(all, &v) == 0) {
		uint64_t r = 0;

		while (r * r < v)
			r++;
		cr_assert_eq(r * r, v);
		cr_assert_eq(seen[r]++, 0, "received twice");
	}
	for (int i = 0; i < 500; i++)
		cr_assert_eq(seen[i], 1, "lost %d", i);
	chan_release(all);
	cr_assert_eq(chan_group_wait(g), 0);
	chan_group_destroy(g);
}

/* ---- merge --------------------------------------------------------------- */

Test(stage, merge_closes_when_every_input_is_closed_and_drained)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_t *ins[3];
	uint64_t v = 1;

	for (int i = 0; i < 3; i++)
		ins[i] = chan_new(sizeof(uint64_t), 4);
	chan_t *out = chan_merge(g, ins, 3, NULL);

	cr_assert_not_null(out);
	chan_send(ins[0], &v);
	chan_close(ins[0]);
	chan_close(ins[1]);
	cr_assert_eq(chan_recv(out, &v), 0);
	cr_assert_eq(v, 1);
	/* One input is still open: the merge must not close. */
	cr_assert_eq(chan_recv_timeout(out, &v, 20 * MS), -ETIMEDOUT);
	v = 2;
	chan_send(ins[2], &v);
	v = 3;
	chan_send(ins[2], &v);
	chan_close(ins[2]);
	cr_assert_eq(chan_recv(out, &v), 0);
	cr_assert_eq(v, 2);
	cr_assert_eq(chan_recv(out, &v), 0, "closed before the last input was drained");
	cr_assert_eq(v, 3);
	cr_assert_eq(chan_recv(out, &v), -EPIPE);
	for (int i = 0; i < 3; i++)
		chan_release(ins[i]);
	chan_release(out);
	cr_assert_eq(chan_group_wait(g), 0);
	chan_group_destroy(g);
}

/* 8 always-ready inputs: each one's share of the first values out is
 * within 5-20 % (fair would be 12.5 %). */
Test(stage, merge_is_fair)
{
	enum { K = 8, EACH = 2000, TAKE = 4000 };
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_t *ins[K];
	size_t share[K] = { 0 };
	uint64_t v;

	for (uint64_t i = 0; i < K; i++) {
		ins[i] = chan_new(sizeof(uint64_t), EACH);
		for (uint64_t s = 0; s < EACH; s++) {
			v = i << 32 | s;
			chan_send(ins[i], &v);
		}
	}
	chan_t *out = chan_merge(g, ins, K, NULL);

	for (int n = 0; n < TAKE; n++) {
		cr_assert_eq(chan_recv(out, &v), 0);
		share[v >> 32]++;
	}
	for (int i = 0; i < K; i++)
		cr_assert(share[i] >= TAKE * 5 / 100 && share[i] <= TAKE * 20 / 100,
			  "input %d got %zu of %d", i, share[i], TAKE);
	chan_group_cancel(g, 0);
	chan_release(out);
	cr_assert_eq(chan_group_wait(g), 0);
	for (int i = 0; i < K; i++)
		chan_release(ins[i]);
	chan_group_destroy(g);
}

/* ---- tee ----------------------------------------------------------------- */

struct producer {
	chan_t *c;
	_Atomic uint64_t sent;
	uint64_t limit;
};

static void *produce(void *arg)
{
	struct producer *p = arg;

	for (uint64_t i = 0; i < p->limit; i++) {
		if (chan_send(p->c, &i) != 0)
			break;
		atomic_fetch_add(&p->sent, 1);
	}
	return NULL;
}

Test(stage, tee_lockstep_stops_at_capacity_plus_one)
{
	size_t caps[] = { 0, 1, 5 };

	for (int ci = 0; ci < 3; ci++) {
		size_t cap = caps[ci];
		chan_group_t *g = chan_group_new(chan_ctx_background());
		struct producer p = { .c = chan_new(sizeof(uint64_t), 0), .limit = 1000 };
		chan_t *outs[2];
		pthread_t t;
		uint64_t v;

		cr_assert_eq(chan_tee(g, p.c, 2, outs, &(chan_stage_opts_t){ .out = { .capacity = cap } }),
			     0);
		pthread_create(&t, NULL, produce, &p);
		/* Read output 0 only: it gets capacity + 1 values, then the tee
		 * waits on output 1 and takes nothing more. */
		for (uint64_t i = 0; i < cap + 1; i++) {
			cr_assert_eq(chan_recv(outs[0], &v), 0);
			cr_assert_eq(v, i);
		}
		/* The tee has taken cap + 1 values; the producer counts them
		 * just after its sends return. */
		int64_t give_up = chan_now() + 30000 * MS;

		while (atomic_load(&p.sent) < cap + 1 && chan_now() < give_up)
			sched_yield();
		cr_assert_eq(chan_recv_timeout(outs[0], &v, 20 * MS), -ETIMEDOUT,
			     "cap %zu: the tee ran ahead of its unread output", cap);
		cr_assert_eq(atomic_load(&p.sent), cap + 1, "cap %zu: took %llu values", cap,
			     (unsigned long long)atomic_load(&p.sent));
		for (uint64_t i = 0; i < cap + 1; i++) {
			cr_assert_eq(chan_recv(outs[1], &v), 0);
			cr_assert_eq(v, i);
		}
		chan_close(p.c); /* the producer's next send fails */
		pthread_join(t, NULL);
		chan_group_cancel(g, 0); /* the tee may hold a value for output 1 */
		cr_assert_eq(chan_group_wait(g), 0);
		while (chan_recv(outs[0], NULL) == 0)
			;
		while (chan_recv(outs[1], NULL) == 0)
			;
		chan_release(outs[0]);
		chan_release(outs[1]);
		chan_release(p.c);
		chan_group_destroy(g);
	}
}

/* Reference-counted payloads: every copy is freed exactly once. */
struct obj {
	_Atomic int refs;
	uint64_t id;
};
static _Atomic long live_objs;

static struct obj *obj_new(uint64_t id)
{
	struct obj *o = malloc(sizeof(*o));

	atomic_init(&o->refs, 1);
	o->id = id;
	atomic_fetch_add(&live_objs, 1);
	return o;
}
static void obj_put(struct obj *o)
{
	if (atomic_fetch_sub(&o->refs, 1) == 1) {
		atomic_fetch_sub(&live_objs, 1);
		free(o);
	}
}
static void obj_drop(void *elem)
{
	obj_put(*(struct obj **)elem);
}
static _Atomic int clones, clone_fail_at = -1;
static int obj_clone(void *dst, const void *src)
{
	struct obj *o = *(struct obj *const *)src;

	if (atomic_fetch_add(&clones, 1) == atomic_load(&clone_fail_at))
		return -ENOMEM;
	atomic_fetch_add(&o->refs, 1);
	*(struct obj **)dst = o;
	return 0;
}

static chan_t *objs(uint64_t n)
{
	chan_t *c = chan_new_opts(&(chan_opts_t){ .elem_size = sizeof(struct obj *),
						  .capacity = n, .drop = obj_drop });

	for (uint64_t i = 0; i < n; i++) {
		struct obj *o = obj_new(i);

		chan_send(c, &o);
	}
	chan_close(c);
	return c;
}

Test(stage, tee_clone_and_drop_account_for_every_copy)
{
	for (int mode = 0; mode < 3; mode++) { /* all read; cancel mid-way; clone fails */
		chan_group_t *g = chan_group_new(chan_ctx_background());
		chan_t *in = objs(300), *outs[3];
		struct obj *o;
		int n = 0;

		atomic_store(&clones, 0);
		atomic_store(&clone_fail_at, mode == 2 ? 100 : -1);
		cr_assert_eq(chan_tee(g, in, 3, outs,
				      &(chan_stage_opts_t){ .clone = obj_clone,
							    .out = { .capacity = 2, .drop = obj_drop } }),
			     0);
		chan_release(in);
		for (;;) {
			chan_case_t cs[3];
			int r;

			for (int j = 0; j < 3; j++)
				cs[j] = (chan_case_t){ .chan = outs[j], .op = CHAN_OP_RECV, .elem = &o };
			r = chan_select(cs, 3);
			if (cs[r].err == -EPIPE)
				break;
			cr_assert_lt(o->id, 300);
			obj_put(o);
			if (mode == 1 && ++n == 200)
				chan_group_cancel(g, 0);
		}
		cr_assert_eq(chan_group_wait(g), mode == 2 ? -ENOMEM : 0);
		for (int j = 0; j < 3; j++)
			chan_release(outs[j]); /* buffered copies go to obj_drop */
		cr_assert_eq(atomic_load(&live_objs), 0, "mode %d: %ld objects leaked", mode,
			     atomic_load(&live_objs));
		chan_group_destroy(g);
	}
}

/* ---- flatten, or_done, or ------------------------------------------------ */

Test(stage, flatten_concatenates_and_releases_inner_channels)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_t *chans = chan_new(sizeof(chan_t *), 8);
	uint64_t got[64];

	for (uint64_t k = 0; k < 4; k++) {
		chan_t *inner = chan_new(sizeof(uint64_t), 8);

		for (uint64_t i = 0; i < 5; i++) {
			uint64_t v = k * 10 + i;

			chan_send(inner, &v);
		}
		chan_close(inner);
		chan_send(chans, &inner); /* the reference is flatten's now */
	}
	chan_close(chans);
	chan_t *out = chan_flatten(g, chans, &(chan_stage_opts_t){ .out = { .elem_size = 8 },
								     .batch = 3 });

	chan_release(chans);
	cr_assert_eq(drain(out, got, 64), 20);
	for (uint64_t k = 0; k < 4; k++)
		for (uint64_t i = 0; i < 5; i++)
			cr_assert_eq(got[k * 5 + i], k * 10 + i);
	chan_release(out);
	cr_assert_eq(chan_group_wait(g), 0);
	chan_group_destroy(g); /* ASan: every inner channel was freed */
}

Test(stage, flatten_releases_the_inner_channel_on_cancel_and_checks_sizes)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_t *chans = chan_new(sizeof(chan_t *), 8);
	chan_t *inner = chan_new_opts(&(chan_opts_t){ .elem_size = 8, .capacity = 8,
						      .drop = count_drop });
	uint64_t v = 42;

	atomic_store(&dropped, 0);
	chan_send(inner, &v);
	chan_send(inner, &v);
	chan_send(chans, &inner); /* never closed: flatten waits in it */
	chan_t *out = chan_flatten(g, chans, &(chan_stage_opts_t){ .out = { .elem_size = 8,
									      .capacity = 1,
									      .drop = count_drop } });

	cr_assert_eq(chan_recv(out, &v), 0);
	cr_assert_eq(v, 42);
	chan_group_cancel(g, 0);
	cr_assert_eq(chan_group_wait(g), 0);
	/* The second value: in out's buffer, or dropped by flatten. */
	chan_release(out);
	cr_assert_eq(atomic_load(&dropped), 1, "a value lost or dropped twice");
	chan_release(chans);
	chan_group_destroy(g);

	/* An inner channel of the wrong size fails the group with -EINVAL. */
	g = chan_group_new(chan_ctx_background());
	chans = chan_new(sizeof(chan_t *), 1);
	inner = chan_new(4, 1);
	chan_send(chans, &inner);
	chan_close(chans);
	out = chan_flatten(g, chans, &(chan_stage_opts_t){ .out = { .elem_size = 8 } });
	cr_assert_eq(chan_recv(out, NULL), -EPIPE);
	cr_assert_eq(chan_group_wait(g), -EINVAL);
	chan_release(out);
	chan_release(chans);
	chan_group_destroy(g);
}

Test(stage, or_done_forwards_until_closed_or_canceled)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_t *in = filled(50);
	uint64_t got[50];
	chan_t *out = chan_or_done(g, in, &(chan_stage_opts_t){ .batch = 4 });

	cr_assert_eq(drain(out, got, 50), 50);
	for (uint64_t i = 0; i < 50; i++)
		cr_assert_eq(got[i], i);
	chan_release(out);
	chan_release(in);

	chan_t *open = chan_new(sizeof(uint64_t), 0);

	out = chan_or_done(g, open, NULL);
	chan_group_cancel(g, 0);
	cr_assert_eq(chan_recv(out, NULL), -EPIPE, "cancel closes the output");
	cr_assert_eq(chan_group_wait(g), 0);
	chan_release(out);
	chan_release(open);
	chan_group_destroy(g);
}

Test(stage, or_closes_on_the_first_signal)
{
	for (int how = 0; how < 3; how++) { /* a close, a value, the group's cancel */
		chan_group_t *g = chan_group_new(chan_ctx_background());
		chan_t *sigs[5];
		char one = 1;

		for (int i = 0; i < 5; i++)
			sigs[i] = chan_new(1, 1);
		chan_t *any = chan_or(g, sigs, 5);

		cr_assert_not_null(any);
		cr_assert_eq(chan_elem_size(any), 1);
		cr_assert_eq(chan_recv_timeout(any, NULL, 10 * MS), -ETIMEDOUT);
		if (how == 0)
			chan_close(sigs[3]);
		else if (how == 1)
			chan_send(sigs[1], &one);
		else
			chan_group_cancel(g, 0);
		cr_assert_eq(chan_recv(any, NULL), -EPIPE, "never carries a value");
		cr_assert_eq(chan_group_wait(g), 0);
		if (how == 1)
			cr_assert_eq(chan_len(sigs[1]), 0, "the value was consumed");
		for (int i = 0; i < 5; i++)
			chan_release(sigs[i]);
		chan_release(any);
		chan_group_destroy(g);
	}
}

/* ---- cancellation across a pipeline -------------------------------------- */

static int obj_next(void *elem, void *arg)
{
	uint64_t *n = arg;

	*(struct obj **)elem = obj_new((*n)++);
	return 0;
}

static int obj_map(const void *in, void *out, void *arg)
{
	struct obj *o = *(struct obj *const *)in;

	(void)arg;
	if (o->id == 700) {
		/* Fails: the input goes to in_drop, not to us. */
		return -EIO;
	}
	if (o->id % 5 == 0) {
		obj_put(o); /* filtered out: a skip owns its input */
		return CHAN_MAP_SKIP;
	}
	*(struct obj **)out = o;
	return 0;
}

/* An endless generator of owning pointers -> map (4 workers) -> merge with a
 * second branch -> consumer. The map fails at one item: chan_group_wait
 * returns that error, every output closes, and every object is freed once. */
Test(stage, cancel_mid_stream_closes_everything_and_drops_once)
{
	for (int ordered = 0; ordered < 2; ordered++) {
		chan_group_t *g = chan_group_new(chan_ctx_background());
		const chan_opts_t oo = { .elem_size = sizeof(struct obj *), .capacity = 16,
					 .drop = obj_drop };
		uint64_t n1 = 0, n2 = 1000000;
		chan_t *a = chan_generate_fn(g, obj_next, &n1, &oo);
		chan_t *b = chan_generate_fn(g, obj_next, &n2, &oo);
		chan_t *m = chan_map(g, a, obj_map, NULL,
				     &(chan_stage_opts_t){ .out = oo, .workers = 4, .batch = 4,
							   .flags = ordered ? CHAN_STAGE_ORDERED : 0,
							   .in_drop = obj_drop });
		chan_t *ins[] = { m, b };
		chan_t *all = chan_merge(g, ins, 2, &(chan_stage_opts_t){ .out = oo, .batch = 8 });
		struct obj *o;

		chan_release(a);
		chan_release(b);
		chan_release(m);
		while (chan_recv(all, &o) == 0)
			obj_put(o);
		cr_assert_eq(chan_group_wait(g), -EIO);
		chan_release(all);
		cr_assert_eq(atomic_load(&live_objs), 0, "ordered %d: %ld objects leaked", ordered,
			     atomic_load(&live_objs));
		chan_group_destroy(g);
	}
}

/* Stage tasks do not count toward the limit: with limit 0 no user task may
 * run, and a pipeline still flows. */
Test(stage, stages_ignore_the_group_limit)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());
	uint64_t xs[10] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, v, sum = 0;

	cr_assert_eq(chan_group_set_limit(g, 0), 0);
	chan_t *c = chan_generate(g, xs, 10, &U64);
	chan_t *sq = chan_map(g, c, square, NULL, &(chan_stage_opts_t){ .workers = 3 });

	while (chan_recv(sq, &v) == 0)
		sum += v;
	cr_assert_eq(sum, 385);
	chan_release(c);
	chan_release(sq);
	cr_assert_eq(chan_group_wait(g), 0);
	chan_group_destroy(g);
}

/* After chan_group_wait() a stage holds no reference: our release of the
 * input is its last, and frees it (drop runs on what it still buffers). */
Test(stage, wait_returns_after_every_reference_is_released)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_t *in = chan_new_opts(&(chan_opts_t){ .elem_size = 8, .capacity = 4,
						   .drop = count_drop });
	uint64_t v = 9;
	chan_t *ins[] = { in };

	atomic_store(&dropped, 0);
	chan_t *outs[] = {
		chan_map(g, in, square, NULL, &(chan_stage_opts_t){ .workers = 2 }),
		chan_merge(g, ins, 1, NULL),
		chan_or_done(g, in, NULL),
	};
	chan_group_cancel(g, 0);
	cr_assert_eq(chan_group_wait(g), 0);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(chan_recv(outs[i], NULL), -EPIPE);
		chan_release(outs[i]);
	}
	chan_send(in, &v);
	chan_release(in);
	cr_assert_eq(atomic_load(&dropped), 1, "a stage still held the input");
	chan_group_destroy(g);
}

/* ---- construction errors ------------------------------------------------- */

Test(stage, construction_errors)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_t *in = chan_new(8, 1), *in4 = chan_new(4, 1), *outs[2];
	chan_t *mixed[] = { in, in4 }, *with_null[] = { in, NULL };

#define EXPECT_NULL(call, e)                                             \
	do {                                                             \
		errno = 0;                                               \
		cr_assert_null(call, #call);                             \
		cr_assert_eq(errno, e, #call ": errno %d", errno);       \
	} while (0)
	EXPECT_NULL(chan_generate(NULL, NULL, 0, &U64), EINVAL);
	EXPECT_NULL(chan_generate(g, NULL, 1, &U64), EINVAL);
	EXPECT_NULL(chan_generate(g, NULL, 0, NULL), EINVAL);
	EXPECT_NULL(chan_generate(g, NULL, 0, &(chan_opts_t){ 0 }), EINVAL);
	EXPECT_NULL(chan_generate_fn(g, NULL, NULL, &U64), EINVAL);
	EXPECT_NULL(chan_map(NULL, in, square, NULL, NULL), EINVAL);
	EXPECT_NULL(chan_map(g, NULL, square, NULL, NULL), EINVAL);
	EXPECT_NULL(chan_map(g, in, NULL, NULL, NULL), EINVAL);
	EXPECT_NULL(chan_map(g, in, square, NULL,
			     &(chan_stage_opts_t){ .out = { .capacity = CHAN_CAPACITY_MAX + 2 } }),
		    EINVAL);
	cr_assert_eq(chan_fan_out(g, in, 0, square, NULL, NULL, outs), -EINVAL);
	cr_assert_eq(chan_fan_out(g, in, 2, NULL, NULL, NULL, outs), -EINVAL);
	cr_assert_eq(chan_fan_out(NULL, in, 2, square, NULL, NULL, outs), -EINVAL);
	EXPECT_NULL(chan_merge(g, mixed, 0, NULL), EINVAL);
	EXPECT_NULL(chan_merge(g, mixed, 2, NULL), EINVAL);
	EXPECT_NULL(chan_merge(g, with_null, 2, NULL), EINVAL);
	EXPECT_NULL(chan_merge(g, mixed, 1, &(chan_stage_opts_t){ .out = { .elem_size = 4 } }),
		    EINVAL);
	cr_assert_eq(chan_tee(g, in, 0, outs, NULL), -EINVAL);
	cr_assert_eq(chan_tee(g, NULL, 2, outs, NULL), -EINVAL);
	EXPECT_NULL(chan_flatten(g, in4, &(chan_stage_opts_t){ .out = { .elem_size = 8 } }),
		    EINVAL); /* elem_size 4 != sizeof(chan_t *) */
	EXPECT_NULL(chan_flatten(g, in, NULL), EINVAL); /* no out.elem_size */
	EXPECT_NULL(chan_flatten(NULL, in, &(chan_stage_opts_t){ .out = { .elem_size = 8 } }),
		    EINVAL);
	EXPECT_NULL(chan_or(g, mixed, 0), EINVAL);
	EXPECT_NULL(chan_or(g, with_null, 2), EINVAL);
	EXPECT_NULL(chan_or_done(g, NULL, NULL), EINVAL);
	chan_group_destroy(g);
	chan_release(in);
	chan_release(in4);
#undef EXPECT_NULL
}

/* On a canceled group: ECANCELED, nothing started, nothing retained. Bad
 * arguments still come first. */
Test(stage, canceled_group_retains_nothing)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_t *in = chan_new_opts(&(chan_opts_t){ .elem_size = 8, .capacity = 4,
						   .drop = count_drop });
	chan_t *chans = chan_new(sizeof(chan_t *), 1), *outs[2], *ins[] = { in };
	uint64_t v = 1;

	chan_group_cancel(g, 0);
	errno = 0;
	cr_assert_null(chan_map(g, in, NULL, NULL, NULL));
	cr_assert_eq(errno, EINVAL, "bad arguments before the context");
#define EXPECT_CANCELED(call)                                      \
	do {                                                       \
		errno = 0;                                         \
		cr_assert_null(call, #call);                       \
		cr_assert_eq(errno, ECANCELED, #call);             \
	} while (0)
	EXPECT_CANCELED(chan_generate(g, &v, 1, &U64));
	EXPECT_CANCELED(chan_generate_fn(g, count_up, NULL, &U64));
	EXPECT_CANCELED(chan_map(g, in, square, NULL, NULL));
	EXPECT_CANCELED(chan_merge(g, ins, 1, NULL));
	EXPECT_CANCELED(chan_flatten(g, chans, &(chan_stage_opts_t){ .out = { .elem_size = 8 } }));
	EXPECT_CANCELED(chan_or_done(g, in, NULL));
	EXPECT_CANCELED(chan_or(g, ins, 1));
#undef EXPECT_CANCELED
	cr_assert_eq(chan_fan_out(g, in, 2, square, NULL, NULL, outs), -ECANCELED);
	cr_assert_eq(chan_tee(g, in, 2, outs, NULL), -ECANCELED);
	cr_assert_eq(chan_group_wait(g), 0);
	atomic_store(&dropped, 0);
	chan_send(in, &v);
	chan_release(in); /* our reference is the only one: freed now */
	cr_assert_eq(atomic_load(&dropped), 1, "a canceled construction kept a reference");
	chan_release(chans);
	chan_group_destroy(g);
}

/* Tasks that cannot be started (each test runs in a fresh process, so every
 * chan_go() here spawns a thread and the fault hits it):
 *   - no task at all: EAGAIN, and nothing retained;
 *   - some of a map's workers: the stage runs with the others;
 *   - some of a fan_out's workers: their outputs close empty, none is lost. */
Test(stage, tasks_that_cannot_start)
{
	/* Each task a thread of its own, so that the k-th task is the k-th
	 * thread creation (a goroutine's start creates no thread; the fiber
	 * mode's failures are in task_test). */
	cr_assert_eq(chan_go_configure(&(chan_go_opts_t){ .mode = CHAN_GO_THREADS }), 0);
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_t *in = chan_new_opts(&(chan_opts_t){ .elem_size = 8, .capacity = 100,
						   .drop = count_drop });
	chan_t *outs[3];
	uint64_t v, n = 0, sum = 0;

	chan__fault_arm(CHAN__FAULT_THREAD, 1);
	errno = 0;
	cr_assert_null(chan_map(g, in, square, NULL, NULL));
	cr_assert_eq(errno, EAGAIN);
	chan__fault_arm(CHAN__FAULT_THREAD, 0);

	for (v = 0; v < 100; v++)
		chan_send(in, &v);
	chan_close(in);
	chan__fault_arm(CHAN__FAULT_THREAD, 2); /* the second of 3 workers */
	cr_assert_eq(chan_fan_out(g, in, 3, square, NULL, NULL, outs), 0);
	cr_assert(chan__fault_fired(CHAN__FAULT_THREAD));
	chan__fault_arm(CHAN__FAULT_THREAD, 0);
	for (int i = 0; i < 3; i++) {
		while (chan_recv(outs[i], &v) == 0) {
			n++;
			sum += v;
		}
		chan_release(outs[i]);
	}
	cr_assert_eq(n, 100);
	cr_assert_eq(sum, 328350); /* the sum of i*i for i < 100 */

	chan_t *in2 = filled(100);

	chan__fault_arm(CHAN__FAULT_THREAD, 3); /* the third of 4 workers */
	chan_t *sq = chan_map(g, in2, square, NULL, &(chan_stage_opts_t){ .workers = 4 });

	cr_assert(chan__fault_fired(CHAN__FAULT_THREAD));
	chan__fault_arm(CHAN__FAULT_THREAD, 0);
	cr_assert_not_null(sq);
	for (n = 0, sum = 0; chan_recv(sq, &v) == 0; n++)
		sum += v;
	cr_assert_eq(n, 100);
	cr_assert_eq(sum, 328350);
	cr_assert_eq(chan_group_wait(g), 0);
	atomic_store(&dropped, 0);
	chan_release(sq);
	chan_release(in2);
	chan_release(in);
	cr_assert_eq(atomic_load(&dropped), 0);
	chan_group_destroy(g);
}

/* ---- chan_recv_ctx / chan_send_ctx --------------------------------------- */

Test(ctx_ops, recv_and_send_ctx)
{
	chan_ctx_t *c = chan_ctx_with_cancel(chan_ctx_background());
	chan_t *ch = chan_new(sizeof(uint64_t), 1);
	uint64_t v = 5, w = 0;

	cr_assert_eq(chan_send_ctx(ch, &v, c), 0);
	cr_assert_eq(chan_recv_ctx(ch, &w, c), 0);
	cr_assert_eq(w, 5);
	cr_assert_eq(chan_send_ctx(ch, &v, c), 0);
	chan_ctx_cancel(c);
	/* Ctx first: a ready value is not taken, a free slot not used. */
	cr_assert_eq(chan_recv_ctx(ch, &w, c), -ECANCELED);
	cr_assert_eq(chan_len(ch), 1);
	cr_assert_eq(chan_recv(ch, NULL), 0);
	cr_assert_eq(chan_send_ctx(ch, &v, c), -ECANCELED);
	cr_assert_eq(chan_len(ch), 0);
	/* Bad arguments before the context. */
	cr_assert_eq(chan_recv_ctx(NULL, &w, c), -EINVAL);
	cr_assert_eq(chan_recv_ctx(ch, &w, NULL), -EINVAL);
	cr_assert_eq(chan_send_ctx(NULL, &v, c), -EINVAL);
	cr_assert_eq(chan_send_ctx(ch, NULL, c), -EINVAL);
	cr_assert_eq(chan_send_ctx(ch, &v, NULL), -EINVAL);
	chan_close(ch);
	cr_assert_eq(chan_recv_ctx(ch, &w, chan_ctx_background()), -EPIPE);
	cr_assert_eq(chan_send_ctx(ch, &v, chan_ctx_background()), -EPIPE);
	chan_ctx_release(c);
	chan_release(ch);

	chan_ctx_t *t = chan_ctx_with_timeout(chan_ctx_background(), 5 * MS);

	ch = chan_new(sizeof(uint64_t), 0);
	cr_assert_eq(chan_recv_ctx(ch, &w, t), -ETIMEDOUT);
	cr_assert_eq(chan_send_ctx(ch, &v, t), -ETIMEDOUT);
	chan_ctx_release(t);
	chan_release(ch);
}
