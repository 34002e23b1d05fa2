/* SPDX-License-Identifier: MIT */
/*
 * bench/peers/ck_ring/ck_ring.c - peer "ck_ring": ConcurrencyKit's ck_ring in MPMC mode,
 * used raw: a full or empty ring is retried after sched_yield(), there is no parking.
 *
 * The ring stores pointer-sized entries, so each message travels as (void *)(uintptr_t)v.
 * ck_ring needs a power-of-two size and keeps one slot empty (it holds size - 1 entries), so
 * a capacity cap becomes the smallest power of two >= cap + 1: capacities 0 and 1 both
 * become a 2-slot ring holding one entry (there is no rendezvous: capacity 0 runs as 1),
 * and N becomes the next power of two above N (never full in these workloads).
 *
 * Bounded only: the unbounded rows and the select rows print n/a. A run ends by message
 * counts (every receiver has a quota, see common/peer.h), so no close flag is needed.
 * Spinning without parking collapses when there are more threads than CPUs: cap each run
 * with timeout(1).
 */
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <ck_ring.h>

#include "../common/peer.h"

#define CK_PEER_ALIGN 64	/* struct ck_ring pads its indices to cache lines */

struct peer_q {
	struct ck_ring ring;
	ck_ring_buffer_t *buf;
};

static bool peer_q_supports(long cap)
{
	return cap >= 0;	/* 0 (as 1), 1 and N; no unbounded mode */
}

static struct peer_q *peer_q_new(long cap)
{
	struct peer_q *q;
	unsigned int size = 2;

	while (size < (unsigned long)cap + 1)
		size *= 2;
	q = aligned_alloc(CK_PEER_ALIGN, (sizeof(*q) + CK_PEER_ALIGN - 1) &
				  ~(size_t)(CK_PEER_ALIGN - 1));
	if (q == NULL)
		return NULL;
	q->buf = aligned_alloc(CK_PEER_ALIGN, size * sizeof(*q->buf));
	if (q->buf == NULL) {
		free(q);
		return NULL;
	}
	ck_ring_init(&q->ring, size);
	return q;
}

static void peer_q_send(struct peer_q *q, uint64_t v)
{
	while (!ck_ring_enqueue_mpmc(&q->ring, q->buf, (void *)(uintptr_t)v))
		sched_yield();	/* full */
}

static uint64_t peer_q_recv(struct peer_q *q)
{
	void *p;

	while (!ck_ring_dequeue_mpmc(&q->ring, q->buf, &p))
		sched_yield();	/* empty */
	return (uint64_t)(uintptr_t)p;
}

static void peer_q_free(struct peer_q *q)
{
	free(q->buf);
	free(q);
}

int main(int argc, char **argv)
{
	return peer_main("ck_ring", argc, argv);
}
