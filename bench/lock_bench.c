/* SPDX-License-Identifier: MIT */
/*
 * bench/lock_bench.c - the channel lock (core/lock_pvt.h) against
 * ConcurrencyKit's queue locks, ck_spinlock_ticket and ck_spinlock_mcs, and
 * glibc's pthread_mutex as a reference.
 *
 * The workload is the one the channel lock sees: short critical sections
 * (a few list operations: here, four stores over two shared cache lines and
 * a counter) between bursts of work outside the lock, by T threads at once.
 * With T above the number of CPUs, a FIFO spinlock hands the lock to
 * waiters that may not be running (the ticket and MCS locks), while ours
 * lets whoever runs take it and sleeps the others on a futex: that is the
 * case that decides (issue 11: "8 threads on 2 cores").
 *
 * One line per (lock, T): "lock=<l> threads=<t> median ns_per_op=<x>"
 * (wall time over the acquisitions made, median of the repeats). A run stops
 * after -s seconds even if not done (a FIFO spinlock with more threads than
 * CPUs can take minutes); "capped=<k>" then says how many repeats were cut.
 * Usage: lock_bench [-n acquisitions per thread] [-r repeats] [-w outside pauses]
 *                   [-s seconds per run]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <ck_spinlock.h>

#include "bench_util.h"

#include "core/lock_pvt.h"

enum lock_kind { LK_CHAN, LK_TICKET, LK_MCS, LK_PTHREAD, LK_KINDS };

static const char *const lock_names[LK_KINDS] = { "chan", "ck_ticket", "ck_mcs", "pthread" };

static long n_ops = 200000;
static int repeats = 5;
static int outside = 2; /* pause instructions between acquisitions */
static double cap_s = 3;
static atomic_bool stop;	 /* relaxed: a hint to end early, read every op */
static atomic_int finished; /* threads done: release, main acquires */

/* What the critical section touches: two lines, as a list unlink + link. */
static struct {
	_Alignas(64) struct chan__lock chan;
	_Alignas(64) ck_spinlock_ticket_t ticket;
	_Alignas(64) ck_spinlock_mcs_t mcs;
	_Alignas(64) pthread_mutex_t mutex;
	_Alignas(64) volatile uint64_t line_a[8];
	_Alignas(64) volatile uint64_t line_b[8];
	uint64_t count;
} shared = { .ticket = CK_SPINLOCK_TICKET_INITIALIZER, .mutex = PTHREAD_MUTEX_INITIALIZER };

struct arg {
	enum lock_kind kind;
	pthread_barrier_t *start;
};

static void critical(void)
{
	/* Under the lock: plain accesses are ordered by its acquire/release. */
	shared.line_a[0] = shared.count;
	shared.line_a[1] = shared.line_b[0];
	shared.line_b[0] = shared.count + 1;
	shared.line_b[1] = shared.line_a[2];
	shared.count++;
}

