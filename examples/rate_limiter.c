/* SPDX-License-Identifier: MIT */
/*
 * examples/rate_limiter.c - rate limiting, twice: the seed's rateLimiter
 * (10 requests per second) and Go by Example's bursty limiter (bursts of 3,
 * then one every 200 ms).
 *
 *	func rateLimiter() {                        // the seed
 *		requests := make(chan int, 5)
 *		for i := 1; i <= 5; i++ {
 *			requests <- i
 *		}
 *		close(requests)
 *		limiter := time.Tick(100 * time.Millisecond) // 10 per second
 *		for req := range requests {
 *			<-limiter
 *			fmt.Println("request", req, time.Now())
 *		}
 *	}
 *
 *	burstyLimiter := make(chan time.Time, 3)    // Go by Example
 *	for i := 0; i < 3; i++ {
 *		burstyLimiter <- time.Now()
 *	}
 *	go func() {
 *		for t := range time.Tick(200 * time.Millisecond) {
 *			burstyLimiter <- t
 *		}
 *	}()
 *	burstyRequests := make(chan int, 5)
 *	for i := 1; i <= 5; i++ {
 *		burstyRequests <- i
 *	}
 *	close(burstyRequests)
 *	for req := range burstyRequests {
 *		<-burstyLimiter
 *		fmt.Println("request", req, time.Now())
 *	}
 *
 * A token bucket replaces both the ticker and the buffered channel of
 * tickets: chan_limiter_new(10, 1) is the first, chan_limiter_new(5, 3) the
 * second (its bucket of 3 is the channel of 3 tickets, its rate the 200 ms
 * ticker), with no goroutine feeding it. One difference: the bucket starts
 * full, so the first request of the seed's loop goes at once instead of
 * after a first tick. The times are printed as the offsets the limiter
 * guarantees (the Go program prints wall-clock times); the program checks
 * that no request went early, and exits 1 if one did.
 */
#include <stdio.h>

#include <chan/chan.h>

#define MS 1000000LL

static int serve(const char *title, double rate, size_t burst, const long long *due_ms)
{
	chan_t *requests = chan_new(sizeof(int), 5);
	chan_limiter_t *limiter = chan_limiter_new(rate, burst);
	int64_t start = chan_now();
	int req, early = 0, k = 0;

	for (int i = 1; i <= 5; i++)
		chan_send(requests, &i);
	chan_close(requests);
	printf("%s\n", title);
	while (chan_recv(requests, &req) == 0) {
		chan_limiter_wait(limiter, 1, chan_ctx_background()); /* <-limiter */
		if (chan_now() - start < due_ms[k] * MS)
			early = 1; /* never: wait does not return before its time */
		printf("request %d (not before +%lld ms)\n", req, due_ms[k++]);
	}
	chan_limiter_destroy(limiter);
	chan_release(requests);
	return early;
}

int main(void)
{
	static const long long steady[] = { 0, 100, 200, 300, 400 };
	static const long long bursty[] = { 0, 0, 0, 200, 400 };
	int early = serve("rateLimiter: 10 per second", 10, 1, steady);

	early |= serve("burstyLimiter: bursts of 3, then 5 per second", 5, 3, bursty);
	if (early)
		fprintf(stderr, "a request went early\n");
	return early;
}
