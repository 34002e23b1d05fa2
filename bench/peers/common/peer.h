/* SPDX-License-Identifier: MIT */
/*
 * bench/peers/common/peer.h - the crossbeam-channel workloads for the peers that are plain
 * queues without select (ck_ring, wfcq, moodycamel, mutex), in C that also compiles as C++.
 *
 * A peer defines five hooks on its own queue type and calls peer_main():
 *
 *   static bool peer_q_supports(long cap);         cap: 0, 1, N (= msgs) or PEER_CAP_UNBOUNDED
 *   static struct peer_q *peer_q_new(long cap);    NULL only on allocation failure
 *   static void peer_q_send(struct peer_q *q, uint64_t v);   blocks (or spins) while full
 *   static uint64_t peer_q_recv(struct peer_q *q);           blocks (or spins) while empty
 *   static void peer_q_free(struct peer_q *q);     the queue is empty when this is called
 *
 * Usage (identical for every peer): <binary> <scenario> <cap> <threads> <msgs>
 *   scenario  seq | spsc | mpsc | mpmc | select_rx | select_both | pingpong | select_shared
 *   cap       0 | 1 | N | unbounded   (N means a capacity of <msgs>)
 * Prints one line, "impl=... scenario=... cap=... threads=... msgs=... secs=<s|n/a>", plus
 * " ns_per_op=<x>" for pingpong (per round trip). Exits 0 on a run or n/a, 1 when a check
 * failed (lost, doubled or corrupted messages), 2 on a usage error.
 *
 * Termination: every receiver has a quota (crossbeam's benchmarks do the same), so no close
 * and no "done" flag is needed to end a run; the quotas add up to exactly what the senders
 * send. Senders send 1..count, so the receivers' sums can be checked.
 */
#ifndef PEER_H
#define PEER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PEER_CAP_UNBOUNDED (-1L)
#define PEER_MAX_THREADS 256

struct peer_q;
static bool peer_q_supports(long cap);
static struct peer_q *peer_q_new(long cap);
static void peer_q_send(struct peer_q *q, uint64_t v);
static uint64_t peer_q_recv(struct peer_q *q);
static void peer_q_free(struct peer_q *q);

/* One thread of a workload: sends 1..count on @q, or receives count values from @q. */
struct peer_worker {
	pthread_t tid;
	struct peer_q *q;
	struct peer_q *back;	/* pingpong: the channel going the other way */
	uint64_t count;
	uint64_t sum;		/* receivers: sum of what they got; pingpong: last value */
};

/* Plain assignments: the file also compiles as C++, which has no compound literals. */
static void peer_worker_init(struct peer_worker *w, struct peer_q *q, struct peer_q *back,
			     uint64_t count)
{
	w->q = q;
	w->back = back;
	w->count = count;
	w->sum = 0;
}

static void peer_die(const char *what)
{
	fprintf(stderr, "peer: %s\n", what);
	exit(1);
}

static int64_t peer_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *peer_sender(void *arg)
{
	struct peer_worker *w = (struct peer_worker *)arg;

	for (uint64_t i = 1; i <= w->count; i++)
		peer_q_send(w->q, i);
	return NULL;
}

static void *peer_receiver(void *arg)
{
	struct peer_worker *w = (struct peer_worker *)arg;
	uint64_t sum = 0;

	for (uint64_t i = 0; i < w->count; i++)
		sum += peer_q_recv(w->q);
	w->sum = sum;
	return NULL;
}

/* pingpong side A: sends v, gets v + 1 back; the data dependency keeps rounds serial. */
static void *peer_ping(void *arg)
{
	struct peer_worker *w = (struct peer_worker *)arg;
	uint64_t v = 0;

	for (uint64_t i = 0; i < w->count; i++) {
		peer_q_send(w->q, v);
		v = peer_q_recv(w->back);
	}
	w->sum = v;
	return NULL;
}

/* pingpong side B: echoes every value back, incremented. */
static void *peer_pong(void *arg)
{
	struct peer_worker *w = (struct peer_worker *)arg;

	for (uint64_t i = 0; i < w->count; i++)
		peer_q_send(w->back, peer_q_recv(w->q) + 1);
	return NULL;
}

static void peer_start(struct peer_worker *w, void *(*fn)(void *))
{
	if (pthread_create(&w->tid, NULL, fn, w) != 0)
		peer_die("pthread_create failed");
}

/* 1 + 2 + ... + n, modulo 2^64 like the receivers' sums. */
static uint64_t peer_tri(uint64_t n)
{
	return n % 2 == 0 ? (n / 2) * (n + 1) : n * ((n + 1) / 2);
}

static struct peer_q *peer_new_or_die(long cap)
{
	struct peer_q *q = peer_q_new(cap);

	if (q == NULL)
		peer_die("cannot create the queue");
	return q;
}

/*
 * Runs @scenario once; returns the wall time of the message-moving phase in ns and sets
 * *@ops to the count that ns_per_op divides by. Returns -1 for a row this peer cannot run.
 */
