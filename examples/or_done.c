/* SPDX-License-Identifier: MIT */
/*
 * examples/or_done.c - the or-done-channel of "Concurrency in Go": range
 * over a channel that may never close, and stop when done is.
 *
 *	orDone := func(done <-chan struct{}, c <-chan int) <-chan int {
 *		valStream := make(chan int)
 *		go func() {
 *			defer close(valStream)
 *			for {
 *				select {
 *				case <-done:
 *					return
 *				case v, ok := <-c:
 *					if !ok {
 *						return
 *					}
 *					select {
 *					case valStream <- v:
 *					case <-done:
 *					}
 *				}
 *			}
 *		}()
 *		return valStream
 *	}
 *
 *	func main() {
 *		c := make(chan int, 3) // three values, then a producer that never closes
 *		c <- 1; c <- 2; c <- 3
 *		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
 *		defer cancel()
 *		for v := range orDone(ctx.Done(), c) {
 *			fmt.Println(v)
 *		}
 *		fmt.Println("done:", ctx.Err())
 *
 *		c <- 4; c <- 5; c <- 6 // the same, inline: no goroutine at all
 *		ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
 *		defer cancel2()
 *		for {
 *			select {
 *			case v := <-c:
 *				fmt.Println(v)
 *				continue
 *			case <-ctx2.Done():
 *			}
 *			break
 *		}
 *		fmt.Println("done:", ctx2.Err())
 *	}
 *
 * chan_or_done() is the stage (its output closes when the group's context,
 * here derived from the timeout, is done); chan_recv_ctx() is the inline
 * form, with no task.
 */
#include <errno.h>
#include <stdio.h>

#include <chan/chan.h>

#define MS 1000000LL

static const char *ctx_strerror(int err)
{
	return err == -ETIMEDOUT ? "context deadline exceeded" : "context canceled";
}

int main(void)
{
	chan_t *c = chan_new(sizeof(int), 3), *vals;
	chan_ctx_t *ctx = chan_ctx_with_timeout(chan_ctx_background(), 50 * MS);
	chan_group_t *g = chan_group_new(ctx);
	chan_ctx_t *ctx2;
	int v, r;

	if (!c || !ctx || !g)
		return 1;
	for (v = 1; v <= 3; v++)
		chan_send(c, &v);
	vals = chan_or_done(g, c, NULL);
	if (!vals)
		return 1;
	while (chan_recv(vals, &v) == 0)
		printf("%d\n", v);
	printf("done: %s\n", ctx_strerror(chan_ctx_err(ctx)));
	chan_release(vals);
	chan_group_destroy(g);

	for (v = 4; v <= 6; v++)
		chan_send(c, &v);
	ctx2 = chan_ctx_with_timeout(chan_ctx_background(), 50 * MS);
	if (!ctx2)
		return 1;
	while ((r = chan_recv_ctx(c, &v, ctx2)) == 0)
		printf("%d\n", v);
	printf("done: %s\n", ctx_strerror(r));
	chan_ctx_release(ctx);
	chan_ctx_release(ctx2);
	chan_release(c);
	return 0;
}
