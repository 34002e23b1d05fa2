/* SPDX-License-Identifier: MIT */
/*
 * examples/fan_out.c - the seed's fanOut: one input, several workers, an
 * output channel per worker.
 *
 *	func heavyComputation(n int) int {
 *		time.Sleep(10 * time.Millisecond)
 *		return n * n
 *	}
 *
 *	func worker(input <-chan int) <-chan int {
 *		output := make(chan int)
 *		go func() {
 *			for n := range input {
 *				output <- heavyComputation(n)
 *			}
 *			close(output)
 *		}()
 *		return output
 *	}
 *
 *	func fanOut(input <-chan int, workers int) []<-chan int {
 *		outputs := make([]<-chan int, workers)
 *		for i := 0; i < workers; i++ {
 *			outputs[i] = worker(input)
 *		}
 *		return outputs
 *	}
 *
 *	func main() {
 *		outputs := fanOut(generator(1, 2, 3, 4, 5, 6, 7, 8, 9), 3)
 *		var results []int
 *		cases := make([]reflect.SelectCase, len(outputs)) // select over all
 *		...                                                // until all closed
 *		sort.Ints(results) // arrival order varies: sorted, so it can be checked
 *		fmt.Println(results, "from", len(outputs), "workers")
 *	}
 *
 * chan_fan_out() starts the workers; each output closes when its worker is
 * done. The outputs are read with one chan_select() over all of them, a
 * closed one becoming a NULL case, as Go's select over nil channels.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <chan/chan.h>

#define WORKERS 3

static int heavy_computation(const void *in, void *out, void *arg)
{
	int n = *(const int *)in;

	(void)arg;
	nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
	*(int *)out = n * n;
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

int main(void)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());
	const int nums[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	chan_t *input, *outputs[WORKERS];
	chan_case_t cases[WORKERS];
	int results[9], n = 0, v, live = WORKERS, err;

	if (!g)
		return 1;
	input = chan_generate(g, nums, 9, &(chan_opts_t){ .elem_size = sizeof(int) });
	if (!input || chan_fan_out(g, input, WORKERS, heavy_computation, NULL, NULL, outputs)) {
		perror("fan_out");
		return 1;
	}
	chan_release(input); /* the workers hold their own reference */
	for (int i = 0; i < WORKERS; i++)
		cases[i] = (chan_case_t){ .chan = outputs[i], .op = CHAN_OP_RECV, .elem = &v };
	while (live > 0) {
		int i = chan_select(cases, WORKERS);

		if (cases[i].err == -EPIPE) { /* closed: never ready again */
			cases[i].chan = NULL;
			live--;
			continue;
		}
		results[n++] = v;
	}
	qsort(results, (size_t)n, sizeof(int), cmp_int);
	printf("[");
	for (int i = 0; i < n; i++)
		printf(i ? " %d" : "%d", results[i]);
	printf("] from %d workers\n", WORKERS);
	for (int i = 0; i < WORKERS; i++)
		chan_release(outputs[i]);
	err = chan_group_wait(g);
	chan_group_destroy(g);
	return err != 0;
}