static int64_t peer_run(const char *scenario, long cap, int threads, uint64_t msgs,
			uint64_t *ops)
{
	static struct peer_worker w[2 * PEER_MAX_THREADS];
	uint64_t per = msgs / (uint64_t)threads;	/* each of T threads moves per */
	uint64_t want, sum = 0;
	struct peer_q *q, *back;
	int64_t t0, t1;

	*ops = msgs;
	if (strcmp(scenario, "seq") == 0) {
		/* One thread fills the queue, then drains it: needs room for all msgs. */
		if (cap == 0 || cap == 1 || !peer_q_supports(cap))
			return -1;
		q = peer_new_or_die(cap);
		t0 = peer_now_ns();
		for (uint64_t i = 1; i <= msgs; i++)
			peer_q_send(q, i);
		for (uint64_t i = 0; i < msgs; i++)
			sum += peer_q_recv(q);
		t1 = peer_now_ns();
		peer_q_free(q);
		if (sum != peer_tri(msgs))
			peer_die("seq: wrong sum of received values");
		return t1 - t0;
	}
	if (strcmp(scenario, "pingpong") == 0) {
		uint64_t rounds = msgs / 10 > 0 ? msgs / 10 : 1;

		if (!peer_q_supports(cap))
			return -1;
		q = peer_new_or_die(cap);
		back = peer_new_or_die(cap);
		peer_worker_init(&w[0], q, back, rounds);
		peer_worker_init(&w[1], q, back, rounds);
		t0 = peer_now_ns();
		peer_start(&w[0], peer_ping);
		peer_start(&w[1], peer_pong);
		pthread_join(w[0].tid, NULL);
		pthread_join(w[1].tid, NULL);
		t1 = peer_now_ns();
		peer_q_free(q);
		peer_q_free(back);
		if (w[0].sum != rounds)
			peer_die("pingpong: lost a round trip");
		*ops = rounds;
		return t1 - t0;
	}

	int nsend, nrecv;
	uint64_t send_count, recv_count;

	if (strcmp(scenario, "spsc") == 0) {
		nsend = 1, nrecv = 1, send_count = msgs, recv_count = msgs;
	} else if (strcmp(scenario, "mpsc") == 0) {
		nsend = threads, nrecv = 1, send_count = per, recv_count = per * threads;
	} else if (strcmp(scenario, "mpmc") == 0) {
		nsend = threads, nrecv = threads, send_count = per, recv_count = per;
	} else {
		return -1;	/* select_rx, select_both, select_shared: no select */
	}
	if (!peer_q_supports(cap))
		return -1;
	q = peer_new_or_die(cap);
	for (int i = 0; i < nrecv; i++)
		peer_worker_init(&w[i], q, NULL, recv_count);
	for (int i = 0; i < nsend; i++)
		peer_worker_init(&w[nrecv + i], q, NULL, send_count);
	t0 = peer_now_ns();
	for (int i = 0; i < nrecv; i++)
		peer_start(&w[i], peer_receiver);
	for (int i = 0; i < nsend; i++)
		peer_start(&w[nrecv + i], peer_sender);
	for (int i = 0; i < nrecv + nsend; i++)
		pthread_join(w[i].tid, NULL);
	t1 = peer_now_ns();
	peer_q_free(q);
	for (int i = 0; i < nrecv; i++)
		sum += w[i].sum;
	want = peer_tri(send_count) * (uint64_t)nsend;
	if (sum != want)
		peer_die("wrong sum of received values (lost, doubled or corrupted messages)");
	return t1 - t0;
}

static int peer_usage(const char *impl)
{
	fprintf(stderr,
		"usage: %s <seq|spsc|mpsc|mpmc|select_rx|select_both|pingpong|select_shared> "
		"<0|1|N|unbounded> <threads> <msgs>\n", impl);
	return 2;
}

static int peer_main(const char *impl, int argc, char **argv)
{
	static const char *const scenarios[] = { "seq", "spsc", "mpsc", "mpmc", "select_rx",
						 "select_both", "pingpong", "select_shared" };
	const char *scenario, *cap_arg;
	bool known = false;
	uint64_t msgs, ops;
	char *end;
	int64_t ns;
	long cap;
	long threads;

	if (argc != 5)
		return peer_usage(impl);
	scenario = argv[1];
	cap_arg = argv[2];
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		known |= strcmp(scenario, scenarios[i]) == 0;
	threads = strtol(argv[3], &end, 10);
	if (!known || *end != '\0' || threads < 1 || threads > PEER_MAX_THREADS)
		return peer_usage(impl);
	msgs = strtoull(argv[4], &end, 10);
	if (*end != '\0' || msgs < (uint64_t)threads || msgs > (1ULL << 31))
		return peer_usage(impl);
	if (strcmp(cap_arg, "0") == 0)
		cap = 0;
	else if (strcmp(cap_arg, "1") == 0)
		cap = 1;
	else if (strcmp(cap_arg, "N") == 0)
		cap = (long)msgs;
	else if (strcmp(cap_arg, "unbounded") == 0)
		cap = PEER_CAP_UNBOUNDED;
	else
		return peer_usage(impl);

	ns = peer_run(scenario, cap, (int)threads, msgs, &ops);
	printf("impl=%s scenario=%s cap=%s threads=%ld msgs=%llu secs=", impl, scenario, cap_arg,
	       threads, (unsigned long long)msgs);
	if (ns < 0)
		printf("n/a\n");
	else if (strcmp(scenario, "pingpong") == 0)
		printf("%.6f ns_per_op=%.1f\n", ns / 1e9, (double)ns / (double)ops);
	else
		printf("%.6f\n", ns / 1e9);
	return 0;
}

#endif /* PEER_H */
