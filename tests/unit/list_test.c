/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/list_test.c - the unbounded block list, single-threaded: order
 * across block boundaries, bursts, close, length, teardown with drop.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "ring/list.h"

static struct list *list_new(size_t elem_size)
{
	struct list *l = aligned_alloc(CHAN_CACHELINE, sizeof(*l));

	cr_assert(l);
	cr_assert(chan__list_init(l, elem_size));
	return l;
}

static enum ring_status push1(struct list *l, uint64_t v)
{
	enum ring_status st;

	chan__list_push_burst(l, &v, 1, &st);
	return st;
}

static enum ring_status pop1(struct list *l, uint64_t *v)
{
	enum ring_status st;

	chan__list_pop_burst(l, v, 1, &st);
	return st;
}

Test(list, fifo_across_many_blocks)
{
	struct list *l = list_new(8);
	const uint64_t n = LIST_BLOCK_CAP * 40 + 5;
	uint64_t got;

	for (uint64_t i = 0; i < n; i++) {
		cr_assert_eq(push1(l, i), RING_OK);
		cr_assert_eq(chan__list_len(l), i + 1);
	}
	for (uint64_t i = 0; i < n; i++) {
		cr_assert_eq(pop1(l, &got), RING_OK);
		cr_assert_eq(got, i, "FIFO broken at %llu", (unsigned long long)i);
		cr_assert_eq(chan__list_len(l), n - i - 1);
	}
	cr_assert_eq(pop1(l, &got), RING_WOULD_BLOCK);
	cr_assert(!chan__list_recv_ready(l));
	chan__list_destroy(l, NULL, NULL);
	free(l);
}

Test(list, interleaved_push_pop_frees_blocks)
{
	/* Run under ASan in CI: every finished block must be freed exactly once. */
	struct list *l = list_new(24);
	uint64_t in = 0, out = 0;
	unsigned char buf[24];

	for (int round = 0; round < 2000; round++) {
		for (int i = 0; i < 1 + round % 7; i++) {
			memset(buf, 0, sizeof(buf));
			memcpy(buf, &in, 8);
			enum ring_status st;

			cr_assert_eq(chan__list_push_burst(l, buf, 1, &st), 1);
			in++;
		}
		for (int i = 0; i < 1 + round % 5; i++) {
			enum ring_status st;
			uint64_t v;

			if (chan__list_pop_burst(l, buf, 1, &st) == 0)
				break;
			memcpy(&v, buf, 8);
			cr_assert_eq(v, out++);
		}
	}
	cr_assert_eq(chan__list_len(l), in - out);
	chan__list_destroy(l, NULL, NULL);
	free(l);
}

Test(list, bursts_stay_within_one_block)
{
	struct list *l = list_new(8);
	uint64_t buf[100], out = 0, in = 0;
	enum ring_status st;

	for (int i = 0; i < 100; i++)
		buf[i] = (uint64_t)i;
	while (in < 100) {
		size_t k = chan__list_push_burst(l, buf + in, 100 - in, &st);

		cr_assert_eq(st, RING_OK);
		cr_assert_geq(k, 1);
		cr_assert_leq(k, LIST_BLOCK_CAP);
		in += k;
	}
	cr_assert_eq(chan__list_len(l), 100);
	while (out < 100) {
		uint64_t got[64];
		size_t k = chan__list_pop_burst(l, got, 64, &st);

		cr_assert_geq(k, 1);
		for (size_t i = 0; i < k; i++)
			cr_assert_eq(got[i], out + i);
		out += k;
	}
	cr_assert_eq(chan__list_pop_burst(l, buf, 4, &st), 0);
	cr_assert_eq(st, RING_WOULD_BLOCK);
	chan__list_destroy(l, NULL, NULL);
	free(l);
}

Test(list, close_drains_then_reports_closed)
{
	struct list *l = list_new(8);
	uint64_t got;

	push1(l, 7);
	push1(l, 8);
	cr_assert(chan__list_close(l));
	cr_assert(!chan__list_close(l));
	cr_assert(list_is_closed(l));
	cr_assert_eq(push1(l, 9), RING_CLOSED);
	cr_assert_eq(pop1(l, &got), RING_OK);
	cr_assert_eq(got, 7);
	cr_assert_eq(pop1(l, NULL), RING_OK, "NULL discards");
	cr_assert_eq(pop1(l, &got), RING_CLOSED);
	cr_assert(chan__list_recv_ready(l));
	chan__list_destroy(l, NULL, NULL);
	free(l);
}

static int dropped;
static uint64_t dropped_sum;

static void count_drop(void *elem, void *arg)
{
	uint64_t v;

	(void)arg;
	memcpy(&v, elem, 8);
	dropped++;
	dropped_sum += v;
}

Test(list, destroy_drops_what_is_left)
{
	struct list *l = list_new(8);
	uint64_t got, want = 0;

	for (uint64_t i = 0; i < 100; i++)
		push1(l, i);
	for (int i = 0; i < 40; i++)
		pop1(l, &got);
	for (uint64_t i = 40; i < 100; i++)
		want += i;
	chan__list_destroy(l, count_drop, NULL);
	cr_assert_eq(dropped, 60);
	cr_assert_eq(dropped_sum, want);
	free(l);
}
