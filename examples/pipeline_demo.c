/* SPDX-License-Identifier: MIT */
/*
 * examples/pipeline_demo.c - a three-stage pipeline over channels:
 *
 *   generator --(cap 1024)--> 4 squarers --(cap 1024)--> summer
 *
 * The generator closes its channel when done; the last squarer to finish
 * closes the next one (a counter stands in for a wait group); the summer
 * checks the total, so the demo also proves nothing was lost.
 * Usage: pipeline_demo [messages]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <chan/chan.h>

#define WORKERS 4

static chan_t *numbers, *squares;
static _Atomic int workers_left = WORKERS;

static void *squarer(void *arg)
{
	uint64_t v;

	(void)arg;
	while (chan_recv(numbers, &v) == 0) {
		v *= v;
		chan_send(squares, &v);
	}
	if (atomic_fetch_sub(&workers_left, 1) == 1)
		chan_close(squares); /* the last worker out closes downstream */
	return NULL;
}

static void *generate(void *arg)
{
	uint64_t n = *(const uint64_t *)arg;

	for (uint64_t i = 1; i <= n; i++)
		chan_send(numbers, &i);
	chan_close(numbers); /* tells the squarers there is no more */
	return NULL;
}

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 2000000, sum = 0, want = 0, v;
	pthread_t workers[WORKERS];
	int64_t t0;

	numbers = chan_new(sizeof(uint64_t), 1024);
	squares = chan_new(sizeof(uint64_t), 1024);
	if (!numbers || !squares) {
		perror("chan_new");
		return 1;
	}
	t0 = chan_now();
	for (int i = 0; i < WORKERS; i++)
		pthread_create(&workers[i], NULL, squarer, NULL);

	/* The generator runs in its own thread so that main can sum. */
	pthread_t gen;
	pthread_create(&gen, NULL, generate, &n);

	while (chan_recv(squares, &v) == 0)
		sum += v;
	pthread_join(gen, NULL);
	for (int i = 0; i < WORKERS; i++)
		pthread_join(workers[i], NULL);

	double secs = (double)(chan_now() - t0) / 1e9;
	for (uint64_t i = 1; i <= n; i++)
		want += i * i;
	printf("pipeline: %llu numbers through generator -> %d squarers -> summer\n",
	       (unsigned long long)n, WORKERS);
	printf("pipeline: %.3f s, %.2f M messages/s over two channels, sum %s\n", secs,
	       2.0 * (double)n / secs / 1e6, sum == want ? "correct" : "WRONG");
	chan_release(numbers);
	chan_release(squares);
	return sum == want ? 0 : 1;
}
