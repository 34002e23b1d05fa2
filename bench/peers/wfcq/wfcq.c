/* SPDX-License-Identifier: MIT */
/*
 * bench/peers/wfcq/wfcq.c - peer "wfcq": liburcu's wait-free concurrent queue (cds_wfcq).
 *
 * Enqueue is wait-free; cds_wfcq_dequeue_blocking() takes the queue's internal dequeue
 * mutex (so several receivers may call it) and waits only for an enqueuer that is half-way
 * through linking its node. It returns NULL on an empty queue: the receiver then retries
 * after sched_yield(), there is no parking. Each message is its own malloc'd node, freed by
 * the receiver, which is how the queue is used for real.
 *
 * Called through liburcu's exported functions only (no _LGPL_SOURCE). Unbounded only: the
 * bounded rows (0, 1, N) and the select rows print n/a. Workloads: common/peer.h.
 */
#include <sched.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <urcu/compiler.h>
#include <urcu/wfcqueue.h>

#include "../common/peer.h"

#define WFCQ_PEER_ALIGN 64

struct peer_q {
	struct cds_wfcq_head head;			/* receivers' end, with the dequeue lock */
	alignas(WFCQ_PEER_ALIGN) struct cds_wfcq_tail tail;	/* senders' end */
};

struct wfcq_msg {
	struct cds_wfcq_node node;
	uint64_t v;
};

static bool peer_q_supports(long cap)
{
	return cap == PEER_CAP_UNBOUNDED;
}

static struct peer_q *peer_q_new(long cap)
{
	struct peer_q *q = aligned_alloc(WFCQ_PEER_ALIGN, sizeof(*q));

	(void)cap;
	if (q == NULL)
		return NULL;
	cds_wfcq_init(&q->head, &q->tail);
	return q;
}

static void peer_q_send(struct peer_q *q, uint64_t v)
{
	struct wfcq_msg *m = malloc(sizeof(*m));

	if (m == NULL)
		peer_die("wfcq: out of memory");
	cds_wfcq_node_init(&m->node);
	m->v = v;
	cds_wfcq_enqueue(&q->head, &q->tail, &m->node);
}

static uint64_t peer_q_recv(struct peer_q *q)
{
	struct cds_wfcq_node *n;
	struct wfcq_msg *m;
	uint64_t v;

	while ((n = cds_wfcq_dequeue_blocking(&q->head, &q->tail)) == NULL)
		sched_yield();	/* empty */
	m = caa_container_of(n, struct wfcq_msg, node);
	v = m->v;
	free(m);
	return v;
}

static void peer_q_free(struct peer_q *q)
{
	if (!cds_wfcq_empty(&q->head, &q->tail))
		peer_die("wfcq: messages left in the queue after the run");
	cds_wfcq_destroy(&q->head, &q->tail);
	free(q);
}

int main(int argc, char **argv)
{
	return peer_main("wfcq", argc, argv);
}
