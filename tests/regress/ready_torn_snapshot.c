/* SPDX-License-Identifier: MIT */
/*
 * tests/regress/ready_torn_snapshot.c - a lost wakeup found by the Promela
 * model (tests/model, issue 10): a buffered receiver slept while a value sat
 * in the ring.
 *
 * A waiter's re-check, chan__ring_recv_ready(), loaded tail and then head.
 * Between the two loads another receiver could pop, so the pair (old tail,
 * new head) said "empty" although the ring was never empty at any instant
 * in between. The trace (capacity 2, one sender, receivers R1 and R2):
 *   1. R1 and R2 find the ring empty and are about to queue;
 *   2. the sender pushes v1; nobody is queued yet, so it wakes nobody;
 *   3. R1 queues, re-checks: ready (v1); it has not aborted its wait yet;
 *   4. R2 queues, re-checks: loads tail (1) ...
 *   5. the sender pushes v2, finds two waiters and claims the first, R1;
 *   6. R1's abort loses to that claim; it wakes and pops v1;
 *   7. ... R2 loads head (1): tail == head, "not ready": R2 parks, and v2
 *      stays in the ring with nobody to take it.
 * The fix loads the waiter's own word first (head for a receiver, tail for a
 * sender) and then the other: "not ready" is then true at the instant of the
 * second load. The same reasoning applies to chan__ring_send_ready() and to
 * the unbounded list's re-check.
 *
 * The test replays the trace exactly, with the protocol-window hooks (so it
 * is built only where they are compiled in: the debug and tsan presets).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <string.h>
#include <time.h>

#include <chan/chan.h>

#include "core/debug_pvt.h"
#include "ring/slots.h"

enum { MAIN = 0, R1, R2, ROLES };

static _Thread_local int role;
static _Thread_local bool in_recheck;
static sem_t arrived[ROLES], gate[ROLES], done[ROLES];

/* Tell the main thread we are at a step, and wait for its go. */
static void stop_here(void)
{
	sem_post(&arrived[role]);
	while (sem_wait(&gate[role]) != 0)
		;
}

static void core_hook(const char *where)
{
	if (role == MAIN)
		return;
	if (strcmp(where, "buffered: spun, before queueing") == 0)
		stop_here();
	else if (strcmp(where, "buffered: queued, before the re-check") == 0)
		in_recheck = true;
	else if (role == R1 && strcmp(where, "buffered: re-check said ready, before the abort") == 0)
		stop_here();
}

static void ring_hook(struct ring *r, const char *where)
{
	(void)r;
	/* R2 stops between the two loads of its re-check (not while it spins). */
	if (role == R2 && in_recheck && strcmp(where, "recv_ready: between the loads") == 0) {
		in_recheck = false;
		stop_here();
	}
}

struct receiver {
	int role;
	chan_t *c;
	long got;
	int r;
};

static void *receive(void *arg)
{
	struct receiver *rx = arg;

	role = rx->role;
	rx->r = chan_recv(rx->c, &rx->got);
	sem_post(&done[role]);
	return NULL;
}

static void wait_for(sem_t *s)
{
	while (sem_wait(s) != 0)
		;
}

static bool wait_for_ms(sem_t *s, long ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	while (sem_timedwait(s, &ts) != 0)
		if (errno == ETIMEDOUT)
			return false;
	return true;
}

Test(ready_torn_snapshot, receiver_never_sleeps_on_a_value)
{
	chan_t *c = chan_new(sizeof(long), 2);
	struct receiver r1 = { R1, c, 0, 1 }, r2 = { R2, c, 0, 1 };
	pthread_t t1, t2;
	long v1 = 1, v2 = 2;
	bool r2_done;
	size_t left;

	for (int i = 0; i < ROLES; i++) {
		sem_init(&arrived[i], 0, 0);
		sem_init(&gate[i], 0, 0);
		sem_init(&done[i], 0, 0);
	}
	chan__debug_hook = core_hook;
	chan__ring_debug_hook = ring_hook;

	/* 1. Both receivers find the ring empty, spin, and stop before queueing. */
	pthread_create(&t1, NULL, receive, &r1);
	wait_for(&arrived[R1]);
	pthread_create(&t2, NULL, receive, &r2);
	wait_for(&arrived[R2]);
	/* 2. v1: nobody is queued, nobody is woken. */
	cr_assert_eq(chan_send(c, &v1), 0);
	/* 3. R1 queues and re-checks: ready; it stops before its abort. */
	sem_post(&gate[R1]);
	wait_for(&arrived[R1]);
	/* 4. R2 queues and stops between the two loads of its re-check. */
	sem_post(&gate[R2]);
	wait_for(&arrived[R2]);
	/* 5. v2: two waiters queued, the first (R1) is claimed. */
	cr_assert_eq(chan_send(c, &v2), 0);
	/* 6. R1's abort loses; it wakes and pops v1. */
	sem_post(&gate[R1]);
	cr_assert(wait_for_ms(&done[R1], 10000), "R1 did not return");
	pthread_join(t1, NULL);
	cr_assert_eq(r1.r, 0);
	cr_assert_eq(r1.got, 1);
	/* 7. R2 finishes its re-check: it must see v2 (or be woken for it). */
	sem_post(&gate[R2]);
	r2_done = wait_for_ms(&done[R2], 2000);
	left = chan_len(c);
	chan__debug_hook = NULL;
	chan__ring_debug_hook = NULL;
	if (!r2_done)
		chan_close(c); /* free R2 so that the process can end */
	pthread_join(t2, NULL);
	cr_assert(r2_done, "lost wakeup: R2 slept for 2 s while v2 sat in the ring (len %zu)",
		  left);
	cr_assert_eq(r2.r, 0);
	cr_assert_eq(r2.got, 2);
	chan_release(c);
}
