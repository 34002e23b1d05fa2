/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/ring_test.c - the bounded rings, single-threaded: every flavour,
 * capacity limits, wraparound, bursts, close, element sizes.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "ring/ring.h"

static const enum ring_kind kinds[] = { RING_MPMC, RING_SPSC, RING_MPSC, RING_SPMC };
static const char *const kind_names[] = { "mpmc", "spsc", "mpsc", "spmc" };
static const size_t elem_sizes[] = { 1, 8, 24, 64, 200 };

struct tring {
	struct ring *r;
	void *slots;
};

static struct tring tring_new(enum ring_kind kind, size_t elem_size, uint64_t cap)
{
	struct tring t;
	size_t bytes = chan__ring_storage_size(kind, elem_size, cap);

	cr_assert_gt(bytes, 0);
	t.r = aligned_alloc(CHAN_CACHELINE, sizeof(struct ring));
	t.slots = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
	cr_assert(t.r && t.slots);
	memset(t.slots, 0, bytes); /* zero-filled: the initial stamps */
	chan__ring_init(t.r, kind, elem_size, cap, t.slots);
	return t;
}

static void tring_free(struct tring *t)
{
	free(t->r);
	free(t->slots);
}

/* The ring's own dispatch (ring/ring.h): every flavour behind one call. */
static enum ring_status push(struct ring *r, const void *e)
{
	return ring_try_push(r, e);
}

static enum ring_status pop(struct ring *r, void *e)
{
	return ring_try_pop(r, e);
}

static size_t push_n(struct ring *r, const void *e, size_t n, bool *closed)
{
	return ring_push_burst(r, e, n, closed);
}

static size_t pop_n(struct ring *r, void *e, size_t n, bool *closed)
{
	return ring_pop_burst(r, e, n, closed);
}

/* An element of @size bytes that encodes @v in every byte it can. */
static void fill(unsigned char *buf, size_t size, uint64_t v)
{
	for (size_t i = 0; i < size; i++)
		buf[i] = (unsigned char)(v * 131 + i * 7 + (v >> 8));
	if (size >= 8)
		memcpy(buf, &v, 8);
}

static void check(const unsigned char *buf, size_t size, uint64_t v)
{
	unsigned char want[256];

	fill(want, size, v);
	cr_assert(memcmp(buf, want, size) == 0, "element %llu corrupted (size %zu)",
		  (unsigned long long)v, size);
}

Test(ring, capacity_is_exact_and_fifo)
{
	static const uint64_t caps[] = { 1, 2, 3, 7, 8, 1000, 1024 };

	for (size_t k = 0; k < 4; k++) {
		for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
			struct tring t = tring_new(kinds[k], 8, caps[c]);
			uint64_t v;

			for (v = 0; v < caps[c]; v++)
				cr_assert_eq(push(t.r, &v), RING_OK, "%s cap %llu", kind_names[k],
					     (unsigned long long)caps[c]);
			cr_assert_eq(push(t.r, &v), RING_WOULD_BLOCK,
				     "%s: cap %llu holds one more than asked", kind_names[k],
				     (unsigned long long)caps[c]);
			cr_assert_eq(chan__ring_len(t.r), caps[c]);
			cr_assert(!chan__ring_send_ready(t.r));
			cr_assert(chan__ring_recv_ready(t.r));
			for (uint64_t i = 0; i < caps[c]; i++) {
				uint64_t got = ~0ull;

				cr_assert_eq(pop(t.r, &got), RING_OK);
				cr_assert_eq(got, i, "%s: FIFO broken", kind_names[k]);
			}
			cr_assert_eq(pop(t.r, &v), RING_WOULD_BLOCK);
			cr_assert_eq(chan__ring_len(t.r), 0);
			cr_assert(!chan__ring_recv_ready(t.r));
			tring_free(&t);
		}
	}
}

Test(ring, wraparound_many_laps_all_elem_sizes)
{
	for (size_t k = 0; k < 4; k++) {
		for (size_t s = 0; s < sizeof(elem_sizes) / sizeof(elem_sizes[0]); s++) {
			size_t es = elem_sizes[s];
			struct tring t = tring_new(kinds[k], es, 7);
			unsigned char in[256], out[256];
			uint64_t next_in = 0, next_out = 0;

			/* Uneven push/pop counts walk every index offset. */
			for (int round = 0; round < 500; round++) {
				int np = 1 + round % 5, nc = 1 + (round * 3) % 4;

				for (int i = 0; i < np; i++) {
					fill(in, es, next_in);
					if (push(t.r, in) == RING_OK)
						next_in++;
				}
				for (int i = 0; i < nc; i++) {
					if (pop(t.r, out) != RING_OK)
						break;
					check(out, es, next_out++);
				}
				cr_assert_leq(next_in - next_out, 7);
				cr_assert_eq(chan__ring_len(t.r), next_in - next_out);
			}
			while (pop(t.r, out) == RING_OK)
				check(out, es, next_out++);
			cr_assert_eq(next_in, next_out, "%s size %zu lost elements", kind_names[k],
				     es);
			cr_assert_gt(next_in, 7 * 50, "too few laps");
			tring_free(&t);
		}
	}
}

