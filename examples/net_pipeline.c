/* SPDX-License-Identifier: MIT */
/*
 * examples/net_pipeline.c - the seed's pipeline (generator -> fan-out to
 * workers -> fan-in -> print) spread across processes over ipc://, with
 * chan/net.h. One program, three roles (examples/net_pipeline.sh starts a
 * collector, two workers and a producer):
 *
 *	net_pipeline producer  WORK_URL            1..10 to the workers
 *	net_pipeline worker    WORK_URL RESULT_URL n*n of each job it receives
 *	net_pipeline collector RESULT_URL WORKERS  sorts and prints the results
 *
 * The producer listens on WORK_URL and the workers dial it: NNG hands each
 * frame to one of them (window 1: one job per frame, so both get work).
 * The workers dial RESULT_URL, where the collector listens and waits for
 * the end-of-stream of WORKERS senders. Closing propagates: the producer's
 * generator closes, each worker's network input closes, its map stage
 * closes, its sender sends end-of-stream, and the collector's channel
 * closes once both did.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <chan/chan.h>
#include <chan/net.h>

static int heavy_computation(const void *in, void *out, void *arg)
{
	int n = *(const int *)in;

	(void)arg;
	nanosleep(&(struct timespec){.tv_nsec = 5 * 1000 * 1000}, NULL);
	*(int *)out = n * n;
	return 0;
}

static int finish(chan_group_t *g, const char *role)
{
	int err = chan_group_wait(g);

	chan_group_destroy(g);
	if (err != 0)
		fprintf(stderr, "net_pipeline %s: %s\n", role, strerror(-err));
	return err == 0 ? 0 : 1;
}

static int producer(const char *work_url)
{
	static const int nums[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_t *jobs = chan_generate(g, nums, 10, &(chan_opts_t){.elem_size = sizeof(int)});
	int r = chan_net_send_to(g, jobs, work_url,
				 &(chan_net_opts_t){.window = 1, .receivers = 2});

	chan_release(jobs);
	if (r != 0)
		chan_group_cancel(g, r);
	return finish(g, "producer");
}

static int worker(const char *work_url, const char *result_url)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_t *jobs = chan_net_recv_from(g, work_url,
					  &(chan_net_opts_t){.out = {.elem_size = sizeof(int)}});
	chan_t *results = jobs ? chan_map(g, jobs, heavy_computation, NULL, NULL) : NULL;
	int r = results ? chan_net_send_to(g, results, result_url,
					   &(chan_net_opts_t){.flags = CHAN_NET_DIAL})
			: -errno;

	if (jobs)
		chan_release(jobs);
	if (results)
		chan_release(results);
	if (r != 0)
		chan_group_cancel(g, r);
	return finish(g, "worker");
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

static int collector(const char *result_url, unsigned workers)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_t *results = chan_net_recv_from(
		g, result_url,
		&(chan_net_opts_t){.out = {.elem_size = sizeof(int), .capacity = 16},
				   .flags = CHAN_NET_LISTEN,
				   .senders = workers});
	int all[64], n = 0, v;

	if (!results) {
		chan_group_cancel(g, -errno);
		return finish(g, "collector");
	}
	while (chan_recv(results, &v) == 0 && n < 64)
		all[n++] = v;
	chan_release(results);
	qsort(all, (size_t)n, sizeof(int), cmp_int); /* arrival order varies */
	for (int i = 0; i < n; i++)
		printf("%d\n", all[i]);
	return finish(g, "collector");
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "producer") == 0)
		return producer(argv[2]);
	if (argc == 4 && strcmp(argv[1], "worker") == 0)
		return worker(argv[2], argv[3]);
	if (argc == 4 && strcmp(argv[1], "collector") == 0)
		return collector(argv[2], (unsigned)strtoul(argv[3], NULL, 10));
	fprintf(stderr, "usage: net_pipeline producer WORK_URL | worker WORK_URL RESULT_URL |"
			" collector RESULT_URL WORKERS\n");
	return 2;
}
