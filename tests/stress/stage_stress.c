/* SPDX-License-Identifier: MIT */
/*
 * tests/stress/stage_stress.c - stages under load:
 *   - conservation (unique values in, the same multiset out: nothing lost,
 *     nothing doubled, no phantom; FIFO per producer where the stage keeps
 *     it) for map (unordered and ordered), fan_out, merge and tee with 1..8
 *     workers / inputs / outputs x capacities 0, 1, 64 and varying batches;
 *   - the ordered map's order and window bound under random per-item delays;
 *   - chan_recv_ctx/chan_send_ctx racing a cancel, 10,000 times: no value
 *     lost or doubled;
 *   - pipelines canceled at random points: every owning value freed once.
 * Sizes scale with CHAN_STRESS_SCALE (and /8 under TSan), see stress_impl.h.
 */
#include <chan/chan.h>

#include "stress_impl.h"

#define MS 1000000LL

static const size_t caps[] = { 0, 1, 64 };

/* ---- conservation through a stage, with stress_impl.h's checker ---------- */

enum kind { MAP, ORDERED, FAN_OUT, MERGE };

struct staged {
	enum kind kind;
	chan_t *ins[STRESS_MAX_THREADS]; /* MERGE: one per producer; else ins[0] */
	size_t nin;
	chan_t *outs[STRESS_MAX_THREADS]; /* FAN_OUT: n; else outs[0] */
	size_t nout;
};

static int identity(const void *in, void *out, void *arg)
{
	(void)arg;
	*(uint64_t *)out = *(const uint64_t *)in;
	return 0;
}

static int staged_send(void *ch, uint64_t v)
{
	struct staged *s = ch;

	return chan_send(s->ins[s->kind == MERGE ? v >> 40 : 0], &v);
}

static size_t staged_recv(void *ch, uint64_t *out, size_t max)
{
	struct staged *s = ch;
	chan_case_t cs[STRESS_MAX_THREADS];
	size_t live = s->nout;

	if (s->nout == 1)
		return chan_recv_burst(s->outs[0], out, max);
	/* fan_out: any output; a closed one drops out of this call's select. */
	for (size_t i = 0; i < s->nout; i++)
		cs[i] = (chan_case_t){ .chan = s->outs[i], .op = CHAN_OP_RECV, .elem = out };
	while (live > 0) {
		int r = chan_select(cs, s->nout);

		if (cs[r].err == 0)
			return 1;
		cs[r].chan = NULL;
		live--;
	}
	return 0;
}

static void staged_close(void *ch)
{
	struct staged *s = ch;

	for (size_t i = 0; i < s->nin; i++)
		chan_close(s->ins[i]);
}

static const struct stress_ops staged_ops = { staged_send, staged_recv };

static void conserve(enum kind kind)
{
	uint64_t msgs = stress_scaled(4000);

	for (unsigned w = 1; w <= 8; w++) {
		for (size_t ci = 0; ci < 3; ci++) {
			chan_group_t *g = chan_group_new(chan_ctx_background());
			struct staged s = { .kind = kind, .nin = 1, .nout = 1 };
			chan_stage_opts_t o = { .out = { .capacity = caps[ci] }, .workers = w,
						.batch = 1 + (w % 3) * 3 };
			int producers = kind == MERGE ? (int)w : 2;

			for (size_t i = 0; i < (kind == MERGE ? w : 1); i++)
				s.ins[i] = chan_new(sizeof(uint64_t), caps[ci]);
			s.nin = kind == MERGE ? w : 1;
			switch (kind) {
			case MAP:
				s.outs[0] = chan_map(g, s.ins[0], identity, NULL, &o);
				break;
			case ORDERED:
				o.flags = CHAN_STAGE_ORDERED;
				o.window = (size_t[]){ 1, w, 0 }[w % 3];
				s.outs[0] = chan_map(g, s.ins[0], identity, NULL, &o);
				break;
			case FAN_OUT:
				s.nout = w;
				cr_assert_eq(chan_fan_out(g, s.ins[0], w, identity, NULL, &o, s.outs), 0);
				break;
			case MERGE:
				s.outs[0] = chan_merge(g, s.ins, w, &o);
				break;
			}
			cr_assert_not_null(s.outs[0]);
			/* Order per producer: kept by merge, by an ordered map and
			 * by a map with one worker. */
			stress_fifo = kind == MERGE || kind == ORDERED || (kind == MAP && w == 1);
			stress_check(&s, &staged_ops, producers, 2, msgs, staged_close, false);
			cr_assert_eq(chan_group_wait(g), 0);
			for (size_t i = 0; i < s.nin; i++)
				chan_release(s.ins[i]);
			for (size_t i = 0; i < s.nout; i++)
				chan_release(s.outs[i]);
			chan_group_destroy(g);
		}
	}
}

