/* SPDX-License-Identifier: MIT */
/*
 * tests/stress/chan_stress.c - no-loss stress of whole channels: P producers
 * x C consumers (1..8 each) x capacities 0, 1, 7, 1024 and unbounded, with
 * the single-producer/consumer flavours where the thread counts allow them,
 * through plain, burst, timed and try operations, and with close racing the
 * senders. See stress_impl.h for what is checked.
 */
#include <chan/chan.h>

#include "stress_impl.h"

static const size_t caps[] = { 0, 1, 7, 1024, CHAN_UNBOUNDED };
static const int threads[] = { 1, 2, 4, 8 };

static int send_plain(void *ch, uint64_t v)
{
	return chan_send(ch, &v);
}

static size_t recv_plain(void *ch, uint64_t *out, size_t max)
{
	(void)max;
	return chan_recv(ch, out) == 0 ? 1 : 0;
}

static int send_burst(void *ch, uint64_t v)
{
	return chan_send_burst(ch, &v, 1) == 1 ? 0 : -EPIPE;
}

static size_t recv_burst(void *ch, uint64_t *out, size_t max)
{
	return chan_recv_burst(ch, out, max);
}

/* Short timeouts: most waits expire, which races every timeout against a
 * partner claiming the waiter at the same moment. */
static int send_timed(void *ch, uint64_t v)
{
	int r;

	while ((r = chan_send_timeout(ch, &v, 20000)) == -ETIMEDOUT)
		;
	return r;
}

static size_t recv_timed(void *ch, uint64_t *out, size_t max)
{
	int r;

	(void)max;
	while ((r = chan_recv_timeout(ch, out, 20000)) == -ETIMEDOUT)
		;
	return r == 0 ? 1 : 0;
}

/* Try first, block only after a few misses. */
static int send_try(void *ch, uint64_t v)
{
	for (int i = 0; i < 4; i++) {
		int r = chan_try_send(ch, &v);

		if (r != -EAGAIN)
			return r;
	}
	return chan_send(ch, &v);
}

static size_t recv_try(void *ch, uint64_t *out, size_t max)
{
	for (int i = 0; i < 4; i++) {
		size_t n = chan_try_recv_burst(ch, out, max);

		if (n)
			return n;
		if (chan_is_closed(ch)) {
			/* A value may have arrived just before the close: keep
			 * it (this used to drop it: a "lost" that was ours). */
			int r = chan_try_recv(ch, out);

			if (r == 0)
				return 1;
			if (r == -EPIPE)
				return 0;
		}
	}
	return chan_recv_burst(ch, out, max);
}

static void close_chan(void *ch)
{
	chan_close(ch);
}

static void run_matrix(const struct stress_ops *ops, bool close_mid, uint64_t msgs)
{
	for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
		for (size_t p = 0; p < 4; p++) {
			for (size_t q = 0; q < 4; q++) {
				int np = threads[p], nc = threads[q];
				unsigned flags = (np == 1 ? CHAN_SINGLE_PRODUCER : 0) |
						 (nc == 1 ? CHAN_SINGLE_CONSUMER : 0);

				/* Each config once plain, and once with the flags it allows. */
				for (int f = 0; f < (flags ? 2 : 1); f++) {
					chan_opts_t o = { .elem_size = 8, .capacity = caps[c],
							  .flags = f ? flags : 0 };
					chan_t *ch = chan_new_opts(&o);

					cr_assert_not_null(ch);
					stress_check(ch, ops, np, nc, msgs, close_chan, close_mid);
					chan_release(ch);
				}
			}
		}
	}
}

Test(chan_stress, plain, .timeout = 600)
{
	static const struct stress_ops ops = { send_plain, recv_plain };

	run_matrix(&ops, false, stress_scaled(STRESS_MSGS));
}

Test(chan_stress, burst, .timeout = 600)
{
	static const struct stress_ops ops = { send_burst, recv_burst };

	run_matrix(&ops, false, stress_scaled(STRESS_MSGS));
}

Test(chan_stress, timed, .timeout = 600)
{
	static const struct stress_ops ops = { send_timed, recv_timed };

	run_matrix(&ops, false, stress_scaled(STRESS_MSGS / 4));
}

Test(chan_stress, try_then_block, .timeout = 600)
{
	static const struct stress_ops ops = { send_try, recv_try };

	run_matrix(&ops, false, stress_scaled(STRESS_MSGS / 2));
}

Test(chan_stress, close_races_senders, .timeout = 600)
{
	static const struct stress_ops ops = { send_plain, recv_burst };

	run_matrix(&ops, true, stress_scaled(STRESS_MSGS / 4));
}