Test(ring, pop_discards_with_null)
{
	for (size_t k = 0; k < 4; k++) {
		struct tring t = tring_new(kinds[k], 8, 4);
		uint64_t v = 5, got;

		push(t.r, &v);
		v = 6;
		push(t.r, &v);
		cr_assert_eq(pop(t.r, NULL), RING_OK);
		cr_assert_eq(pop(t.r, &got), RING_OK);
		cr_assert_eq(got, 6);
		tring_free(&t);
	}
}

Test(ring, close_drains_then_reports_closed)
{
	for (size_t k = 0; k < 4; k++) {
		struct tring t = tring_new(kinds[k], 8, 5);
		uint64_t v = 1, got;
		bool closed;

		push(t.r, &v);
		v = 2;
		push(t.r, &v);
		cr_assert(!ring_is_closed(t.r));
		cr_assert(chan__ring_close(t.r));
		cr_assert(!chan__ring_close(t.r), "second close must report already closed");
		cr_assert(ring_is_closed(t.r));
		cr_assert_eq(push(t.r, &v), RING_CLOSED, "%s: push after close", kind_names[k]);
		cr_assert_eq(push_n(t.r, &v, 1, &closed), 0);
		cr_assert(closed);
		cr_assert(chan__ring_send_ready(t.r), "closed counts as ready for senders");
		cr_assert_eq(pop(t.r, &got), RING_OK);
		cr_assert_eq(got, 1);
		cr_assert_eq(pop(t.r, &got), RING_OK);
		cr_assert_eq(got, 2);
		cr_assert_eq(pop(t.r, &got), RING_CLOSED);
		cr_assert_eq(pop_n(t.r, &got, 3, &closed), 0);
		cr_assert(closed);
		cr_assert(chan__ring_recv_ready(t.r));
		tring_free(&t);
	}
}

Test(ring, bursts_respect_capacity_and_wrap)
{
	for (size_t k = 0; k < 4; k++) {
		for (size_t s = 0; s < sizeof(elem_sizes) / sizeof(elem_sizes[0]); s++) {
			size_t es = elem_sizes[s];
			struct tring t = tring_new(kinds[k], es, 10);
			unsigned char *buf = malloc(es * 32);
			uint64_t next_in = 0, next_out = 0;
			bool closed;

			for (int round = 0; round < 300; round++) {
				size_t want = (size_t)(round % 13), got;

				for (size_t i = 0; i < want; i++)
					fill(buf + i * es, es, next_in + i);
				got = push_n(t.r, buf, want, &closed);
				cr_assert(!closed);
				cr_assert_leq(got, want);
				cr_assert_leq(next_in + got - next_out, 10, "%s: burst overfilled",
					      kind_names[k]);
				/* A burst takes all the room there is (single thread). */
				cr_assert_eq(got, want < 10 - (next_in - next_out)
							  ? want
							  : 10 - (next_in - next_out));
				next_in += got;

				want = (size_t)((round * 7) % 11);
				got = pop_n(t.r, buf, want, &closed);
				cr_assert(!closed);
				cr_assert_eq(got, want < next_in - next_out ? want : next_in - next_out);
				for (size_t i = 0; i < got; i++)
					check(buf + i * es, es, next_out + i);
				next_out += got;
			}
			cr_assert_eq(push_n(t.r, buf, 0, &closed), 0, "a zero burst moves nothing");
			cr_assert_eq(pop_n(t.r, buf, 0, &closed), 0);
			free(buf);
			tring_free(&t);
		}
	}
}

Test(ring, burst_mixes_with_single_ops)
{
	for (size_t k = 0; k < 4; k++) {
		struct tring t = tring_new(kinds[k], 8, 6);
		uint64_t v[6] = { 10, 11, 12, 13, 14, 15 }, got[6];
		bool closed;

		push(t.r, &v[0]);
		cr_assert_eq(push_n(t.r, &v[1], 5, &closed), 5);
		cr_assert_eq(push(t.r, &v[0]), RING_WOULD_BLOCK);
		cr_assert_eq(pop(t.r, &got[0]), RING_OK);
		cr_assert_eq(pop_n(t.r, got, 6, &closed), 5);
		for (int i = 0; i < 5; i++)
			cr_assert_eq(got[i], (uint64_t)(11 + i));
		tring_free(&t);
	}
}

Test(ring, storage_size_rejects_overflow)
{
	cr_assert_eq(chan__ring_storage_size(RING_MPMC, 8, RING_CAP_MAX + 1), 0);
	cr_assert_eq(chan__ring_storage_size(RING_MPMC, SIZE_MAX / 2, 4), 0);
	cr_assert_eq(chan__ring_storage_size(RING_SPSC, 1, 10), 160, "stamp + 1 byte, 8-aligned");
	cr_assert_eq(chan__ring_storage_size(RING_MPMC, 8, 10), 160, "stamp + 8 bytes per slot");
	cr_assert_eq(chan__ring_storage_size(RING_MPMC, 24, 10), 320);
}