Test(stage_stress, map_conserves)
{
	conserve(MAP);
}

Test(stage_stress, ordered_map_conserves_and_keeps_order)
{
	conserve(ORDERED);
}

Test(stage_stress, fan_out_conserves)
{
	conserve(FAN_OUT);
}

Test(stage_stress, merge_conserves)
{
	conserve(MERGE);
}

/* ---- tee: every output gets every value, in order ------------------------ */

struct tee_reader {
	chan_t *c;
	uint64_t n, bad;
};

static void *tee_read(void *arg)
{
	struct tee_reader *r = arg;
	uint64_t v, buf[8];
	size_t k;

	while ((k = chan_recv_burst(r->c, buf, 1 + r->n % 8)) > 0)
		for (size_t i = 0; i < k; i++) {
			v = buf[i];
			if (v != r->n)
				r->bad++;
			r->n++;
		}
	return NULL;
}

Test(stage_stress, tee_delivers_everything_to_every_output)
{
	uint64_t msgs = stress_scaled(4000);

	for (unsigned n = 1; n <= 8; n++) {
		for (size_t ci = 0; ci < 3; ci++) {
			chan_group_t *g = chan_group_new(chan_ctx_background());
			chan_t *in = chan_new(sizeof(uint64_t), caps[ci]), *outs[8];
			struct tee_reader rd[8];
			pthread_t t[8];

			cr_assert_eq(chan_tee(g, in, n, outs,
					      &(chan_stage_opts_t){ .out = { .capacity = caps[ci] },
								    .batch = 1 + n % 4 }),
				     0);
			for (unsigned j = 0; j < n; j++) {
				rd[j] = (struct tee_reader){ .c = outs[j] };
				pthread_create(&t[j], NULL, tee_read, &rd[j]);
			}
			for (uint64_t v = 0; v < msgs; v++)
				cr_assert_eq(chan_send(in, &v), 0);
			chan_close(in);
			for (unsigned j = 0; j < n; j++) {
				pthread_join(t[j], NULL);
				cr_assert_eq(rd[j].n, msgs, "n=%u cap=%zu: output %u got %llu of %llu", n,
					     caps[ci], j, (unsigned long long)rd[j].n,
					     (unsigned long long)msgs);
				cr_assert_eq(rd[j].bad, 0, "output %u out of order", j);
				chan_release(outs[j]);
			}
			cr_assert_eq(chan_group_wait(g), 0);
			chan_release(in);
			chan_group_destroy(g);
		}
	}
}

/* ---- ordered map: order and window under random delays ------------------- */

struct window_probe {
	size_t window;
	_Atomic uint64_t received; /* values the consumer has recorded */
	_Atomic int violated;
	_Atomic uint64_t worst;
};

/* xorshift per thread: the delays differ per item and per run */
static _Thread_local uint64_t rng = 88172645463325252ull;

static int delayed_identity(const void *in, void *out, void *arg)
{
	struct window_probe *p = arg;
	uint64_t s = *(const uint64_t *)in, got = atomic_load(&p->received);

	/* In flight = taken - sent <= window; sent <= received + 1 (the
	 * consumer records after its receive returns), taken >= s + 1. */
	if (s > p->window + got) {
		atomic_store(&p->violated, 1);
		atomic_store(&p->worst, s - got);
	}
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	for (volatile uint64_t spin = rng % 20000; spin > 0; spin--)
		;
	*(uint64_t *)out = s;
	return 0;
}

struct seq_feeder {
	chan_t *c;
	uint64_t n;
	_Atomic uint64_t sent;
};

static void *feed_seq(void *arg)
{
	struct seq_feeder *f = arg;

	for (uint64_t i = 0; i < f->n; i++) {
		if (chan_send(f->c, &i) != 0)
			break;
		atomic_fetch_add(&f->sent, 1);
	}
	chan_close(f->c);
	return NULL;
}

