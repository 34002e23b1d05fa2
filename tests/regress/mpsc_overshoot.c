/* SPDX-License-Identifier: MIT */
/*
 * tests/regress/mpsc_overshoot.c - review finding 1 (2026-11-28).
 *
 * The single consumer of an MPSC ring used to free a slot (its stamp) before
 * it advanced head. A producer could take the freed slot at once, while
 * tail was already a full lap ahead of the stale head: tail - head became
 * cap + 1, a burst then computed a wrapped count from that pair and
 * reserved about cap more slots, and spun until a slow consumer drained
 * them (a chan_try_send_burst() that blocked for as long as the consumer
 * slept). The window is two stores wide, so this test does not hope for a
 * lucky interleaving: the ring's debug hook runs the producer's push at the
 * exact point right after a slot is freed, on a full ring.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "ring/ring.h"

#define CAP 8

static uint64_t distance(struct ring *r)
{
	uint64_t h = atomic_load(&r->head), t = atomic_load(&r->tail) & ~r->mark_bit;

	return (t / r->one_lap - h / r->one_lap) * r->cap + t % r->one_lap - h % r->one_lap;
}

static int pushes_in_window;
static uint64_t worst;

/* "Another producer" arriving right after the consumer freed a slot. */
static void push_now(struct ring *r, const char *where)
{
	uint64_t v = 99;

	if (strcmp(where, "slot freed") != 0)
		return; /* another window */
	chan__ring_debug_hook = NULL; /* not re-entrant */
	if (ring_try_push_mpsc(r, &v) == RING_OK)
		pushes_in_window++;
	if (distance(r) > worst)
		worst = distance(r);
	chan__ring_debug_hook = push_now;
}

static struct ring *full_ring(void **slots)
{
	struct ring *r = aligned_alloc(CHAN_CACHELINE, sizeof(*r));
	uint64_t v = 1;

	*slots = calloc(1, chan__ring_storage_size(RING_MPSC, 8, CAP));
	chan__ring_init(r, RING_MPSC, 8, CAP, *slots);
	for (int i = 0; i < CAP; i++)
		cr_assert_eq(ring_try_push_mpsc(r, &v), RING_OK);
	return r;
}

Test(regress, mpsc_pop_advances_head_before_freeing)
{
	void *slots;
	struct ring *r = full_ring(&slots);
	uint64_t got;

	worst = 0;
	chan__ring_debug_hook = push_now;
	cr_assert_eq(ring_try_pop_mpsc(r, &got), RING_OK);
	chan__ring_debug_hook = NULL;
	cr_assert_eq(pushes_in_window, 1, "the freed slot should be free to take");
	cr_assert_leq(worst, CAP, "tail ran %llu ahead of head (cap %d)", (unsigned long long)worst,
		      CAP);
	free(r);
	free(slots);
}

Test(regress, mpsc_burst_pop_advances_head_before_freeing)
{
	void *slots;
	struct ring *r = full_ring(&slots);
	uint64_t got[4];
	bool closed;

	worst = 0;
	pushes_in_window = 0;
	chan__ring_debug_hook = push_now;
	cr_assert_eq(ring_pop_burst_mpsc(r, got, 4, &closed), 4);
	chan__ring_debug_hook = NULL;
	cr_assert_eq(pushes_in_window, 4);
	cr_assert_leq(worst, CAP, "tail ran %llu ahead of head (cap %d)", (unsigned long long)worst,
		      CAP);
	/* And a burst push on the full ring takes nothing instead of over-reserving. */
	cr_assert_eq(ring_push_burst_mpsc(r, got, 4, &closed), 0);
	free(r);
	free(slots);
}