Test(ring, lap_encoding_helpers)
{
	struct tring t = tring_new(RING_MPMC, 8, 7);
	struct ring *r = t.r;

	cr_assert_eq(r->mark_bit, 8);
	cr_assert_eq(r->one_lap, 16);
	cr_assert_eq(ring_next(r, 5), 6);
	cr_assert_eq(ring_next(r, 6), 16, "index 6 is the last: next lap, index 0");
	cr_assert_eq(ring_advance(r, 5, 4), 16 + 2);
	cr_assert_eq(ring_count(r, 0, 0), 0);
	cr_assert_eq(ring_count(r, 0, 16), 7, "a lap apart at the same index is full");
	cr_assert_eq(ring_count(r, 5, 16 + 2), 4);
	tring_free(&t);
}

/* ---- the evicting push (ring/evict.h), on the flavours with CAS pops ---- */

/* check() for elements up to 300 bytes. */
static void check_big(const unsigned char *buf, size_t size, uint64_t v)
{
	unsigned char want[300];

	fill(want, size, v);
	cr_assert(memcmp(buf, want, size) == 0, "element %llu corrupted (size %zu)",
		  (unsigned long long)v, size);
}

struct evicted_log {
	size_t es, n;
	uint64_t v[64];
};

static void log_evicted(void *elem, void *arg)
{
	struct evicted_log *l = arg;
	uint64_t v = 0;

	memcpy(&v, elem, l->es < 8 ? l->es : 8);
	cr_assert_lt(l->n, 64);
	l->v[l->n++] = v;
}

Test(ring, push_evict_keeps_the_newest_cap)
{
	static const enum ring_kind ekinds[] = { RING_MPMC, RING_SPMC };
	/* 8 and 24 are copied out; 300 is evicted in place (RING_EVICT_COPY_MAX). */
	static const size_t sizes[] = { 8, 24, 300 };
	static const uint64_t caps[] = { 1, 2, 7 };

	for (size_t k = 0; k < 2; k++) {
		for (size_t z = 0; z < 3; z++) {
			for (size_t c = 0; c < 3; c++) {
				size_t es = sizes[z];
				uint64_t cap = caps[c], n = 5 * cap + 3;
				struct tring t = tring_new(ekinds[k], es, cap);
				struct evicted_log log = { .es = es };
				unsigned char in[300], out[300];

				cr_assert_gt(RING_EVICT_COPY_MAX, 24);
				cr_assert_lt(RING_EVICT_COPY_MAX, 300);
				for (uint64_t v = 0; v < n; v++) {
					fill(in, es, v);
					cr_assert_eq(ring_push_evict(t.r, in, log_evicted, &log),
						     RING_OK);
					cr_assert_leq(chan__ring_len(t.r), cap);
				}
				cr_assert_eq(log.n, n - cap,
					     "one eviction per push into a full ring");
				for (uint64_t i = 0; i < log.n; i++)
					cr_assert_eq(log.v[i], i, "evicted out of order (size %zu)",
						     es);
				for (uint64_t v = n - cap; v < n; v++) {
					cr_assert_eq(pop(t.r, out), RING_OK);
					check_big(out, es, v);
				}
				cr_assert_eq(pop(t.r, out), RING_WOULD_BLOCK);
				/* Room again: a plain push, nothing evicted. */
				fill(in, es, 999);
				cr_assert_eq(ring_push_evict(t.r, in, log_evicted, &log), RING_OK);
				cr_assert_eq(log.n, n - cap);
				cr_assert_eq(pop(t.r, out), RING_OK);
				check_big(out, es, 999);
				/* Closed: refused, nothing evicted. */
				ring_push_evict(t.r, in, log_evicted, &log);
				chan__ring_close(t.r);
				for (uint64_t i = 1; i < cap; i++)
					ring_push_evict(t.r, in, log_evicted, &log);
				cr_assert_eq(ring_push_evict(t.r, in, log_evicted, &log),
					     RING_CLOSED);
				cr_assert_eq(log.n, n - cap);
				tring_free(&t);
			}
		}
	}
}

Test(ring, len_reads_a_pending_eviction_as_full)
{
	/* The state between EV1 and EV2: tail one lap + 1 ahead of head. */
	struct tring t = tring_new(RING_MPMC, 8, 7);
	struct ring *r = t.r;

	atomic_store_explicit(&r->head, 3, memory_order_relaxed);
	atomic_store_explicit(&r->tail, r->one_lap + 4, memory_order_relaxed);
	cr_assert_eq(chan__ring_len(r), 7);
	atomic_store_explicit(&r->head, 6, memory_order_relaxed);
	atomic_store_explicit(&r->tail, 2 * r->one_lap, memory_order_relaxed);
	cr_assert_eq(chan__ring_len(r), 7, "across the last index");
	atomic_store_explicit(&r->tail, r->one_lap + 6, memory_order_relaxed);
	cr_assert_eq(chan__ring_len(r), 7);
	atomic_store_explicit(&r->tail, r->one_lap + 2, memory_order_relaxed);
	cr_assert_eq(chan__ring_len(r), 3);
	tring_free(&t);
}
