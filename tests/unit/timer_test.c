/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/timer_test.c - chan_after and tickers.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <time.h>

#include <chan/chan.h>

#define MS 1000000LL

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

Test(timer, after_fires_once_never_early)
{
	int64_t t0 = chan_now(), fired = 0;
	chan_t *c = chan_after(30 * MS);

	cr_assert_not_null(c);
	cr_assert_eq(chan_cap(c), 1);
	cr_assert_eq(chan_recv(c, &fired), 0);
	cr_assert_geq(fired, t0 + 30 * MS, "the delivered time is before the deadline");
	cr_assert_geq(chan_now(), t0 + 30 * MS);
	cr_assert_eq(chan_recv_timeout(c, NULL, 40 * MS), -ETIMEDOUT, "a second value arrived");
	chan_release(c);
}

Test(timer, after_zero_is_ready_at_once)
{
	chan_t *c = chan_after(0);
	int64_t v;

	cr_assert_eq(chan_try_recv(c, &v), 0);
	chan_release(c);
	c = chan_after(-5);
	cr_assert_eq(chan_try_recv(c, &v), 0);
	chan_release(c);
}

Test(timer, releasing_an_armed_after_is_safe)
{
	for (int i = 0; i < 100; i++)
		chan_release(chan_after((i % 10) * MS)); /* fires later into a channel only it holds */
	sleep_ms(20);
}

Test(timer, many_timers_fire_in_deadline_order)
{
	enum { N = 200 };
	chan_t *c[N];
	int64_t when[N], lo[N], hi[N];

	/* Each absolute deadline lies in [lo, hi]: the clock around the call
	 * plus the relative timeout. Only pairs whose windows do not overlap
	 * have a known order (a preempted arming thread can make a shorter
	 * timeout armed later end after a longer one armed earlier). */
	for (int i = 0; i < N; i++) {
		int64_t rel = ((i * 37) % N) * MS / 4 + MS;

		lo[i] = chan_now() + rel;
		c[i] = chan_after(rel);
		hi[i] = chan_now() + rel;
	}
	for (int i = 0; i < N; i++) {
		cr_assert_eq(chan_recv(c[i], &when[i]), 0);
		cr_assert_geq(when[i], lo[i], "fired early");
	}
	for (int i = 0; i < N; i++)
		for (int j = 0; j < N; j++)
			if (hi[i] < lo[j])
				cr_assert_leq(when[i], when[j], "heap order broken");
	for (int i = 0; i < N; i++)
		chan_release(c[i]);
}

Test(timer, ticker_ticks_periodically)
{
	int64_t t0 = chan_now(), prev = t0, v;
	chan_ticker_t *t = chan_ticker_new(10 * MS);

	cr_assert_not_null(t);
	for (int i = 1; i <= 5; i++) {
		cr_assert_eq(chan_recv(chan_ticker_chan(t), &v), 0);
		cr_assert_gt(v, prev);
		cr_assert_geq(v, t0 + i * 10 * MS, "tick %d early", i);
		prev = v;
	}
	chan_ticker_stop(t);
}

Test(timer, ticker_drops_ticks_for_a_slow_receiver)
{
	chan_ticker_t *t = chan_ticker_new(5 * MS);
	int64_t v;

	sleep_ms(60); /* about 12 periods */
	cr_assert_eq(chan_len(chan_ticker_chan(t)), 1, "ticks pile up");
	cr_assert_eq(chan_try_recv(chan_ticker_chan(t), &v), 0);
	chan_ticker_stop(t);
}

Test(timer, no_tick_after_stop)
{
	for (int round = 0; round < 20; round++) {
		chan_ticker_t *t = chan_ticker_new(1 * MS);
		chan_t *c = chan_retain(chan_ticker_chan(t));
		int64_t v;

		sleep_ms(round % 3);
		chan_ticker_stop(t);
		chan_try_recv(c, &v); /* a tick from before the stop may remain */
		sleep_ms(5);
		cr_assert_eq(chan_try_recv(c, &v), -EAGAIN, "a tick arrived after stop");
		chan_release(c);
	}
}

Test(timer, ticker_rejects_bad_period)
{
	errno = 0;
	cr_assert_null(chan_ticker_new(0));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(chan_ticker_new(-1));
	chan_ticker_stop(NULL);
	cr_assert_null(chan_ticker_chan(NULL));
}

Test(timer, after_in_select_is_a_timeout)
{
	int64_t t0 = chan_now(), v;
	chan_t *never = chan_new(8, 0), *after = chan_after(20 * MS);
	chan_case_t cs[2] = { { .chan = never, .op = CHAN_OP_RECV },
			      { .chan = after, .op = CHAN_OP_RECV, .elem = &v } };

	cr_assert_eq(chan_select(cs, 2), 1);
	cr_assert_geq(chan_now() - t0, 20 * MS);
	chan_release(never);
	chan_release(after);
}
