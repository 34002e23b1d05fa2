/* SPDX-License-Identifier: MIT */
/*
 * examples/first.c - a hedged request: Rob Pike's First() from "Go
 * Concurrency Patterns", with a context that cancels the losers, and with
 * replica i sent only after i * hedge without an answer ("The Tail at
 * Scale").
 *
 *	func fakeSearch(name string, latency time.Duration) Search {
 *		return func(ctx context.Context, query string) (Result, error) {
 *			select {
 *			case <-time.After(latency):
 *				return Result(fmt.Sprintf("%s result for %q", name, query)), nil
 *			case <-ctx.Done():
 *				fmt.Printf("%s: canceled\n", name)
 *				return "", ctx.Err()
 *			}
 *		}
 *	}
 *
 *	func First(ctx context.Context, query string, hedge time.Duration,
 *		replicas ...Search) Result {
 *		ctx, cancel := context.WithCancel(ctx)
 *		var wg sync.WaitGroup
 *		defer func() { cancel(); wg.Wait() }() // cancel AND join the losers
 *		c := make(chan Result, len(replicas))
 *		for i, r := range replicas {
 *			if i > 0 {
 *				select {
 *				case res := <-c:
 *					return res
 *				case <-time.After(hedge):
 *				}
 *			}
 *			wg.Add(1)
 *			go func(r Search) {
 *				defer wg.Done()
 *				if res, err := r(ctx, query); err == nil {
 *					c <- res
 *				}
 *			}(r)
 *		}
 *		return <-c
 *	}
 *
 *	func main() {
 *		fmt.Println(First(context.Background(), "golang", 100*time.Millisecond,
 *			fakeSearch("replica 0", 500*time.Millisecond),
 *			fakeSearch("replica 1", 20*time.Millisecond),
 *			fakeSearch("replica 2", 20*time.Millisecond)))
 *	}
 *
 * Replica 0 is slow; replica 1 goes out at 100 ms and answers at 120 ms;
 * replica 2, due at 200 ms, is never sent. chan_first() returns only after
 * the loser has seen its cancel and returned, so its line comes first.
 */
#include <stdio.h>

#include <chan/chan.h>

#define MS 1000000LL

struct replica {
	const char *name;
	int64_t latency_ns;
	const char *query;
	char result[64];
};

static int fake_search(chan_ctx_t *ctx, void *arg)
{
	struct replica *r = arg;
	chan_t *t = chan_after(r->latency_ns);
	int err = chan_recv_ctx(t, NULL, ctx);

	chan_release(t);
	if (err != 0) {
		printf("%s: canceled\n", r->name);
		return err;
	}
	snprintf(r->result, sizeof(r->result), "%s result for \"%s\"", r->name, r->query);
	return 0;
}

int main(void)
{
	struct replica rs[] = {
		{ "replica 0", 500 * MS, "golang", "" },
		{ "replica 1", 20 * MS, "golang", "" },
		{ "replica 2", 20 * MS, "golang", "" },
	};
	void *args[] = { &rs[0], &rs[1], &rs[2] };
	size_t winner;
	int err;

	setvbuf(stdout, NULL, _IOLBF, 0);
	err = chan_first(chan_ctx_background(), 3, fake_search, args, 100 * MS, &winner);
	if (err != 0)
		return 1;
	printf("%s\n", rs[winner].result);
	return 0;
}
