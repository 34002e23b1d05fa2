/* SPDX-License-Identifier: MIT */
/*
 * examples/worker_pool.c - workers (chan_go) that take jobs from a channel
 * until the jobs run out or their context is canceled, with a wait group and
 * a results channel. The README's select + context example, compiled.
 *
 * Usage: worker_pool [jobs] [timeout_ms]
 *   With a short timeout the context cancels the workers before they are
 *   done, and the program says how far they got.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <chan/chan.h>

#define WORKERS 4

struct job {
	chan_ctx_t *ctx;
	chan_t *jobs, *results;
	chan_wg_t *wg;
};

static void worker(void *arg)
{
	struct job *j = arg;
	long in, out;

	for (;;) {
		chan_case_t cs[] = {
			{ .chan = j->jobs, .op = CHAN_OP_RECV, .elem = &in },
			{ .chan = chan_ctx_done(j->ctx), .op = CHAN_OP_RECV },
		};
		int r = chan_select(cs, 2);

		if (r == 1 || cs[0].err == -EPIPE) /* canceled, or no more jobs */
			break;
		out = in * in;
		/* Results never block: the channel holds one per job. */
		chan_send(j->results, &out);
	}
	chan_wg_done(j->wg);
}

int main(int argc, char **argv)
{
	long njobs = argc > 1 ? atol(argv[1]) : 100000;
	long timeout_ms = argc > 2 ? atol(argv[2]) : 10000;
	chan_t *jobs = chan_new(sizeof(long), 64);
	chan_t *results = chan_new(sizeof(long), (size_t)(njobs > 0 ? njobs : 1));
	/* The clock starts once the channels exist. */
	chan_ctx_t *ctx = chan_ctx_with_timeout(chan_ctx_background(), timeout_ms * 1000000);
	chan_wg_t wg = CHAN_WG_INIT;
	struct job j = { ctx, jobs, results, &wg };
	long v, done = 0, sum = 0;

	if (!ctx || !jobs || !results) {
		perror("setup");
		return 1;
	}
	for (int i = 0; i < WORKERS; i++) {
		chan_wg_add(&wg, 1);
		if (chan_go(worker, &j) != 0) {
			chan_wg_done(&wg);
			fprintf(stderr, "chan_go failed\n");
		}
	}
	for (long i = 1; i <= njobs; i++) {
		chan_case_t cs[] = {
			{ .chan = jobs, .op = CHAN_OP_SEND, .elem = &i },
			{ .chan = chan_ctx_done(ctx), .op = CHAN_OP_RECV },
		};

		if (chan_select(cs, 2) == 1)
			break; /* out of time: stop feeding */
	}
	chan_close(jobs);
	chan_wg_wait(&wg);
	while (chan_try_recv(results, &v) == 0) {
		done++;
		sum += v;
	}
	printf("worker_pool: %ld of %ld jobs done by %d workers (sum of squares %ld)%s\n", done,
	       njobs, WORKERS, sum, chan_ctx_err(ctx) == -ETIMEDOUT ? ", stopped by the deadline" : "");
	chan_ctx_release(ctx);
	chan_release(jobs);
	chan_release(results);
	return 0;
}
