/* SPDX-License-Identifier: MIT */
/*
 * examples/pipeline.c - the seed's pipeline(): generator -> fan-out to 3
 * workers -> fan-in -> print.
 *
 *	func pipeline() {
 *		nums := generator(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
 *		workers := fanOut(nums, 3)      // worker: heavyComputation (n*n)
 *		results := fanIn(workers...)
 *		var all []int
 *		for r := range results {
 *			all = append(all, r)
 *		}
 *		sort.Ints(all) // arrival order varies: sorted, so it can be checked
 *		for _, r := range all {
 *			fmt.Println(r)
 *		}
 *	}
 *
 * A pipeline is nested stage calls on one group; each stage holds its own
 * references, so the intermediate channels are released at once. Had a
 * worker failed (a negative return), the group would be canceled: every
 * stage stops, every output closes, and chan_group_wait() returns the error.
 * For one output with three workers, chan_map(.workers = 3) is the shorter
 * form of fan-out + fan-in (no merge hop).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <chan/chan.h>

static int heavy_computation(const void *in, void *out, void *arg)
{
	int n = *(const int *)in;

	(void)arg;
	nanosleep(&(struct timespec){ .tv_nsec = 5 * 1000 * 1000 }, NULL);
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
	const int nums[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
	chan_t *gen, *workers[3], *results;
	int all[10], n = 0, v, err;

	if (!g)
		return 1;
	gen = chan_generate(g, nums, 10, &(chan_opts_t){ .elem_size = sizeof(int) });
	if (!gen || chan_fan_out(g, gen, 3, heavy_computation, NULL, NULL, workers) != 0)
		return 1;
	results = chan_merge(g, workers, 3, NULL);
	if (!results)
		return 1;
	chan_release(gen);
	for (int i = 0; i < 3; i++)
		chan_release(workers[i]);
	while (chan_recv(results, &v) == 0)
		all[n++] = v;
	qsort(all, (size_t)n, sizeof(int), cmp_int);
	for (int i = 0; i < n; i++)
		printf("%d\n", all[i]);
	chan_release(results);
	err = chan_group_wait(g);
	chan_group_destroy(g);
	return err != 0;
}
