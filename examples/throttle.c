/* SPDX-License-Identifier: MIT */
/*
 * examples/throttle.c - the seed's time.Tick throttling loop as a pipeline
 * stage: chan_throttle() forwards a channel's values no faster than a token
 * bucket admits them, in bursts when the bucket has tokens.
 *
 *	func rateLimiter() {                        // the seed
 *		requests := make(chan int, 5)
 *		for i := 1; i <= 5; i++ {
 *			requests <- i
 *		}
 *		close(requests)
 *		limiter := time.Tick(100 * time.Millisecond)
 *		for req := range requests {
 *			<-limiter
 *			fmt.Println("request", req, time.Now())
 *		}
 *	}
 *
 * and the same loop as a stage on x/time/rate, which a Go program would
 * write by hand:
 *
 *	func throttle(ctx context.Context, in <-chan int, lim *rate.Limiter) <-chan int {
 *		out := make(chan int)
 *		go func() {
 *			defer close(out)
 *			for v := range in {
 *				if lim.Wait(ctx) != nil {
 *					return
 *				}
 *				select {
 *				case out <- v:
 *				case <-ctx.Done():
 *					return
 *				}
 *			}
 *		}()
 *		return out
 *	}
 *
 * Three runs: 10 per second (the seed); bursts of 3, then 5 per second
 * (Go by Example's bursty limiter), where the first three leave with one
 * burst (.batch = 3); and two throttles sharing one limiter of 10 per
 * second with a burst of 2, which together never go faster than it. The
 * times printed are the offsets the limiter guarantees (the Go program
 * prints wall-clock times): the k-th value cannot come before (k - burst)
 * / rate. The program checks that none came early, and exits 1 if one
 * did. One difference from the seed: the bucket starts full, so the first
 * request goes at once instead of after a first tick.
 */
#include <stdio.h>

#include <chan/chan.h>

#define MS 1000000LL

static const chan_opts_t INT = {.elem_size = sizeof(int), .capacity = 5};

/* The k-th admission (0-based) is due at (k + 1 - burst) / rate. */
static long long due_ms(int k, double rate, int burst)
{
	return k + 1 <= burst ? 0 : (long long)((k + 1 - burst) * 1000 / rate);
}

static chan_t *requests(chan_group_t *g, int first, int n)
{
	int xs[8];

	for (int i = 0; i < n; i++)
		xs[i] = first + i;
	return chan_generate(g, xs, (size_t)n, &INT);
}

static int serve(const char *title, double rate, int burst)
{
	int64_t start = chan_now();
	chan_limiter_t *limiter = chan_limiter_new(rate, (size_t)burst);
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_t *reqs = requests(g, 1, 5);
	chan_t *out = chan_throttle(g, reqs, limiter, &(chan_stage_opts_t){.batch = (size_t)burst});
	int req, early = 0, k = 0;

	chan_release(reqs);
	printf("%s\n", title);
	while (chan_recv(out, &req) == 0) {
		long long due = due_ms(k++, rate, burst);

		if (chan_now() - start < due * MS)
			early = 1; /* never: no value leaves before its token */
		printf("request %d (not before +%lld ms)\n", req, due);
	}
	chan_release(out);
	chan_group_wait(g);
	chan_group_destroy(g);
	chan_limiter_destroy(limiter);
	return early;
}

static int shared(void)
{
	int64_t start = chan_now();
	chan_limiter_t *limiter = chan_limiter_new(10, 2);
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_t *a = requests(g, 1, 3), *b = requests(g, 4, 3);
	chan_t *outs[] = {chan_throttle(g, a, limiter, NULL), chan_throttle(g, b, limiter, NULL)};
	chan_t *all = chan_merge(g, outs, 2, NULL);
	int req, early = 0, k = 0, sum = 0;

	chan_release(a);
	chan_release(b);
	chan_release(outs[0]);
	chan_release(outs[1]);
	while (chan_recv(all, &req) == 0) {
		if (chan_now() - start < due_ms(k++, 10, 2) * MS)
			early = 1;
		sum += req;
	}
	printf("two throttles sharing 10 per second (burst 2): %d requests (sum %d), "
	       "the last not before +%lld ms\n",
	       k, sum, due_ms(k - 1, 10, 2));
	chan_release(all);
	chan_group_wait(g);
	chan_group_destroy(g);
	chan_limiter_destroy(limiter);
	return early;
}

int main(void)
{
	int early = serve("throttle: 10 per second", 10, 1);

	early |= serve("throttle: bursts of 3, then 5 per second", 5, 3);
	early |= shared();
	if (early)
		fprintf(stderr, "a request went early\n");
	return early;
}