Test(stage_stress, ordered_map_order_and_window_under_random_delays)
{
	const unsigned workers[] = { 2, 4, 8 };
	const size_t windows[] = { 1, 3, 16 };
	uint64_t n = stress_scaled(3000);

	for (int wi = 0; wi < 3; wi++) {
		for (int ki = 0; ki < 3; ki++) {
			chan_group_t *g = chan_group_new(chan_ctx_background());
			struct window_probe p = { .window = windows[ki] };
			struct seq_feeder f = { .c = chan_new(sizeof(uint64_t), 0), .n = n };
			chan_t *out = chan_map(g, f.c, delayed_identity, &p,
					       &(chan_stage_opts_t){ .workers = workers[wi],
								     .flags = CHAN_STAGE_ORDERED,
								     .window = windows[ki],
								     .batch = 1 + (size_t)ki });
			pthread_t t;
			uint64_t v;

			pthread_create(&t, NULL, feed_seq, &f);
			for (uint64_t i = 0; i < n; i++) {
				cr_assert_eq(chan_recv(out, &v), 0);
				cr_assert_eq(v, i, "workers %u window %zu: %llu at %llu", workers[wi],
					     windows[ki], (unsigned long long)v, (unsigned long long)i);
				atomic_store(&p.received, i + 1);
			}
			cr_assert_eq(chan_recv(out, &v), -EPIPE);
			pthread_join(t, NULL);
			cr_assert(!atomic_load(&p.violated), "window %zu exceeded: %llu in flight",
				  windows[ki], (unsigned long long)atomic_load(&p.worst));
			cr_assert_eq(chan_group_wait(g), 0);
			chan_release(out);
			chan_release(f.c);
			chan_group_destroy(g);
		}
	}
}

/* A stalled consumer: the map takes exactly @window items, then nothing. */
Test(stage_stress, ordered_map_stalls_at_its_window)
{
	const size_t windows[] = { 1, 5, 12 };

	for (int ki = 0; ki < 3; ki++) {
		chan_group_t *g = chan_group_new(chan_ctx_background());
		struct window_probe p = { .window = windows[ki] };
		struct seq_feeder f = { .c = chan_new(sizeof(uint64_t), 0), .n = 1000 };
		chan_t *out = chan_map(g, f.c, delayed_identity, &p,
				       &(chan_stage_opts_t){ .workers = 8, .flags = CHAN_STAGE_ORDERED,
							     .window = windows[ki] });
		pthread_t t;
		int64_t give_up = chan_now() + 30000 * MS;

		pthread_create(&t, NULL, feed_seq, &f);
		while (atomic_load(&f.sent) < windows[ki] && chan_now() < give_up)
			sched_yield();
		cr_assert_eq(atomic_load(&f.sent), windows[ki]);
		/* One-sided: it must not take more, however long we wait. */
		chan_t *pause = chan_after(20 * MS);

		chan_recv(pause, NULL);
		chan_release(pause);
		cr_assert_eq(atomic_load(&f.sent), windows[ki], "took more than its window");
		chan_group_cancel(g, 0);
		cr_assert_eq(chan_group_wait(g), 0);
		chan_close(f.c);
		pthread_join(t, NULL);
		chan_release(out);
		chan_release(f.c);
		chan_group_destroy(g);
	}
}

/* ---- chan_recv_ctx / chan_send_ctx racing a cancel ------------------------ */

struct race {
	chan_t *c;
	chan_ctx_t *ctx;
	uint64_t v;
	int send_r;
	_Atomic int *go;
};

static void *race_send(void *arg)
{
	struct race *r = arg;

	while (!atomic_load(r->go))
		;
	r->send_r = chan_send(r->c, &r->v);
	return NULL;
}

static void *race_cancel(void *arg)
{
	struct race *r = arg;

	while (!atomic_load(r->go))
		;
	chan_ctx_cancel(r->ctx);
	return NULL;
}

Test(stage_stress, recv_ctx_racing_cancel_loses_no_value)
{
	int iters = CHAN__TSAN ? 1000 : 10000, won = 0;

	for (int i = 0; i < iters; i++) {
		_Atomic int go = 0;
		struct race r = { .c = chan_new(sizeof(uint64_t), (size_t)(i % 2)),
				  .ctx = chan_ctx_with_cancel(chan_ctx_background()),
				  .v = (uint64_t)i, .go = &go };
		pthread_t ts, tc;
		uint64_t got = UINT64_MAX;
		int rr;

		pthread_create(&ts, NULL, race_send, &r);
		pthread_create(&tc, NULL, race_cancel, &r);
		atomic_store(&go, 1);
		rr = chan_recv_ctx(r.c, &got, r.ctx);
		if (rr == 0) {
			won++;
			cr_assert_eq(got, (uint64_t)i);
		} else {
			cr_assert_eq(rr, -ECANCELED);
			cr_assert_eq(got, UINT64_MAX, "elem written on error");
			/* The value was not taken: it is still there for us. */
			cr_assert_eq(chan_recv(r.c, &got), 0, "iteration %d: value lost", i);
			cr_assert_eq(got, (uint64_t)i);
		}
		pthread_join(ts, NULL);
		pthread_join(tc, NULL);
		cr_assert_eq(r.send_r, 0);
		cr_assert_eq(chan_try_recv(r.c, NULL), -EAGAIN, "a value twice");
		chan_ctx_release(r.ctx);
		chan_release(r.c);
	}
	cr_assert_gt(won, 0);
}

