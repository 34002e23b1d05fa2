/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/drop_test.c - the overflow policies CHAN_DROP_NEWEST and
 * CHAN_DROP_OLDEST and chan_dropped() (DESIGN.md, "Core additions the pattern
 * layer needs"), single-threaded but for the wake-up test: which values are
 * kept, which go to drop() (once each), the counter, every send form, bursts,
 * select send cases, close, the flag combinations, and owning pointers (the
 * asan build checks that each is freed exactly once). The races of evicting
 * senders with receivers are in tests/stress/drop_stress.c.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <chan/chan.h>

#define MS 1000000LL

static const size_t caps[] = {1, 7, 64};
static const unsigned single_flags[] = {0, CHAN_SINGLE_PRODUCER, CHAN_SINGLE_CONSUMER,
					CHAN_SINGLE_PRODUCER | CHAN_SINGLE_CONSUMER};
static const unsigned policies[] = {CHAN_DROP_NEWEST, CHAN_DROP_OLDEST};

/* ---- drop() bookkeeping: single-threaded tests log the values ----------- */

#define LOG_MAX 4096
static size_t log_es; /* bytes of the element drop() reads its value from */
static uint64_t dropped_log[LOG_MAX];
static size_t ndropped_log;
static _Atomic uint64_t drop_calls;

/* An element of @es bytes carrying @v: v in the first min(es, 8) bytes,
 * then a pattern of v, so a torn or mixed-up element shows. */
static void put(unsigned char *buf, size_t es, uint64_t v)
{
	for (size_t i = 0; i < es; i++)
		buf[i] = (unsigned char)(v * 31 + i);
	memcpy(buf, &v, es < 8 ? es : 8);
}

static uint64_t get(const unsigned char *buf, size_t es)
{
	uint64_t v = 0;

	memcpy(&v, buf, es < 8 ? es : 8);
	for (size_t i = 8; i < es; i++)
		cr_assert_eq(buf[i], (unsigned char)(v * 31 + i), "element %llu torn at byte %zu",
			     (unsigned long long)v, i);
	return v;
}

static void log_drop(void *elem)
{
	cr_assert_lt(ndropped_log, LOG_MAX);
	dropped_log[ndropped_log++] = get(elem, log_es);
	/* Relaxed: a counter read by this thread or after a join. */
	atomic_fetch_add_explicit(&drop_calls, 1, memory_order_relaxed);
}

static void reset_log(size_t es)
{
	log_es = es;
	ndropped_log = 0;
	atomic_store(&drop_calls, 0);
}

static chan_t *mk(size_t es, size_t cap, unsigned flags, void (*drop)(void *))
{
	chan_opts_t o = {.elem_size = es, .capacity = cap, .flags = flags, .drop = drop};
	chan_t *c = chan_new_opts(&o);

	cr_assert_not_null(c, "chan_new_opts(es %zu, cap %zu, flags %#x): errno %d", es, cap, flags,
			   errno);
	return c;
}

/* One send of @v in the form @how picks: every form must take it at once. */
static int send_form(chan_t *c, size_t es, uint64_t v, unsigned how)
{
	unsigned char buf[512];
	chan_case_t cs = {.op = CHAN_OP_SEND, .elem = buf};
	int r;

	put(buf, es, v);
	switch (how % 7) {
	case 0:
		return chan_send(c, buf);
	case 1:
		return chan_try_send(c, buf);
	case 2:
		return chan_send_timeout(c, buf, 0); /* already due: must not time out */
	case 3:
		return chan_send_timeout(c, buf, 1000 * MS);
	case 4:
		return chan_send_burst(c, buf, 1) == 1 ? 0 : -errno;
	case 5:
		return chan_try_send_burst(c, buf, 1) == 1 ? 0 : -errno;
	default:
		cs.chan = c;
		r = chan_try_select(&cs, 1);
		cr_assert(r == 0 || r == -EAGAIN, "try_select -> %d", r);
		return r == 0 ? cs.err : r;
	}
}

/* ---- construction --------------------------------------------------------- */

Test(drop, bad_flag_combinations_are_einval)
{
	static const size_t no_buffer[] = {0, CHAN_UNBOUNDED};
	const unsigned both = CHAN_DROP_NEWEST | CHAN_DROP_OLDEST;

	cr_assert_neq(CHAN_DROP_NEWEST, CHAN_DROP_OLDEST);
	cr_assert_eq(CHAN_DROP_NEWEST & (CHAN_SINGLE_PRODUCER | CHAN_SINGLE_CONSUMER), 0);
	cr_assert_eq(CHAN_DROP_OLDEST & (CHAN_SINGLE_PRODUCER | CHAN_SINGLE_CONSUMER), 0);
	for (size_t k = 0; k < 2; k++) {
		for (size_t f = 0; f < 4; f++) {
			unsigned fl[] = {CHAN_DROP_NEWEST, CHAN_DROP_OLDEST, both};

			for (size_t p = 0; p < 3; p++) {
				chan_opts_t o = {.elem_size = 8,
						 .capacity = no_buffer[k],
						 .flags = fl[p] | single_flags[f]};

				errno = 0;
				cr_assert_null(chan_new_opts(&o), "cap %zd flags %#x accepted",
					       (ssize_t)o.capacity, o.flags);
				cr_assert_eq(errno, EINVAL);
			}
		}
	}
	for (size_t f = 0; f < 4; f++) {
		chan_opts_t o = {.elem_size = 8, .capacity = 4, .flags = both | single_flags[f]};

		errno = 0;
		cr_assert_null(chan_new_opts(&o), "both policies at once accepted");
		cr_assert_eq(errno, EINVAL);
	}
	/* Every valid combination builds, bounded capacities from 1 to the max. */
	for (size_t f = 0; f < 4; f++) {
		for (size_t p = 0; p < 2; p++) {
			chan_t *c = mk(8, 1, policies[p] | single_flags[f], NULL);

			cr_assert_eq(chan_cap(c), 1);
			cr_assert_eq(chan_dropped(c), 0);
			chan_release(c);
		}
	}
	errno = 0;
	cr_assert_null(chan_new_opts(&(chan_opts_t){
		.elem_size = 8, .capacity = 4, .flags = CHAN_DROP_OLDEST | (1u << 30)}));
	cr_assert_eq(errno, EINVAL, "unknown flags are still rejected");
}

Test(drop, dropped_is_zero_without_a_policy)
{
	chan_t *c = mk(8, 2, 0, NULL);
	uint64_t v = 1;

	cr_assert_eq(chan_dropped(NULL), 0);
	cr_assert_eq(chan_send(c, &v), 0);
	cr_assert_eq(chan_send(c, &v), 0);
	cr_assert_eq(chan_try_send(c, &v), -EAGAIN, "no policy: a full channel refuses");
	cr_assert_eq(chan_dropped(c), 0);
	chan_release(c);
}

/* ---- what is kept, what is dropped ----------------------------------------- */

/*
 * Send n = 3 * cap + 2 values 0..n-1 to an empty channel in every form:
 * DROP_NEWEST keeps 0..cap-1 and drops the rest in order; DROP_OLDEST keeps
 * n-cap..n-1 and drops 0..n-cap-1 in order.
 */
static void keeps(unsigned policy, size_t es)
{
	for (size_t ci = 0; ci < sizeof(caps) / sizeof(caps[0]); ci++) {
		for (size_t f = 0; f < 4; f++) {
			size_t cap = caps[ci], n = 3 * cap + 2;
			chan_t *c = mk(es, cap, policy | single_flags[f], log_drop);
			uint64_t first = policy == CHAN_DROP_NEWEST ? 0 : n - cap;
			unsigned char buf[512];

			reset_log(es);
			for (uint64_t v = 0; v < n; v++) {
				int r = send_form(c, es, v, (unsigned)(v + f));

				cr_assert_eq(r, 0, "send %llu (form %llu) -> %d",
					     (unsigned long long)v, (unsigned long long)(v + f) % 7,
					     r);
				cr_assert_leq(chan_len(c), cap);
				cr_assert_eq(chan_dropped(c), v < cap ? 0 : v + 1 - cap,
					     "counted before the send returned");
			}
			cr_assert_eq(chan_len(c), cap);
			cr_assert_eq(chan_dropped(c), n - cap);
			cr_assert_eq(ndropped_log, n - cap, "drop() once per discarded value");
			for (size_t i = 0; i < ndropped_log; i++)
				cr_assert_eq(dropped_log[i],
					     policy == CHAN_DROP_NEWEST ? cap + i : i,
					     "dropped the wrong value");
			for (uint64_t v = first; v < first + cap; v++) {
				cr_assert_eq(chan_try_recv(c, buf), 0);
				cr_assert_eq(get(buf, es), v,
					     "FIFO with the discarded ones missing");
			}
			cr_assert_eq(chan_try_recv(c, buf), -EAGAIN);
			/* Room again: nothing is discarded. */
			cr_assert_eq(send_form(c, es, n, (unsigned)f), 0); /* fits in 1 byte */
			cr_assert_eq(chan_dropped(c), n - cap);
			reset_log(es);
			chan_release(c);
			cr_assert_eq(ndropped_log, 1, "the value left at release: drop() once");
			cr_assert_eq(dropped_log[0], n);
		}
	}
}

Test(drop, newest_keeps_the_first_cap)
{
	keeps(CHAN_DROP_NEWEST, 8);
}

Test(drop, oldest_keeps_the_last_cap)
{
	keeps(CHAN_DROP_OLDEST, 8);
}

Test(drop, every_element_size)
{
	/* 1 and 24 bytes, and 300: past the evicting push's copy-out limit,
	 * so DROP_OLDEST hands the element to drop() in place. */
	static const size_t sizes[] = {1, 24, 300};

	for (size_t s = 0; s < 3; s++)
		for (size_t p = 0; p < 2; p++)
			keeps(policies[p], sizes[s]);
}

Test(drop, no_drop_function_still_counts)
{
	for (size_t p = 0; p < 2; p++) {
		chan_t *c = mk(8, 3, policies[p], NULL);

		for (uint64_t v = 0; v < 10; v++)
			cr_assert_eq(chan_send(c, &v), 0);
		cr_assert_eq(chan_dropped(c), 7);
		chan_release(c);
	}
}

/* ---- bursts ---------------------------------------------------------------- */

Test(drop, bursts_are_sends_one_by_one)
{
	for (size_t p = 0; p < 2; p++) {
		for (size_t f = 0; f < 4; f++) {
			for (int try = 0; try < 2; try++) {
				const size_t cap = 7, n = 40;
				chan_t *c = mk(8, cap, policies[p] | single_flags[f], log_drop);
				uint64_t in[40], out[8];
				size_t k;

				reset_log(8);
				for (size_t i = 0; i < n; i++)
					in[i] = i;
				/* Two values first, then a burst far above the room. */
				cr_assert_eq(try ? chan_try_send_burst(c, in, 2)
						 : chan_send_burst(c, in, 2),
					     2);
				k = try ? chan_try_send_burst(c, in + 2, n - 2)
					: chan_send_burst(c, in + 2, n - 2);
				cr_assert_eq(k, n - 2, "a policy burst takes every value");
				cr_assert_eq(chan_dropped(c), n - cap);
				cr_assert_eq(ndropped_log, n - cap);
				cr_assert_eq(chan_try_recv_burst(c, out, 8), cap);
				for (size_t i = 0; i < cap; i++)
					cr_assert_eq(out[i], policies[p] == CHAN_DROP_NEWEST
								     ? i
								     : n - cap + i);
				for (size_t i = 0; i < ndropped_log; i++)
					cr_assert_eq(dropped_log[i],
						     policies[p] == CHAN_DROP_NEWEST ? cap + i : i);
				errno = 1234;
				cr_assert_eq(chan_send_burst(c, in, 0), 0);
				cr_assert_eq(errno, 1234, "n == 0 leaves errno alone");
				chan_release(c);
			}
		}
	}
}

/* ---- close ------------------------------------------------------------------ */

Test(drop, closed_policy_channel_refuses_and_drops_nothing)
{
	for (size_t p = 0; p < 2; p++) {
		chan_t *c = mk(8, 2, policies[p], log_drop);
		uint64_t v = 1, got;
		chan_case_t cs = {.chan = c, .op = CHAN_OP_SEND, .elem = &v};

		reset_log(8);
		for (v = 1; v <= 3; v++)
			cr_assert_eq(chan_send(c, &v), 0);
		cr_assert_eq(chan_dropped(c), 1);
		cr_assert_eq(chan_close(c), 0);
		cr_assert_eq(chan_send(c, &v), -EPIPE);
		cr_assert_eq(chan_try_send(c, &v), -EPIPE);
		cr_assert_eq(chan_send_timeout(c, &v, 1000), -EPIPE);
		errno = 0;
		cr_assert_eq(chan_send_burst(c, &v, 1), 0);
		cr_assert_eq(errno, EPIPE);
		errno = 0;
		cr_assert_eq(chan_try_send_burst(c, &v, 1), 0);
		cr_assert_eq(errno, EPIPE);
		cr_assert_eq(chan_select(&cs, 1), 0);
		cr_assert_eq(cs.err, -EPIPE);
		cr_assert_eq(chan_dropped(c), 1, "a refused send discards nothing");
		cr_assert_eq(ndropped_log, 1);
		cr_assert_eq(chan_recv(c, &got), 0);
		cr_assert_eq(got, policies[p] == CHAN_DROP_NEWEST ? 1 : 2);
		cr_assert_eq(chan_recv(c, &got), 0);
		cr_assert_eq(got, policies[p] == CHAN_DROP_NEWEST ? 2 : 3);
		cr_assert_eq(chan_recv(c, &got), -EPIPE);
		chan_release(c);
		cr_assert_eq(ndropped_log, 1, "nothing left at release");
	}
}

/* ---- select ----------------------------------------------------------------- */

Test(drop, select_send_cases_are_always_ready)
{
	for (size_t p = 0; p < 2; p++) {
		chan_t *c = mk(8, 1, policies[p], log_drop);
		chan_t *idle = mk(8, 1, 0, NULL); /* empty: its receive case never fires */
		uint64_t v = 0, got = 0, sink;
		chan_case_t cs[2];

		reset_log(8);
		cr_assert_eq(chan_send(c, &v), 0); /* full from here on */
		for (v = 1; v <= 30; v++) {
			int r;

			cs[0] = (chan_case_t){.chan = idle, .op = CHAN_OP_RECV, .elem = &sink};
			cs[1] = (chan_case_t){.chan = c, .op = CHAN_OP_SEND, .elem = &v};
			switch (v % 3) {
			case 0:
				r = chan_select(cs, 2);
				break;
			case 1:
				r = chan_try_select(cs, 2);
				break;
			default:
				r = chan_select_timeout(cs, 2, 0);
				break;
			}
			cr_assert_eq(r, 1, "a full policy channel's send case fired: %d", r);
			cr_assert_eq(cs[1].err, 0);
			cr_assert_eq(chan_dropped(c), v);
		}
		cr_assert_eq(ndropped_log, 30);
		cr_assert_eq(chan_try_recv(c, &got), 0);
		cr_assert_eq(got, policies[p] == CHAN_DROP_NEWEST ? 0 : 30);
		for (size_t i = 0; i < 30; i++)
			cr_assert_eq(dropped_log[i], policies[p] == CHAN_DROP_NEWEST ? i + 1 : i);
		chan_release(idle);
		chan_release(c);
	}
}

/* ---- a waiting receiver wakes -------------------------------------------- */

struct waiter {
	chan_t *c;
	uint64_t got;
	int r;
};

static void *recv_thread(void *arg)
{
	struct waiter *w = arg;

	w->r = chan_recv(w->c, &w->got);
	return NULL;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0)
		;
}

