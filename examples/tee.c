/* SPDX-License-Identifier: MIT */
/*
 * examples/tee.c - the tee-channel of "Concurrency in Go": every value of
 * one channel on two.
 *
 *	tee := func(done <-chan struct{}, in <-chan int) (<-chan int, <-chan int) {
 *		out1, out2 := make(chan int), make(chan int)
 *		go func() {
 *			defer close(out1)
 *			defer close(out2)
 *			for val := range orDone(done, in) {
 *				var out1, out2 = out1, out2
 *				for i := 0; i < 2; i++ {
 *					select {
 *					case <-done:
 *					case out1 <- val:
 *						out1 = nil
 *					case out2 <- val:
 *						out2 = nil
 *					}
 *				}
 *			}
 *		}()
 *		return out1, out2
 *	}
 *
 *	func main() {
 *		done := make(chan struct{})
 *		defer close(done)
 *		out1, out2 := tee(done, take(done, repeat(done, 1, 2), 4))
 *		for val1 := range out1 {
 *			fmt.Printf("out1: %v, out2: %v\n", val1, <-out2)
 *		}
 *	}
 *
 * repeat + take is a generator function here; chan_tee() is the tee (with
 * a clone() in its options, owning values would be duplicated safely).
 */
#include <errno.h>
#include <stdio.h>

#include <chan/chan.h>

struct repeat_take {
	const int *values;
	int nvalues, taken, take;
};

static int repeat_take(void *elem, void *arg)
{
	struct repeat_take *r = arg;

	if (r->taken == r->take)
		return -EPIPE; /* end of the stream */
	*(int *)elem = r->values[r->taken++ % r->nvalues];
	return 0;
}

int main(void)
{
	static const int values[] = { 1, 2 };
	struct repeat_take rt = { .values = values, .nvalues = 2, .take = 4 };
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_t *in, *outs[2];
	int v1, v2, err;

	if (!g)
		return 1;
	in = chan_generate_fn(g, repeat_take, &rt, &(chan_opts_t){ .elem_size = sizeof(int) });
	if (!in || chan_tee(g, in, 2, outs, NULL) != 0)
		return 1;
	chan_release(in);
	while (chan_recv(outs[0], &v1) == 0) {
		chan_recv(outs[1], &v2);
		printf("out1: %d, out2: %d\n", v1, v2);
	}
	chan_group_cancel(g, 0); /* close(done) */
	chan_release(outs[0]);
	chan_release(outs[1]);
	err = chan_group_wait(g);
	chan_group_destroy(g);
	return err != 0;
}