Test(stage_stress, send_ctx_racing_cancel_sends_at_most_once)
{
	int iters = CHAN__TSAN ? 2000 : 10000;

	for (int i = 0; i < iters; i++) {
		_Atomic int go = 0;
		struct race r = { .c = chan_new(sizeof(uint64_t), 1),
				  .ctx = chan_ctx_with_cancel(chan_ctx_background()), .go = &go };
		uint64_t v = (uint64_t)i, got;
		pthread_t tc;
		int rs;

		chan_send(r.c, &v); /* full: send_ctx waits until we receive */
		pthread_create(&tc, NULL, race_cancel, &r);
		atomic_store(&go, 1);
		if (i % 2)
			chan_recv(r.c, &got); /* make room while the cancel runs */
		rs = chan_send_ctx(r.c, &v, r.ctx);
		pthread_join(tc, NULL);
		if (i % 2 == 0)
			cr_assert_eq(chan_recv(r.c, &got), 0);
		cr_assert(rs == 0 || rs == -ECANCELED);
		cr_assert_eq(chan_len(r.c), rs == 0 ? 1u : 0u, "iteration %d: send %d, len %zu", i,
			     rs, chan_len(r.c));
		chan_ctx_release(r.ctx);
		chan_release(r.c);
	}
}

/* ---- pipelines canceled at random points --------------------------------- */

struct obj {
	_Atomic int refs;
	uint64_t id;
};
static _Atomic long live;

static struct obj *obj_new(uint64_t id)
{
	struct obj *o = malloc(sizeof(*o));

	atomic_init(&o->refs, 1);
	o->id = id;
	atomic_fetch_add(&live, 1);
	return o;
}

static void obj_put(struct obj *o)
{
	if (atomic_fetch_sub(&o->refs, 1) == 1) {
		atomic_fetch_sub(&live, 1);
		free(o);
	}
}

static void obj_drop(void *elem)
{
	obj_put(*(struct obj **)elem);
}

static int obj_clone(void *dst, const void *src)
{
	struct obj *o = *(struct obj *const *)src;

	atomic_fetch_add(&o->refs, 1);
	*(struct obj **)dst = o;
	return 0;
}

static int obj_next(void *elem, void *arg)
{
	_Atomic uint64_t *n = arg;

	*(struct obj **)elem = obj_new(atomic_fetch_add(n, 1));
	return 0;
}

static int obj_pass(const void *in, void *out, void *arg)
{
	struct obj *o = *(struct obj *const *)in;

	(void)arg;
	if (o->id % 7 == 3) {
		obj_put(o);
		return CHAN_MAP_SKIP;
	}
	*(struct obj **)out = o;
	return 0;
}

Test(stage_stress, canceled_pipelines_free_every_value_once)
{
	int iters = CHAN__TSAN ? 40 : 200;

	for (int i = 0; i < iters; i++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		chan_group_t *g = chan_group_new(chan_ctx_background());
		const chan_opts_t oo = { .elem_size = sizeof(struct obj *),
					 .capacity = (size_t[]){ 0, 1, 64 }[i % 3], .drop = obj_drop };
		_Atomic uint64_t ids = 0;
		chan_t *src = chan_generate_fn(g, obj_next, &ids, &oo);
		chan_t *m = chan_map(g, src, obj_pass, NULL,
				     &(chan_stage_opts_t){ .out = oo, .workers = 1 + rng % 4,
							   .batch = 1 + rng % 8, .in_drop = obj_drop,
							   .flags = (rng >> 8) % 2 ? CHAN_STAGE_ORDERED : 0 });
		chan_t *tees[2];

		cr_assert_eq(chan_tee(g, m, 2, tees,
				      &(chan_stage_opts_t){ .out = oo, .clone = obj_clone,
							    .batch = 1 + (rng >> 12) % 3 }),
			     0);
		chan_t *all = chan_merge(g, tees, 2, &(chan_stage_opts_t){ .out = oo });
		chan_t *done = chan_or_done(g, all, &(chan_stage_opts_t){ .out = oo });
		uint64_t stop_at = (rng >> 16) % 500;
		struct obj *o;

		chan_release(src);
		chan_release(m);
		chan_release(tees[0]);
		chan_release(tees[1]);
		chan_release(all);
		for (uint64_t k = 0; chan_recv(done, &o) == 0; k++) {
			obj_put(o);
			if (k == stop_at)
				chan_group_cancel(g, 0);
		}
		cr_assert_eq(chan_group_wait(g), 0);
		chan_release(done);
		cr_assert_eq(atomic_load(&live), 0, "iteration %d: %ld objects leaked or lost", i,
			     atomic_load(&live));
		chan_group_destroy(g);
	}
}
