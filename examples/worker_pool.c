/* SPDX-License-Identifier: MIT */
/*
 * examples/worker_pool.c - worker pools with chan_pool (chan/pool.h).
 *
 * 1. Go by Example's "Worker Pools": three workers range over a jobs channel
 *    and send each result on a results channel.
 *
 *	func worker(id int, jobs <-chan int, results chan<- int) {
 *		for j := range jobs {
 *			fmt.Println("worker", id, "started  job", j)
 *			time.Sleep(time.Second)
 *			fmt.Println("worker", id, "finished job", j)
 *			results <- j * 2
 *		}
 *	}
 *
 *	func main() {
 *		const numJobs = 5
 *		jobs := make(chan int, numJobs)
 *		results := make(chan int, numJobs)
 *		for w := 1; w <= 3; w++ {
 *			go worker(w, jobs, results)
 *		}
 *		for j := 1; j <= numJobs; j++ {
 *			jobs <- j
 *		}
 *		close(jobs)
 *		for a := 1; a <= numJobs; a++ {
 *			<-results
 *		}
 *	}
 *
 *    Which worker runs which job, and the order of its lines, change from
 *    run to run, so this prints the results, in job order (and leaves out
 *    the second of sleep).
 * 2. The same pool for many small jobs: [jobs] squares (default 100,000) on
 *    four workers, summed.
 * 3. A job that fails: its -EIO is the group's error (errgroup's first
 *    error) and cancels the group, so the pool accepts no more jobs; every
 *    job it had accepted still runs, exactly once (those that start after
 *    the error with the canceled context).
 *
 * Usage: worker_pool [jobs]
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <chan/chan.h>

static const char *err_name(int err)
{
	switch (err) {
	case 0: return "0";
	case -EIO: return "-EIO";
	case -ECANCELED: return "-ECANCELED";
	case -EPIPE: return "-EPIPE";
	default: return "another error";
	}
}

/* ---- 1. Go by Example ------------------------------------------------------ */

struct gbe_job {
	int j;
	chan_t *results;
};

static int gbe_worker(chan_ctx_t *ctx, void *arg)
{
	struct gbe_job *job = arg;
	int r = job->j * 2;

	(void)ctx;
	return chan_send(job->results, &r); /* room for every result: never blocks */
}

static int go_by_example(void)
{
	enum { NUM_JOBS = 5 };
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_pool_t *p = g ? chan_pool_new(g, 3, NUM_JOBS) : NULL;
	chan_t *results = chan_new(sizeof(int), NUM_JOBS);
	struct gbe_job jobs[NUM_JOBS];
	int got[NUM_JOBS * 2 + 1] = { 0 }, r;

	if (!p || !results) {
		perror("worker_pool: setup");
		return 1;
	}
	for (int j = 1; j <= NUM_JOBS; j++) {
		jobs[j - 1] = (struct gbe_job){ .j = j, .results = results };
		if (chan_pool_submit(p, gbe_worker, &jobs[j - 1], chan_ctx_background()) != 0)
			return 1;
	}
	chan_pool_close(p); /* close(jobs) */
	for (int a = 1; a <= NUM_JOBS; a++) {
		if (chan_recv(results, &r) != 0 || r < 0 || r > NUM_JOBS * 2)
			return 1;
		got[r]++;
	}
	if (chan_group_wait(g) != 0)
		return 1;
	printf("Go by Example's worker pool, 3 workers, %d jobs: results", NUM_JOBS);
	for (int v = 0; v <= NUM_JOBS * 2; v++)
		for (int k = 0; k < got[v]; k++)
			printf(" %d", v);
	printf("\n");
	chan_pool_destroy(p);
	chan_group_destroy(g);
	chan_release(results);
	return 0;
}

/* ---- 2. many small jobs ---------------------------------------------------- */

static _Atomic long long sum;

static int square(chan_ctx_t *ctx, void *arg)
{
	long long x = (long long)(intptr_t)arg;

	(void)ctx;
	atomic_fetch_add_explicit(&sum, x * x, memory_order_relaxed);
	return 0;
}

static int squares(long njobs)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_pool_t *p = g ? chan_pool_new(g, 4, 64) : NULL;

	if (!p) {
		perror("worker_pool: setup");
		return 1;
	}
	for (long i = 1; i <= njobs; i++)
		if (chan_pool_submit(p, square, (void *)(intptr_t)i, chan_ctx_background()) != 0)
			return 1;
	chan_pool_close(p);
	if (chan_group_wait(g) != 0) /* every job has run: the sum is complete */
		return 1;
	printf("%ld jobs on 4 workers: sum of squares %lld\n", njobs,
	       atomic_load_explicit(&sum, memory_order_relaxed));
	chan_pool_destroy(p);
	chan_group_destroy(g);
	return 0;
}

/* ---- 3. a failing job ------------------------------------------------------ */

enum { N_FAIL = 1000, FAILING = 100 };

static _Atomic int runs[N_FAIL + 1];
static _Atomic int accepted[N_FAIL + 1];

static int maybe_fail(chan_ctx_t *ctx, void *arg)
{
	int i = (int)(intptr_t)arg;

	atomic_fetch_add(&runs[i], 1);
	if (i == FAILING)
		return -EIO;
	/* A job that starts after the error sees chan_ctx_err(ctx) != 0 and
	 * would give up its work early; these have none. */
	(void)ctx;
	return 0;
}

static int failing_job(void)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_pool_t *p = g ? chan_pool_new(g, 4, 64) : NULL;
	bool once = true;
	int err, after;

	if (!p) {
		perror("worker_pool: setup");
		return 1;
	}
	for (int i = 1; i <= N_FAIL; i++) {
		if (chan_pool_submit(p, maybe_fail, (void *)(intptr_t)i, chan_ctx_background()) != 0)
			break; /* the error canceled the group: job i never runs */
		atomic_store(&accepted[i], 1);
	}
	err = chan_group_wait(g); /* the workers drained what was accepted */
	for (int i = 1; i <= N_FAIL; i++)
		once = once && atomic_load(&runs[i]) == atomic_load(&accepted[i]);
	after = chan_pool_submit(p, maybe_fail, (void *)(intptr_t)1, chan_ctx_background());
	printf("job %d of %d fails: chan_group_wait = %s\n", FAILING, N_FAIL, err_name(err));
	printf("every accepted job ran exactly once, no refused job ran: %s\n",
	       once ? "yes" : "NO");
	printf("a submit after the error: %s\n", err_name(after));
	chan_pool_destroy(p);
	chan_group_destroy(g);
	return err == -EIO && once && after == -ECANCELED ? 0 : 1;
}

int main(int argc, char **argv)
{
	long njobs = argc > 1 ? atol(argv[1]) : 100000;

	if (go_by_example() != 0 || squares(njobs) != 0 || failing_job() != 0) {
		fprintf(stderr, "worker_pool: a check failed\n");
		return 1;
	}
	return 0;
}