static void *worker(void *p)
{
	struct arg *a = p;
	ck_spinlock_mcs_context_t node;

	pthread_barrier_wait(a->start);
	for (long i = 0; i < n_ops; i++) {
		if (atomic_load_explicit(&stop, memory_order_relaxed))
			break;
		switch (a->kind) {
		case LK_CHAN:
			chan__lock_acquire(&shared.chan);
			critical();
			chan__lock_release(&shared.chan);
			break;
		case LK_TICKET:
			ck_spinlock_ticket_lock(&shared.ticket);
			critical();
			ck_spinlock_ticket_unlock(&shared.ticket);
			break;
		case LK_MCS:
			ck_spinlock_mcs_lock(&shared.mcs, &node);
			critical();
			ck_spinlock_mcs_unlock(&shared.mcs, &node);
			break;
		default:
			pthread_mutex_lock(&shared.mutex);
			critical();
			pthread_mutex_unlock(&shared.mutex);
			break;
		}
		for (int k = 0; k < outside; k++)
			chan__cpu_relax();
	}
	/* Release: pairs with the acquire in run_once(); only a count. */
	atomic_fetch_add_explicit(&finished, 1, memory_order_release);
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ns per acquisition, over all threads, of one run; *@capped set if cut short. */
static double run_once(enum lock_kind kind, int threads, bool *capped)
{
	struct timespec tick = { 0, 1000000 };
	pthread_t tid[64];
	pthread_barrier_t start;
	struct arg a = { .kind = kind, .start = &start };
	double t0, t1;
	int made = 0;

	shared.count = 0;
	atomic_store_explicit(&stop, false, memory_order_relaxed);
	atomic_store_explicit(&finished, 0, memory_order_relaxed);
	if (pthread_barrier_init(&start, NULL, (unsigned)threads + 1)) {
		fprintf(stderr, "lock_bench: pthread_barrier_init failed\n");
		exit(1);
	}
	for (; made < threads; made++)
		if (pthread_create(&tid[made], NULL, worker, &a))
			break;
	if (made < threads) {
		fprintf(stderr, "lock_bench: pthread_create failed\n");
		exit(1); /* the barrier would never open */
	}
	pthread_barrier_wait(&start);
	t0 = now_s();
	*capped = false;
	while (atomic_load_explicit(&finished, memory_order_acquire) < threads) {
		if (now_s() - t0 > cap_s) {
			*capped = true;
			atomic_store_explicit(&stop, true, memory_order_relaxed);
			break;
		}
		nanosleep(&tick, NULL);
	}
	for (int i = 0; i < threads; i++)
		pthread_join(tid[i], NULL);
	t1 = now_s();
	pthread_barrier_destroy(&start);
	if (*capped)
		return (t1 - t0) * 1e9 / (double)(shared.count ? shared.count : 1);
	if (shared.count != (uint64_t)n_ops * (uint64_t)threads) {
		fprintf(stderr, "lock_bench: %s lost updates (%llu of %llu)\n", lock_names[kind],
			(unsigned long long)shared.count,
			(unsigned long long)n_ops * (unsigned long long)threads);
		exit(1);
	}
	return (t1 - t0) * 1e9 / ((double)n_ops * threads);
}

int main(int argc, char **argv)
{
	static const int thread_counts[] = { 1, 2, 4, 8 };
	double v[64];
	int opt;

	while ((opt = getopt(argc, argv, "n:r:w:s:")) != -1) {
		switch (opt) {
		case 'n':
			n_ops = atol(optarg);
			break;
		case 'r':
			repeats = atoi(optarg);
			break;
		case 'w':
			outside = atoi(optarg);
			break;
		case 's':
			cap_s = atof(optarg);
			break;
		default:
			fprintf(stderr, "usage: lock_bench [-n ops per thread] [-r repeats] [-w pauses] [-s secs]\n");
			return 2;
		}
	}
	if (n_ops <= 0 || repeats <= 0 || repeats > 64 || outside < 0 || !(cap_s > 0)) {
		fprintf(stderr, "lock_bench: bad argument\n");
		return 2;
	}
	chan__lock_init(&shared.chan);
	ck_spinlock_mcs_init(&shared.mcs);
	for (size_t t = 0; t < sizeof(thread_counts) / sizeof(thread_counts[0]); t++) {
		/* Interleave the locks within each repeat, so drift hits all alike. */
		double res[LK_KINDS][64];
		int cut[LK_KINDS] = { 0 };

		for (int r = 0; r < repeats; r++)
			for (int k = 0; k < LK_KINDS; k++) {
				bool capped;

				res[k][r] = run_once((enum lock_kind)k, thread_counts[t], &capped);
				cut[k] += capped;
			}
		for (int k = 0; k < LK_KINDS; k++) {
			for (int r = 0; r < repeats; r++)
				v[r] = res[k][r];
			printf("lock=%s threads=%d median ns_per_op=%.1f capped=%d\n", lock_names[k],
			       thread_counts[t], bench_median(v, (size_t)repeats), cut[k]);
			fflush(stdout);
		}
	}
	return 0;
}
