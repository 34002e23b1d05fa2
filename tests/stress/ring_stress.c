/* SPDX-License-Identifier: MIT */
/*
 * tests/stress/ring_stress.c - the raw rings and the list under concurrency,
 * without any parking: producers and consumers spin (with sched_yield, so an
 * over-subscribed run still makes progress) on full/empty. Each flavour runs
 * with the thread counts its contract allows, through single and burst ops.
 */
#include <sched.h>

#include "ring/list.h"
#include "ring/ring.h"
#include "stress_impl.h"

struct rs {
	struct ring *r;
	struct list *l;
	bool burst;
};

static enum ring_status rpush(struct rs *s, uint64_t v)
{
	struct ring *r = s->r;
	bool closed;

	if (s->l) {
		enum ring_status st;

		chan__list_push_burst(s->l, &v, 1, &st);
		return st;
	}
	if (s->burst) {
		size_t n;

		n = ring_push_burst(r, &v, 1, &closed);
		return n ? RING_OK : closed ? RING_CLOSED : RING_WOULD_BLOCK;
	}
	return ring_try_push(r, &v);
}

static size_t rpop(struct rs *s, uint64_t *out, size_t max, enum ring_status *st)
{
	struct ring *r = s->r;
	bool closed = false;
	size_t n;

	if (s->l)
		return chan__list_pop_burst(s->l, out, s->burst ? max : 1, st);
	if (!s->burst) {
		*st = ring_try_pop(r, out);
		return *st == RING_OK;
	}
	n = ring_pop_burst(r, out, max, &closed);
	*st = n ? RING_OK : closed ? RING_CLOSED : RING_WOULD_BLOCK;
	return n;
}

static int send_spin(void *ch, uint64_t v)
{
	enum ring_status st;

	while ((st = rpush(ch, v)) == RING_WOULD_BLOCK)
		sched_yield();
	return st == RING_OK ? 0 : -EPIPE;
}

static size_t recv_spin(void *ch, uint64_t *out, size_t max)
{
	enum ring_status st;
	size_t n;

	while ((n = rpop(ch, out, max, &st)) == 0 && st == RING_WOULD_BLOCK)
		sched_yield();
	return n;
}

static void close_rs(void *ch)
{
	struct rs *s = ch;

	if (s->l)
		chan__list_close(s->l);
	else
		chan__ring_close(s->r);
}

static const struct stress_ops spin_ops = { send_spin, recv_spin };

static void run_ring(enum ring_kind kind, uint64_t cap, int np, int nc, bool burst, bool mid)
{
	struct rs s = { .burst = burst };
	size_t bytes = chan__ring_storage_size(kind, 8, cap);
	void *slots = aligned_alloc(64, (bytes + 63) & ~(size_t)63);

	s.r = aligned_alloc(CHAN_CACHELINE, sizeof(*s.r));
	memset(slots, 0, bytes); /* zero-filled: the initial stamps */
	chan__ring_init(s.r, kind, 8, cap, slots);
	stress_check(&s, &spin_ops, np, nc, stress_scaled(STRESS_MSGS), close_rs, mid);
	free(s.r);
	free(slots);
}

static const uint64_t caps[] = { 1, 7, 1024 };
static const int threads[] = { 1, 2, 4, 8 };

Test(ring_stress, mpmc, .timeout = 600)
{
	for (size_t c = 0; c < 3; c++)
		for (size_t p = 0; p < 4; p++)
			for (size_t q = 0; q < 4; q++)
				for (int b = 0; b < 2; b++)
					run_ring(RING_MPMC, caps[c], threads[p], threads[q], b,
						 p == q);
}

Test(ring_stress, spsc, .timeout = 600)
{
	for (size_t c = 0; c < 3; c++)
		for (int b = 0; b < 2; b++)
			for (int mid = 0; mid < 2; mid++)
				run_ring(RING_SPSC, caps[c], 1, 1, b, mid);
}

Test(ring_stress, mpsc, .timeout = 600)
{
	for (size_t c = 0; c < 3; c++)
		for (size_t p = 0; p < 4; p++)
			for (int b = 0; b < 2; b++)
				run_ring(RING_MPSC, caps[c], threads[p], 1, b, b);
}

Test(ring_stress, spmc, .timeout = 600)
{
	for (size_t c = 0; c < 3; c++)
		for (size_t q = 0; q < 4; q++)
			for (int b = 0; b < 2; b++)
				run_ring(RING_SPMC, caps[c], 1, threads[q], b, b);
}

Test(ring_stress, list, .timeout = 600)
{
	for (size_t p = 0; p < 4; p++) {
		for (size_t q = 0; q < 4; q++) {
			for (int b = 0; b < 2; b++) {
				struct rs s = { .burst = b };

				s.l = aligned_alloc(CHAN_CACHELINE, sizeof(*s.l));
				cr_assert(chan__list_init(s.l, 8));
				stress_check(&s, &spin_ops, threads[p], threads[q],
					     stress_scaled(STRESS_MSGS), close_rs, b);
				chan__list_destroy(s.l, NULL, NULL);
				free(s.l);
			}
		}
	}
}
