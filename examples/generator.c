/* SPDX-License-Identifier: MIT */
/*
 * examples/generator.c - Go's generator: a function that returns a channel
 * and a goroutine that fills it, then closes it.
 *
 *	func generator(nums ...int) <-chan int {
 *		out := make(chan int)
 *		go func() {
 *			for _, n := range nums {
 *				out <- n
 *			}
 *			close(out)
 *		}()
 *		return out
 *	}
 *
 *	func main() {
 *		for n := range generator(1, 2, 3, 4, 5) {
 *			fmt.Println(n)
 *		}
 *	}
 *
 * In C the goroutine is a stage of a group: chan_generate() copies the
 * values, its task sends them and closes the channel, and
 * chan_group_wait() joins the task (no goroutine is left behind).
 */
#include <stdio.h>

#include <chan/chan.h>

int main(void)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());
	const int nums[] = { 1, 2, 3, 4, 5 };
	chan_t *out;
	int n, err;

	if (!g)
		return 1;
	out = chan_generate(g, nums, 5, &(chan_opts_t){ .elem_size = sizeof(int) });
	if (!out) {
		perror("chan_generate");
		return 1;
	}
	while (chan_recv(out, &n) == 0) /* range: until closed and drained */
		printf("%d\n", n);
	chan_release(out);
	err = chan_group_wait(g);
	chan_group_destroy(g);
	return err != 0;
}
