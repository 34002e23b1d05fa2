/* SPDX-License-Identifier: MIT */
/*
 * examples/fan_in.c - Go's fan-in (merge), from "Go Concurrency Patterns:
 * Pipelines and cancellation":
 *
 *	func merge(cs ...<-chan int) <-chan int {
 *		var wg sync.WaitGroup
 *		out := make(chan int)
 *		output := func(c <-chan int) {
 *			for n := range c {
 *				out <- n
 *			}
 *			wg.Done()
 *		}
 *		wg.Add(len(cs))
 *		for _, c := range cs {
 *			go output(c)
 *		}
 *		go func() {
 *			wg.Wait()
 *			close(out)
 *		}()
 *		return out
 *	}
 *
 *	func main() {
 *		out := merge(generator(1, 2, 3), generator(10, 20, 30), generator(100, 200, 300))
 *		var got []int
 *		for n := range out {
 *			got = append(got, n)
 *		}
 *		sort.Ints(got) // arrival order varies: sorted, so it can be checked
 *		fmt.Println(got)
 *	}
 *
 * chan_merge() is one task selecting over all its inputs (not a goroutine
 * per input plus a closer): the output closes when every input is closed
 * and drained.
 */
#include <stdio.h>
#include <stdlib.h>

#include <chan/chan.h>

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

int main(void)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());
	const int a[] = { 1, 2, 3 }, b[] = { 10, 20, 30 }, c[] = { 100, 200, 300 };
	const chan_opts_t ints = { .elem_size = sizeof(int) };
	chan_t *ins[3], *out;
	int got[9], n = 0, v, err;

	if (!g)
		return 1;
	ins[0] = chan_generate(g, a, 3, &ints);
	ins[1] = chan_generate(g, b, 3, &ints);
	ins[2] = chan_generate(g, c, 3, &ints);
	out = chan_merge(g, ins, 3, NULL);
	if (!ins[0] || !ins[1] || !ins[2] || !out) {
		perror("merge");
		return 1;
	}
	for (int i = 0; i < 3; i++)
		chan_release(ins[i]);
	while (chan_recv(out, &v) == 0)
		got[n++] = v;
	qsort(got, (size_t)n, sizeof(int), cmp_int);
	printf("[");
	for (int i = 0; i < n; i++)
		printf(i ? " %d" : "%d", got[i]);
	printf("]\n");
	chan_release(out);
	err = chan_group_wait(g);
	chan_group_destroy(g);
	return err != 0;
}
