/* SPDX-License-Identifier: MIT */
/*
 * tests/stress/pool_stress.c - the worker pool under load, in random
 * configurations: 1..6 workers x queue capacity {0, 1, 4, 64, unbounded} x
 * 1..4 submitters mixing blocking submits, try_submits and submits with a
 * short deadline, jobs that submit children, and an end that is a close
 * after everything, a close or a group cancel at a random point, a job's
 * error, the parent's cancel or the parent's deadline.
 *
 * Invariants checked after every configuration: "accepted job lost" and
 * "refused job ran" (each job's run count equals whether its submit
 * returned 0), "job ran twice", "more jobs at once than workers" (an
 * in-flight counter), "wrong group error" (a job's -EIO is the group's
 * error iff that job was accepted), and "unexpected errno" (a submit
 * returns only the errnos its configuration allows).
 * Sizes scale with CHAN_STRESS_SCALE (a float, default 1; TSan: / 8).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <chan/chan.h>

#include "tests/common/expect.h"

#include "ring/compiler.h"

#define US INT64_C(1000)
#define MS INT64_C(1000000)

#define MAX_SUBMITTERS 4
#define PER_SUBMITTER  400
#define MAX_JOBS       (MAX_SUBMITTERS * PER_SUBMITTER)
#define CHILD_BASE     MAX_JOBS /* a child of job i is job CHILD_BASE + i */
#define ALL_JOBS       (2 * MAX_JOBS)


static long iterations(long n)
{
	const char *s = getenv("CHAN_STRESS_SCALE");
	double scale = s ? atof(s) : 1.0;

	if (scale <= 0)
		scale = 1.0;
	if (CHAN__TSAN)
		scale /= 8;
	n = (long)((double)n * scale);
	return n < 8 ? 8 : n;
}

enum stop { STOP_NONE, STOP_CLOSE, STOP_CANCEL, STOP_JOB_ERROR, STOP_PARENT, STOP_DEADLINE,
	    STOPS };

static const char *const stop_name[STOPS] = { "close after all", "close", "cancel",
					      "job error", "parent cancel", "parent deadline" };

struct run {
	chan_pool_t *p;
	chan_group_t *g;
	unsigned workers;
	int fail_id;	     /* STOP_JOB_ERROR: this job returns -EIO */
	bool may_close;	     /* -EPIPE is allowed */
	bool may_cancel;     /* -ECANCELED / -ETIMEDOUT from the group are allowed */
	_Atomic int runs[ALL_JOBS];
	_Atomic int accepted[ALL_JOBS];
	_Atomic long naccepted;
	_Atomic int in_flight, most;
	struct job {
		struct run *r;
		int id;
	} jobs[ALL_JOBS];
};

