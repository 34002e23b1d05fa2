/* SPDX-License-Identifier: MIT */
/*
 * tests/common/thread_state.h - "is that thread asleep in the kernel?", for
 * tests that must act only once another thread is blocked (parked on a
 * futex), without a sleep that guesses how long getting there takes.
 *
 * A thread that spins or is preempted is 'R', never 'S', so "'S' for
 * @samples samples in a row, 1 ms apart" means it is parked. Linux only
 * (/proc/self/task/TID/stat).
 */
#ifndef CHAN_TESTS_THREAD_STATE_H
#define CHAN_TESTS_THREAD_STATE_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The calling thread's kernel id, to hand to another thread. */
static inline long test_gettid(void)
{
	return (long)syscall(SYS_gettid);
}

/* The scheduler state of thread @tid of this process ('R', 'S', ...), or 0. */
static inline char test_thread_state(long tid)
{
	char path[64], state = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%ld/stat", tid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	/* "tid (comm) S ...": the state follows the last ')'. */
	if (fscanf(f, "%*d (%*[^)]) %c", &state) != 1)
		state = 0;
	fclose(f);
	return state;
}

/*
 * Wait until thread @tid has been asleep ('S') for @samples samples in a
 * row, 1 ms apart, or @max_ms have passed. Returns whether it was.
 */
static inline bool test_wait_asleep(long tid, int samples, int max_ms)
{
	int sleeping = 0;

	for (int i = 0; i < max_ms && sleeping < samples; i++) {
		struct timespec ms = { 0, 1000000 };

		sleeping = test_thread_state(tid) == 'S' ? sleeping + 1 : 0;
		nanosleep(&ms, NULL);
	}
	return sleeping >= samples;
}

#endif /* CHAN_TESTS_THREAD_STATE_H */
