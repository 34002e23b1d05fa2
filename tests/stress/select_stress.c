/* SPDX-License-Identifier: MIT */
/*
 * tests/stress/select_stress.c - no-loss stress through select: values fan
 * over K channels (capacities 0, 1, 7, unbounded, and a mix), producers
 * select-send on all K or plain-send on one, consumers select-receive on all
 * K (plus a never-ready shared channel and a NULL case) or plain-receive on
 * one, with close racing the senders. See stress_impl.h for the checks.
 */
#include <chan/chan.h>

#include "stress_impl.h"

#define K 4

struct fan {
	chan_t *ch[K];
	chan_t *never; /* shared, never sent on: every select registers on it */
	_Atomic int rr;
	bool select_send, select_recv;
};

static int fan_send(void *arg, uint64_t v)
{
	struct fan *f = arg;

	if (!f->select_send) {
		int k = atomic_fetch_add_explicit(&f->rr, 1, memory_order_relaxed) % K;

		return chan_send(f->ch[k], &v);
	}
	chan_case_t cs[K];

	for (int k = 0; k < K; k++)
		cs[k] = (chan_case_t){ .chan = f->ch[k], .op = CHAN_OP_SEND, .elem = &v };
	int r = chan_select(cs, K);

	return r >= 0 ? cs[r].err : r;
}

/*
 * Receive from any channel; a closed one drops out of the select (its case
 * becomes NULL), and the receiver stops when all K are closed and drained.
 * The per-thread "closed" set lives in the caller's buffer tail.
 */
static _Thread_local bool gone[K];
static _Thread_local bool gone_init;

static size_t fan_recv(void *arg, uint64_t *out, size_t max)
{
	struct fan *f = arg;
	chan_case_t cs[K + 2];
	int live = 0;

	(void)max;
	if (!gone_init) {
		for (int k = 0; k < K; k++)
			gone[k] = false;
		gone_init = true;
	}
	for (;;) {
		live = 0;
		for (int k = 0; k < K; k++) {
			cs[k] = (chan_case_t){ .chan = gone[k] ? NULL : f->ch[k], .op = CHAN_OP_RECV,
					       .elem = out };
			live += !gone[k];
		}
		if (live == 0) {
			gone_init = false; /* next run starts afresh */
			return 0;
		}
		cs[K] = (chan_case_t){ .chan = f->never, .op = CHAN_OP_RECV, .elem = out };
		cs[K + 1] = (chan_case_t){ .chan = NULL, .op = CHAN_OP_RECV };
		if (!f->select_recv) {
			/* Plain receives, one live channel after another. */
			for (int k = 0; k < K; k++) {
				if (gone[k])
					continue;
				int r = chan_recv_timeout(f->ch[k], out, 100000);

				if (r == 0)
					return 1;
				if (r == -EPIPE)
					gone[k] = true;
			}
			continue;
		}
		int r = chan_select(cs, K + 2);

		if (r < 0 || r >= K)
			return 0; /* cannot happen: checked by the counts */
		if (cs[r].err == 0)
			return 1;
		gone[r] = true; /* closed and drained */
	}
}

static void fan_close(void *arg)
{
	struct fan *f = arg;

	for (int k = 0; k < K; k++)
		chan_close(f->ch[k]);
}

static const struct stress_ops fan_ops = { fan_send, fan_recv };

static void run(const size_t caps[K], int np, int nc, bool ss, bool sr, bool mid)
{
	struct fan f = { .select_send = ss, .select_recv = sr };

	stress_fifo = false; /* K channels: no order across them */

	for (int k = 0; k < K; k++)
		f.ch[k] = chan_new_opts(&(chan_opts_t){ .elem_size = 8, .capacity = caps[k] });
	f.never = chan_new(8, 0);
	stress_check(&f, &fan_ops, np, nc, stress_scaled(STRESS_MSGS / 4), fan_close, mid);
	for (int k = 0; k < K; k++)
		chan_release(f.ch[k]);
	chan_release(f.never);
}

static const size_t kinds[][K] = {
	{ 0, 0, 0, 0 },
	{ 1, 1, 1, 1 },
	{ 7, 7, 7, 7 },
	{ CHAN_UNBOUNDED, CHAN_UNBOUNDED, CHAN_UNBOUNDED, CHAN_UNBOUNDED },
	{ 0, 1, 7, CHAN_UNBOUNDED },
};
static const int threads[][2] = { { 1, 1 }, { 4, 1 }, { 1, 4 }, { 4, 4 }, { 8, 8 } };

Test(select_stress, select_both_ends, .timeout = 600)
{
	for (size_t k = 0; k < 5; k++)
		for (size_t t = 0; t < 5; t++)
			run(kinds[k], threads[t][0], threads[t][1], true, true, false);
}

Test(select_stress, select_recv_plain_send, .timeout = 600)
{
	for (size_t k = 0; k < 5; k++)
		for (size_t t = 0; t < 5; t++)
			run(kinds[k], threads[t][0], threads[t][1], false, true, false);
}

Test(select_stress, select_send_plain_recv, .timeout = 600)
{
	for (size_t k = 0; k < 5; k++)
		for (size_t t = 0; t < 5; t++)
			run(kinds[k], threads[t][0], threads[t][1], true, false, false);
}

Test(select_stress, close_races_selects, .timeout = 600)
{
	for (size_t k = 0; k < 5; k++)
		for (size_t t = 0; t < 5; t++)
			run(kinds[k], threads[t][0], threads[t][1], true, true, true);
}