static unsigned next(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

static int job(chan_ctx_t *ctx, void *arg)
{
	struct job *j = arg;
	struct run *r = j->r;
	int now = atomic_fetch_add(&r->in_flight, 1) + 1;

	for (int m = atomic_load(&r->most); now > m &&
					    !atomic_compare_exchange_weak(&r->most, &m, now);)
		;
	EXPECT(now <= (int)r->workers, "more jobs at once than workers: %d on %u", now,
	       r->workers);
	EXPECT(atomic_fetch_add(&r->runs[j->id], 1) == 0, "job ran twice: %d", j->id);
	if (j->id % 5 == 0 && j->id < CHILD_BASE) {
		/* A child through try_submit (a worker must not block on a full
		 * queue); its outcome is recorded like a submitter's. */
		struct job *c = &r->jobs[CHILD_BASE + j->id];
		int rc = chan_pool_try_submit(r->p, job, c);

		if (rc == 0) {
			atomic_store(&r->accepted[c->id], 1);
		} else {
			/* -EPIPE: the final close may come while jobs still run. */
			EXPECT(rc == -EAGAIN || rc == -EPIPE || (rc == -ECANCELED && r->may_cancel),
			       "unexpected errno from a child's try_submit: %d", rc);
		}
	}
	if ((j->id & 7) == 3)
		sched_yield();
	atomic_fetch_sub(&r->in_flight, 1);
	if (j->id == r->fail_id)
		return -EIO;
	(void)ctx;
	return 0;
}

struct submitter {
	struct run *r;
	int first, n;
	unsigned seed;
	_Atomic bool done;
	pthread_t th;
};

static void *submitter_main(void *arg)
{
	struct submitter *s = arg;
	struct run *r = s->r;

	for (int i = s->first; i < s->first + s->n; i++) {
		unsigned x = next(&s->seed);
		chan_ctx_t *ctx = NULL;
		bool timed = false;
		int rc;

		if (x % 4 == 0) {
			rc = chan_pool_try_submit(r->p, job, &r->jobs[i]);
			if (rc == -EAGAIN)
				rc = chan_pool_submit(r->p, job, &r->jobs[i], chan_ctx_background());
		} else if (x % 4 == 1) {
			ctx = chan_ctx_with_timeout(chan_ctx_background(), (int64_t)(x % 200) * US);
			if (!ctx) {
				EXPECT(false, "chan_ctx_with_timeout failed");
				break;
			}
			timed = true;
			rc = chan_pool_submit(r->p, job, &r->jobs[i], ctx);
		} else {
			rc = chan_pool_submit(r->p, job, &r->jobs[i], chan_ctx_background());
		}
		if (rc == 0) {
			atomic_store(&r->accepted[i], 1);
			atomic_fetch_add(&r->naccepted, 1);
		} else {
			EXPECT((rc == -EPIPE && r->may_close) ||
				       ((rc == -ECANCELED || rc == -ETIMEDOUT) && r->may_cancel) ||
				       (rc == -ETIMEDOUT && timed),
			       "unexpected errno from a submit: %d", rc);
		}
		chan_ctx_release(ctx);
	}
	atomic_store(&s->done, true);
	return NULL;
}

static struct run run_storage;

static void one_configuration(unsigned *seed, long iter)
{
	static const size_t caps[] = { 0, 1, 4, 64, CHAN_UNBOUNDED };
	struct run *r = &run_storage;
	enum stop stop = (enum stop)(next(seed) % STOPS);
	int nsub = 1 + (int)(next(seed) % MAX_SUBMITTERS);
	int per = 1 + (int)(next(seed) % PER_SUBMITTER);
	size_t cap = caps[next(seed) % 5];
	long total = (long)nsub * per;
	long stop_at = (long)(next(seed) % (unsigned long)(total + 1));
	chan_ctx_t *parent = stop == STOP_DEADLINE
				     ? chan_ctx_with_timeout(chan_ctx_background(),
							     (int64_t)(next(seed) % 2000) * US)
				     : chan_ctx_with_cancel(chan_ctx_background());
	struct submitter subs[MAX_SUBMITTERS];
	int err, want;

	cr_assert_not_null(parent);
	r->workers = 1 + next(seed) % 6;
	r->g = chan_group_new(parent);
	cr_assert_not_null(r->g);
	r->fail_id = stop == STOP_JOB_ERROR ? (int)(next(seed) % (unsigned)total) : -1;
	r->may_close = stop == STOP_CLOSE;
	r->may_cancel = stop == STOP_CANCEL || stop == STOP_JOB_ERROR || stop == STOP_PARENT ||
			stop == STOP_DEADLINE;
	for (int i = 0; i < ALL_JOBS; i++) {
		atomic_store(&r->runs[i], 0);
		atomic_store(&r->accepted[i], 0);
		r->jobs[i] = (struct job){ .r = r, .id = i };
	}
	atomic_store(&r->naccepted, 0);
	atomic_store(&r->in_flight, 0);
	atomic_store(&r->most, 0);
	r->p = chan_pool_new(r->g, r->workers, cap);
	if (!r->p) {
		/* A parent deadline of 0 can cancel the group first. */
		cr_assert(stop == STOP_DEADLINE && errno == ECANCELED, "chan_pool_new: %d", errno);
		chan_group_destroy(r->g);
		chan_ctx_release(parent);
		return;
	}

	for (int k = 0; k < nsub; k++) {
		subs[k] = (struct submitter){ .r = r, .first = k * PER_SUBMITTER, .n = per,
					      .seed = next(seed) };
		atomic_init(&subs[k].done, false);
		cr_assert_eq(pthread_create(&subs[k].th, NULL, submitter_main, &subs[k]), 0);
	}
	if (stop == STOP_CLOSE || stop == STOP_CANCEL || stop == STOP_PARENT) {
		while (atomic_load(&r->naccepted) < stop_at && expect_failed() == 0) {
			/* Until enough went in, or every submitter is done. */
			bool all_done = true;

			for (int k = 0; k < nsub; k++)
				all_done = all_done && atomic_load(&subs[k].done);
			if (all_done)
				break;
			sched_yield();
		}
		if (stop == STOP_CLOSE)
			cr_assert_eq(chan_pool_close(r->p), 0);
		else if (stop == STOP_CANCEL)
			chan_group_cancel(r->g, 0);
		else
			chan_ctx_cancel(parent);
	}
	for (int k = 0; k < nsub; k++)
		pthread_join(subs[k].th, NULL);
	chan_pool_close(r->p);
	err = chan_group_wait(r->g);
	cr_assert_eq(expect_failed(), 0, "iteration %ld (%s, %u workers, cap %zu, %d x %d): %s",
		     iter, stop_name[stop], r->workers, cap, nsub, per, expect_failure);
	for (int i = 0; i < ALL_JOBS; i++) {
		int a = atomic_load(&r->accepted[i]), n = atomic_load(&r->runs[i]);

		cr_assert_eq(n, a, "iteration %ld (%s, %u workers, cap %zu): job %d %s", iter,
			     stop_name[stop], r->workers, cap, i,
			     a ? "accepted job lost" : "refused job ran");
	}
	cr_assert_leq(atomic_load(&r->most), (int)r->workers);
	want = r->fail_id >= 0 && atomic_load(&r->accepted[r->fail_id]) ? -EIO : 0;
	cr_assert_eq(err, want, "iteration %ld (%s): wrong group error %d", iter, stop_name[stop],
		     err);
	chan_pool_destroy(r->p);
	chan_group_destroy(r->g);
	chan_ctx_release(parent);
}

Test(pool_stress, random_configurations_run_every_accepted_job_once, .timeout = 600)
{
	unsigned seed = (unsigned)time(NULL);
	long n = iterations(1000);

	fprintf(stderr, "pool_stress: seed %u, %ld configurations\n", seed, n);
	for (long i = 0; i < n; i++)
		one_configuration(&seed, i);
}
