/* SPDX-License-Identifier: MIT */
/*
 * bench/pool_bench.c - the worker pool (issue 8's pool_submit): n jobs
 * submitted from one thread through a chan_pool of @workers workers with a
 * queue of @cap jobs. bench/peers/go_pool is the Go side (errgroup with
 * SetLimit(workers), and a hand-written channel pool); bench/run_pool.py
 * runs both.
 *
 * Usage: pool_bench pool_submit [workers=4] [cap=64] [n=1000000] [fn=noop|spin1us]
 * The pool (and its workers) exist before the clock starts; the clock
 * covers the n submits, chan_pool_close() and chan_group_wait(), so it
 * stops when the last job has returned. Job i stores 2*i into out[i]
 * (fn=spin1us: after a 1 us spin on chan_now()); afterwards every slot is
 * checked (each job ran exactly once).
 * One line: "impl=chan bench=pool_submit workers=<w> cap=<c> fn=<f> n=<n>
 * secs=<s> ns_per_job=<x> jobs_per_s=<y>".
 * Exit status: 0, 1 when a check failed, 2 on a usage error.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <chan/chan.h>

static uint32_t *out;
static int64_t spin_ns;

static int job(chan_ctx_t *ctx, void *arg)
{
	uintptr_t i = (uintptr_t)arg;

	(void)ctx;
	if (spin_ns > 0)
		for (int64_t t0 = chan_now(); chan_now() - t0 < spin_ns;)
			;
	out[i] = (uint32_t)(2 * i);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: pool_bench pool_submit [workers=4] [cap=64] [n=1000000] "
			"[fn=noop|spin1us]\n");
	return 2;
}

int main(int argc, char **argv)
{
	unsigned workers = 4;
	size_t cap = 64, n = 1000000;
	const char *fn = "noop";
	chan_group_t *g;
	chan_pool_t *p;
	int64_t t0, t1;
	double secs;

	if (argc < 2 || strcmp(argv[1], "pool_submit") != 0)
		return usage();
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];

		if (strncmp(a, "workers=", 8) == 0)
			workers = (unsigned)strtoul(a + 8, NULL, 10);
		else if (strncmp(a, "cap=", 4) == 0)
			cap = strtoull(a + 4, NULL, 10);
		else if (strncmp(a, "n=", 2) == 0)
			n = strtoull(a + 2, NULL, 10);
		else if (strncmp(a, "fn=", 3) == 0)
			fn = a + 3;
		else
			return usage();
	}
	if (strcmp(fn, "spin1us") == 0)
		spin_ns = 1000;
	else if (strcmp(fn, "noop") != 0)
		return usage();
	if (workers == 0 || n == 0 || n > UINT32_MAX / 2)
		return usage();
	out = calloc(n, sizeof(*out));
	g = chan_group_new(chan_ctx_background());
	p = g ? chan_pool_new(g, workers, cap) : NULL;
	if (!out || !p) {
		perror("pool_bench: setup");
		return 1;
	}

	t0 = chan_now();
	for (size_t i = 0; i < n; i++) {
		if (chan_pool_submit(p, job, (void *)(uintptr_t)i, chan_ctx_background()) != 0) {
			fprintf(stderr, "pool_bench: submit %zu failed\n", i);
			return 1;
		}
	}
	chan_pool_close(p);
	if (chan_group_wait(g) != 0) {
		fprintf(stderr, "pool_bench: a job failed\n");
		return 1;
	}
	t1 = chan_now();

	for (size_t i = 0; i < n; i++) {
		if (out[i] != (uint32_t)(2 * i)) {
			fprintf(stderr, "pool_bench: job %zu did not run\n", i);
			return 1;
		}
	}
	secs = (double)(t1 - t0) / 1e9;
	printf("impl=chan bench=pool_submit workers=%u cap=%zu fn=%s n=%zu secs=%.6f "
	       "ns_per_job=%.2f jobs_per_s=%.0f\n",
	       workers, cap, fn, n, secs, (double)(t1 - t0) / (double)n, (double)n / secs);
	chan_pool_destroy(p);
	chan_group_destroy(g);
	free(out);
	return 0;
}
