/* SPDX-License-Identifier: MIT */
/*
 * examples/with_context.c - the seed's withContext: run work, but give up
 * when the context is done; one timeout that fires and one that does not.
 *
 *	func withContext(ctx context.Context, work func(context.Context) int) (int, error) {
 *		result := make(chan int)
 *		go func() { result <- work(ctx) }() // leaks when ctx wins: nobody receives
 *		select {
 *		case r := <-result:
 *			return r, nil
 *		case <-ctx.Done():
 *			return 0, ctx.Err()
 *		}
 *	}
 *
 *	func slowWork(ctx context.Context) int { time.Sleep(200 * time.Millisecond); return 1 }
 *	func fastWork(ctx context.Context) int { time.Sleep(10 * time.Millisecond); return 42 }
 *
 *	func main() {
 *		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
 *		defer cancel()
 *		if _, err := withContext(ctx, slowWork); err != nil {
 *			fmt.Println("slow:", err)
 *		}
 *		ctx2, cancel2 := context.WithTimeout(context.Background(), 500*time.Millisecond)
 *		defer cancel2()
 *		if r, err := withContext(ctx2, fastWork); err == nil {
 *			fmt.Println("fast:", r)
 *		}
 *	}
 *
 * chan_async() is the goroutine plus its result channel, without the leak:
 * the channel has room for the result, so the task always finishes, and an
 * unread result is dropped when the channel is released. chan_recv_ctx() is
 * the select on the result and ctx.Done(). The work itself also watches its
 * context (a C task cannot be killed), so the slow one stops early.
 */
#include <errno.h>
#include <stdio.h>

#include <chan/chan.h>

#define MS 1000000LL

struct result {
	int value;
	int err;
};

/* Sleep @ns unless @ctx is done first: 0, or the context's error. */
static int sleep_ctx(chan_ctx_t *ctx, int64_t ns)
{
	chan_t *t = chan_after(ns);
	int r = chan_recv_ctx(t, NULL, ctx);

	chan_release(t);
	return r;
}

static void slow_work(chan_ctx_t *ctx, void *arg, void *out)
{
	struct result *r = out;

	(void)arg;
	r->err = sleep_ctx(ctx, 200 * MS);
	r->value = 1;
}

static void fast_work(chan_ctx_t *ctx, void *arg, void *out)
{
	struct result *r = out;

	(void)arg;
	r->err = sleep_ctx(ctx, 10 * MS);
	r->value = 42;
}

static int with_context(chan_ctx_t *ctx, void (*work)(chan_ctx_t *, void *, void *), int *value)
{
	chan_t *res = chan_async(ctx, work, NULL, NULL,
				 &(chan_opts_t){ .elem_size = sizeof(struct result) });
	struct result r;
	int err;

	if (!res)
		return -errno;
	err = chan_recv_ctx(res, &r, ctx);
	chan_release(res); /* no leak either way: the task finishes on its own */
	if (err != 0)
		return err;
	*value = r.value;
	return r.err;
}

static const char *ctx_strerror(int err)
{
	return err == -ETIMEDOUT ? "context deadline exceeded" : "context canceled";
}

int main(void)
{
	chan_ctx_t *ctx = chan_ctx_with_timeout(chan_ctx_background(), 50 * MS);
	chan_ctx_t *ctx2 = chan_ctx_with_timeout(chan_ctx_background(), 500 * MS);
	int v = 0, err;

	if (!ctx || !ctx2)
		return 1;
	err = with_context(ctx, slow_work, &v);
	if (err != 0)
		printf("slow: %s\n", ctx_strerror(err));
	err = with_context(ctx2, fast_work, &v);
	if (err == 0)
		printf("fast: %d\n", v);
	chan_ctx_release(ctx);
	chan_ctx_release(ctx2);
	return 0;
}
