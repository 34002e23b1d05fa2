/* SPDX-License-Identifier: MIT */
/*
 * bench/ring_bench.c - the measurements behind two engine choices:
 *
 *   ring    bounded MPMC, no parking (both sides spin, then yield): our
 *           Vyukov ring (a CAS per operation, try_ semantics) against a
 *           fetch-and-add ticket ring (the design of folly's MPMCQueue and
 *           the FAA family: one FAA per operation, then wait for the slot's
 *           turn). P producers and P consumers, capacity 1024.
 *   list    unbounded MPMC: our block list against liburcu's wfcqueue
 *           (wait-free enqueue of a malloc'd node, dequeue under its lock).
 *
 * One line per run: "bench=<ring|list> impl=<name> threads=<p>x<p> msgs=<n>
 * ns_per_op=<x>"; medians of -r runs at the end.
 * Usage: ring_bench [-n msgs] [-r repeats]
 */
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <urcu/wfcqueue.h>

#include "bench_util.h"
#include <chan/clock.h>

#include "ring/list.h"
#include "ring/ring.h"

static long n_msgs = 2000000;
static int repeats = 3;

/* ---- the fetch-and-add ticket ring --------------------------------------- */

struct faa_slot {
	_Atomic uint64_t turn; /* pos: free for ticket pos; pos + 1: holds ticket pos */
	uint64_t val;
};

struct faa_ring {
	alignas(CHAN_CACHELINE) _Atomic uint64_t head;
	alignas(CHAN_CACHELINE) _Atomic uint64_t tail;
	alignas(CHAN_CACHELINE) uint64_t cap;
	struct faa_slot *slots;
};

static void faa_init(struct faa_ring *r, uint64_t cap)
{
	r->cap = cap;
	r->slots = aligned_alloc(64, cap * sizeof(struct faa_slot));
	for (uint64_t i = 0; i < cap; i++)
		atomic_init(&r->slots[i].turn, i);
	atomic_init(&r->head, 0);
	atomic_init(&r->tail, 0);
}

static void faa_push(struct faa_ring *r, uint64_t v)
{
	/* Relaxed: the ticket only orders producers among themselves; the
	 * data is published by the turn store. */
	uint64_t t = atomic_fetch_add_explicit(&r->tail, 1, memory_order_relaxed);
	struct faa_slot *s = &r->slots[t % r->cap];
	unsigned step = 0;

	/* Acquire: pairs with the consumer's release of the previous lap. */
	while (atomic_load_explicit(&s->turn, memory_order_acquire) != t)
		ring_backoff(&step);
	s->val = v;
	atomic_store_explicit(&s->turn, t + 1, memory_order_release);
}

static uint64_t faa_pop(struct faa_ring *r)
{
	uint64_t h = atomic_fetch_add_explicit(&r->head, 1, memory_order_relaxed);
	struct faa_slot *s = &r->slots[h % r->cap];
	unsigned step = 0;
	uint64_t v;

	while (atomic_load_explicit(&s->turn, memory_order_acquire) != h + 1)
		ring_backoff(&step);
	v = s->val;
	atomic_store_explicit(&s->turn, h + r->cap, memory_order_release);
	return v;
}

/* ---- the workloads ------------------------------------------------------ */

enum impl { VYUKOV, FAA, LIST, WFCQ };
static const char *const impl_name[] = { "vyukov_cas", "faa_ticket", "chan_list", "urcu_wfcq" };

struct wfcq_node {
	struct cds_wfcq_node node;
	uint64_t val;
};

struct shared {
	enum impl impl;
	struct ring *ring;
	struct faa_ring faa;
	struct list *list;
	struct cds_wfcq_head wh;
	struct cds_wfcq_tail wt;
	long per_thread;
	_Atomic uint64_t sum;
};

static void *producer(void *arg)
{
	struct shared *s = arg;

	for (long i = 1; i <= s->per_thread; i++) {
		uint64_t v = (uint64_t)i;
		unsigned step = 0;

		switch (s->impl) {
		case VYUKOV:
			while (ring_try_push_mpmc(s->ring, &v) != RING_OK)
				ring_backoff(&step);
			break;
		case FAA:
			faa_push(&s->faa, v);
			break;
		case LIST: {
			enum ring_status st;

			chan__list_push_burst(s->list, &v, 1, &st);
			break;
		}
		case WFCQ: {
			struct wfcq_node *n = malloc(sizeof(*n));

			cds_wfcq_node_init(&n->node);
			n->val = v;
			cds_wfcq_enqueue(&s->wh, &s->wt, &n->node);
			break;
		}
		}
	}
	return NULL;
}