Test(drop, a_waiting_receiver_is_woken_by_a_send)
{
	for (size_t p = 0; p < 2; p++) {
		struct waiter w = {.c = mk(8, 1, policies[p], NULL), .r = 1};
		uint64_t v = 42;
		pthread_t t;

		pthread_create(&t, NULL, recv_thread, &w);
		sleep_ms(20); /* very likely parked by now; correct either way */
		cr_assert_eq(chan_send(w.c, &v), 0);
		pthread_join(t, NULL);
		cr_assert_eq(w.r, 0);
		cr_assert_eq(w.got, 42);
		chan_release(w.c);
	}
}

/* ---- owning pointers: each freed exactly once (asan checks) ---------------- */

static _Atomic long live_objects;

static void *obj_new(uint64_t v)
{
	uint64_t *o = malloc(32);

	cr_assert_not_null(o);
	*o = v;
	atomic_fetch_add(&live_objects, 1);
	return o;
}

static void obj_free(void *o)
{
	atomic_fetch_sub(&live_objects, 1);
	free(o);
}

static void drop_owned(void *elem)
{
	void *o;

	memcpy(&o, elem, sizeof(o));
	obj_free(o);
}

Test(drop, owning_pointers_are_freed_exactly_once)
{
	for (size_t p = 0; p < 2; p++) {
		for (size_t f = 0; f < 4; f++) {
			chan_t *c =
				mk(sizeof(void *), 8, policies[p] | single_flags[f], drop_owned);
			void *batch[5];

			atomic_store(&live_objects, 0);
			for (uint64_t v = 0; v < 100; v++) {
				void *o = obj_new(v);

				cr_assert_eq(chan_send(c, &o), 0);
				if (v % 10 == 9) {
					void *got;

					cr_assert_eq(chan_recv(c, &got), 0);
					obj_free(got);
				}
			}
			for (int i = 0; i < 5; i++)
				batch[i] = obj_new(1000 + (uint64_t)i);
			cr_assert_eq(chan_send_burst(c, batch, 5), 5);
			cr_assert_eq(atomic_load(&live_objects), 8, "all but the buffered freed");
			chan_release(c); /* drop() frees the 8 still buffered */
			cr_assert_eq(atomic_load(&live_objects), 0);
		}
	}
}
