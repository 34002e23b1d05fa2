// SPDX-License-Identifier: MIT
/*
 * bench/peers/moodycamel/moodycamel.cpp - peer "moodycamel":
 * moodycamel::BlockingConcurrentQueue<uint64_t>, the lock-free queue with a semaphore on top.
 *
 * enqueue() allocates blocks as needed (the queue is unbounded); wait_dequeue() spins briefly
 * and then parks on the queue's lightweight semaphore. Called the plain way, without explicit
 * producer/consumer tokens (the queue then uses an implicit per-thread producer). The queue is
 * FIFO per producer only, which none of these workloads depends on.
 *
 * Unbounded only: it has no bounded blocking mode (enqueue never waits for room), so the
 * rows 0, 1 and N print n/a, and so do the select rows. Workloads: common/peer.h.
 */
#include <cstdint>
#include <new>

#include <concurrentqueue/blockingconcurrentqueue.h>

#include "../common/peer.h"

struct peer_q {
	moodycamel::BlockingConcurrentQueue<uint64_t> q;
};

static bool peer_q_supports(long cap)
{
	return cap == PEER_CAP_UNBOUNDED;
}

static struct peer_q *peer_q_new(long cap)
{
	(void)cap;
	return new (std::nothrow) peer_q;
}

static void peer_q_send(struct peer_q *q, uint64_t v)
{
	if (!q->q.enqueue(v))
		peer_die("moodycamel: enqueue failed (out of memory)");
}

static uint64_t peer_q_recv(struct peer_q *q)
{
	uint64_t v;

	q->q.wait_dequeue(v);
	return v;
}

static void peer_q_free(struct peer_q *q)
{
	uint64_t v;

	if (q->q.try_dequeue(v))
		peer_die("moodycamel: messages left in the queue after the run");
	delete q;
}

int main(int argc, char **argv)
{
	return peer_main("moodycamel", argc, argv);
}