static void *consumer(void *arg)
{
	struct shared *s = arg;
	uint64_t sum = 0, v = 0;

	for (long i = 0; i < s->per_thread; i++) {
		unsigned step = 0;

		switch (s->impl) {
		case VYUKOV:
			while (ring_try_pop_mpmc(s->ring, &v) != RING_OK)
				ring_backoff(&step);
			break;
		case FAA:
			v = faa_pop(&s->faa);
			break;
		case LIST: {
			enum ring_status st;

			while (chan__list_pop_burst(s->list, &v, 1, &st) == 0)
				ring_backoff(&step);
			break;
		}
		case WFCQ: {
			struct cds_wfcq_node *n;

			while (!(n = cds_wfcq_dequeue_blocking(&s->wh, &s->wt)))
				ring_backoff(&step);
			struct wfcq_node *w = caa_container_of(n, struct wfcq_node, node);
			v = w->val;
			free(w);
			break;
		}
		}
		sum += v;
	}
	atomic_fetch_add_explicit(&s->sum, sum, memory_order_relaxed);
	return NULL;
}

static double run(enum impl impl, int p)
{
	struct shared *s = aligned_alloc(CHAN_CACHELINE, sizeof(*s));
	pthread_t pt[16], ct[16];
	void *slots = NULL;
	int64_t t0;

	*s = (struct shared){ .impl = impl, .per_thread = n_msgs / p };
	if (impl == VYUKOV) {
		s->ring = aligned_alloc(CHAN_CACHELINE, sizeof(*s->ring));
		slots = calloc(1, chan__ring_storage_size(RING_MPMC, 8, 1024));
		chan__ring_init(s->ring, RING_MPMC, 8, 1024, slots);
	} else if (impl == FAA) {
		faa_init(&s->faa, 1024);
	} else if (impl == LIST) {
		s->list = aligned_alloc(CHAN_CACHELINE, sizeof(*s->list));
		chan__list_init(s->list, 8);
	} else {
		cds_wfcq_init(&s->wh, &s->wt);
	}
	t0 = chan_now();
	for (int i = 0; i < p; i++) {
		pthread_create(&ct[i], NULL, consumer, s);
		pthread_create(&pt[i], NULL, producer, s);
	}
	for (int i = 0; i < p; i++) {
		pthread_join(pt[i], NULL);
		pthread_join(ct[i], NULL);
	}
	double ns = (double)(chan_now() - t0) / (double)(s->per_thread * p);
	uint64_t want = (uint64_t)p * (uint64_t)s->per_thread * (uint64_t)(s->per_thread + 1) / 2;

	if (atomic_load(&s->sum) != want) {
		fprintf(stderr, "ring_bench: %s lost messages\n", impl_name[impl]);
		exit(1);
	}
	if (impl == VYUKOV) {
		free(s->ring);
		free(slots);
	} else if (impl == FAA) {
		free(s->faa.slots);
	} else if (impl == LIST) {
		chan__list_destroy(s->list, NULL, NULL);
		free(s->list);
	} else {
		cds_wfcq_destroy(&s->wh, &s->wt);
	}
	free(s);
	return ns;
}

int main(int argc, char **argv)
{
	static const int threads[] = { 1, 2, 4 };
	int opt;

	while ((opt = getopt(argc, argv, "n:r:")) != -1) {
		if (opt == 'n')
			n_msgs = atol(optarg);
		else if (opt == 'r')
			repeats = atoi(optarg);
		else
			return 2;
	}
	if (repeats < 1 || repeats > 15)
		return 2;
	for (int impl = VYUKOV; impl <= WFCQ; impl++) {
		for (size_t t = 0; t < 3; t++) {
			double v[15];

			for (int r = 0; r < repeats; r++)
				v[r] = run((enum impl)impl, threads[t]);
			printf("bench=%s impl=%s threads=%dx%d msgs=%ld median ns_per_op=%.1f\n",
			       impl <= FAA ? "ring" : "list", impl_name[impl], threads[t],
			       threads[t], n_msgs, bench_median(v, (size_t)repeats));
			fflush(stdout);
		}
	}
	return 0;
}
