/* SPDX-License-Identifier: MIT */
/*
 * patterns/first.c - chan_first(): hedged requests ("The Tail at Scale";
 * Go's "first response wins" with a context that cancels the losers).
 *
 * The replicas are tasks of a private group whose context is a child of the
 * caller's: the winner's arrival cancels that group, and chan_group_destroy()
 * joins every replica that started before chan_first() returns. Replicas
 * report on a channel with one slot per replica, so a report never blocks
 * and the order of the reports is the order in time of the returns.
 *
 * It waits on the group's done channel, not the caller's: the group's
 * context is a child of @ctx that nothing else cancels before
 * chan_group_destroy() (replicas never report an error to the group), so it
 * is done exactly when @ctx is, and chan_group_new() made its done channel
 * already, where @ctx's would be made (and could fail) on our first wait.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <chan/chan.h>

struct report {
	size_t i;
	int err;
};

struct replica {
	chan_task_fn fn;
	void *arg;
	size_t i;
	chan_t *reports; /* borrowed: chan_first() outlives every replica */
};

static int replica_main(chan_ctx_t *ctx, void *arg)
{
	struct replica *r = arg;
	struct report rep = { .i = r->i, .err = r->fn(ctx, r->arg) };

	chan_send(r->reports, &rep); /* one slot each: never blocks */
	return 0; /* not a group error: chan_first() judges the results */
}

static int64_t due(int64_t t0, size_t i, int64_t hedge_ns)
{
	if (hedge_ns <= 0 || i == 0)
		return t0;
	if ((int64_t)i > (INT64_MAX - t0) / hedge_ns)
		return INT64_MAX;
	return t0 + (int64_t)i * hedge_ns;
}

int chan_first(chan_ctx_t *ctx, size_t n, chan_task_fn fn, void *const args[], int64_t hedge_ns,
	       size_t *winner)
{
	size_t started = 0, finished = 0, win = 0;
	bool won = false, stop_starting = false;
	struct replica *reps;
	chan_group_t *g;
	chan_t *reports, *done;
	int64_t t0;
	int first_err = 0, r;

	if (!ctx || !fn || n == 0)
		return -EINVAL;
	r = chan_ctx_err(ctx);
	if (r != 0)
		return r;
	g = chan_group_new(ctx);
	if (!g)
		return -errno;
	reports = chan_new(sizeof(struct report), n);
	reps = calloc(n, sizeof(*reps));
	done = chan_ctx_done(chan_group_ctx(g)); /* never NULL: see above */
	if (!reports || !reps || !done) {
		chan_release(reports);
		free(reps);
		chan_group_destroy(g);
		return -ENOMEM;
	}
	t0 = chan_now();
	for (;;) {
		int64_t now = chan_now();

		while (!stop_starting && started < n && due(t0, started, hedge_ns) <= now) {
			reps[started] = (struct replica){ .fn = fn, .arg = args ? args[started] : NULL,
							  .i = started, .reports = reports };
			r = chan_group_go(g, replica_main, &reps[started]);
			if (r == -ECANCELED) { /* ctx was canceled meanwhile */
				stop_starting = true;
				break;
			}
			if (r != 0) {
				if (started == 0) {
					first_err = r;
					stop_starting = true;
					break;
				}
				/* A replica that cannot start fails like one that ran. */
				if (first_err == 0)
					first_err = r;
				finished++;
			}
			started++;
		}
		if (started == n)
			stop_starting = true;
		if (won || (stop_starting && finished == started))
			break;

		struct report rep;
		chan_case_t cs[2] = {
			{ .chan = reports, .op = CHAN_OP_RECV, .elem = &rep },
			/* Once seen done, this case would always be ready: drop it. */
			{ .chan = stop_starting ? NULL : done, .op = CHAN_OP_RECV },
		};
		int64_t timeout = stop_starting ? INT64_MAX : due(t0, started, hedge_ns) - now;

		r = chan_select_timeout(cs, 2, timeout);
		if (r == 0) {
			finished++;
			if (rep.err == 0) {
				won = true;
				win = rep.i;
			} else if (first_err == 0) {
				first_err = rep.err;
			}
		} else if (r == 1) {
			stop_starting = true;
		}
		/* -ETIMEDOUT: the next replica is due. */
	}
	chan_group_destroy(g); /* cancels and joins the losers */
	chan_release(reports);
	free(reps);
	if (won) {
		if (winner)
			*winner = win;
		return 0;
	}
	if (first_err == 0) /* canceled before replica 0 could start */
		first_err = chan_ctx_err(ctx) ? chan_ctx_err(ctx) : -ECANCELED;
	return first_err;
}
