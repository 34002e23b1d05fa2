/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/chan_test.c - channel semantics (DESIGN.md) for capacities 0, 1,
 * 7, 1024 and unbounded, with and without the single-producer/consumer flags.
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

#include "core/chan_pvt.h" /* start_blocked() reads the waiter counts */

#define MS 1000000LL

static const size_t caps[] = { 0, 1, 7, 1024, CHAN_UNBOUNDED };
static const size_t buffered_caps[] = { 1, 7, 1024, CHAN_UNBOUNDED };
static const unsigned flag_sets[] = { 0, CHAN_SINGLE_PRODUCER, CHAN_SINGLE_CONSUMER,
				      CHAN_SINGLE_PRODUCER | CHAN_SINGLE_CONSUMER };

static chan_t *mk(size_t cap, unsigned flags)
{
	chan_opts_t o = { .elem_size = sizeof(long), .capacity = cap, .flags = flags };
	chan_t *c = chan_new_opts(&o);

	cr_assert_not_null(c, "chan_new_opts(cap %zu, flags %u): errno %d", cap, flags, errno);
	return c;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

/* ---- construction and bad input --------------------------------------- */

Test(chan, new_rejects_bad_arguments)
{
	errno = 0;
	cr_assert_null(chan_new(0, 1));
	cr_assert_eq(errno, EINVAL);
	errno = 0;
	cr_assert_null(chan_new(CHAN_ELEM_SIZE_MAX + 1, 1));
	cr_assert_eq(errno, EINVAL);
	errno = 0;
	cr_assert_null(chan_new(8, CHAN_CAPACITY_MAX + 1));
	cr_assert_eq(errno, EINVAL);
	errno = 0;
	cr_assert_null(chan_new_opts(NULL));
	cr_assert_eq(errno, EINVAL);
	errno = 0;
	cr_assert_null(chan_new_opts(&(chan_opts_t){ .elem_size = 8, .capacity = 4, .flags = 1u << 7 }));
	cr_assert_eq(errno, EINVAL, "unknown flags are rejected");
	errno = 0;
	cr_assert_null(chan_new_opts(&(chan_opts_t){ .capacity = 4 }));
	cr_assert_eq(errno, EINVAL, "elem_size 0 (a zeroed opts) is rejected");
}

Test(chan, new_reports_enomem)
{
	/* 2^40 slots of 1 MiB: far beyond any address space we can map. */
	errno = 0;
	cr_assert_null(chan_new(CHAN_ELEM_SIZE_MAX, CHAN_CAPACITY_MAX));
	cr_assert_eq(errno, ENOMEM);
}

Test(chan, null_channel_is_einval_everywhere)
{
	long v = 1;

	cr_assert_eq(chan_send(NULL, &v), -EINVAL);
	cr_assert_eq(chan_recv(NULL, &v), -EINVAL);
	cr_assert_eq(chan_try_send(NULL, &v), -EINVAL);
	cr_assert_eq(chan_try_recv(NULL, &v), -EINVAL);
	cr_assert_eq(chan_send_timeout(NULL, &v, MS), -EINVAL);
	cr_assert_eq(chan_recv_timeout(NULL, &v, MS), -EINVAL);
	cr_assert_eq(chan_close(NULL), -EINVAL);
	errno = 0;
	cr_assert_eq(chan_send_burst(NULL, &v, 1), 0);
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(chan_recv_burst(NULL, &v, 1), 0);
	cr_assert_eq(chan_try_send_burst(NULL, &v, 1), 0);
	cr_assert_eq(chan_try_recv_burst(NULL, &v, 1), 0);
	cr_assert_eq(chan_len(NULL), 0);
	cr_assert_eq(chan_cap(NULL), 0);
	cr_assert_eq(chan_elem_size(NULL), 0);
	cr_assert(!chan_is_closed(NULL));
	cr_assert_null(chan_retain(NULL));
	chan_release(NULL);
}

Test(chan, send_of_null_elem_is_einval)
{
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		chan_t *c = mk(caps[i], 0);

		cr_assert_eq(chan_send(c, NULL), -EINVAL);
		cr_assert_eq(chan_try_send(c, NULL), -EINVAL);
		cr_assert_eq(chan_send_timeout(c, NULL, 0), -EINVAL);
		errno = 0;
		cr_assert_eq(chan_send_burst(c, NULL, 3), 0);
		cr_assert_eq(errno, EINVAL);
		cr_assert_eq(chan_len(c), 0, "nothing was sent");
		chan_release(c);
	}
}

Test(chan, cap_and_elem_size_are_reported_exactly)
{
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		chan_t *c = mk(caps[i], 0);

		cr_assert_eq(chan_cap(c), caps[i]);
		cr_assert_eq(chan_elem_size(c), sizeof(long));
		chan_release(c);
	}
	chan_t *c = chan_new(200, 3);
	cr_assert_eq(chan_elem_size(c), 200);
	chan_release(c);
}

/* ---- buffered capacity, order, try ops --------------------------------- */

Test(chan, buffered_capacity_is_exact)
{
	static const size_t bounded[] = { 1, 7, 1024 };

	for (size_t f = 0; f < 4; f++) {
		for (size_t i = 0; i < 3; i++) {
			chan_t *c = mk(bounded[i], flag_sets[f]);
			long v;

			for (v = 0; v < (long)bounded[i]; v++)
				cr_assert_eq(chan_try_send(c, &v), 0);
			cr_assert_eq(chan_try_send(c, &v), -EAGAIN,
				     "cap %zu flags %u: one more than the capacity went in",
				     bounded[i], flag_sets[f]);
			cr_assert_eq(chan_send_timeout(c, &v, 0), -ETIMEDOUT);
			cr_assert_eq(chan_len(c), bounded[i]);
			chan_release(c);
		}
	}
}

Test(chan, fifo_for_every_kind)
{
	for (size_t f = 0; f < 4; f++) {
		for (size_t i = 0; i < sizeof(buffered_caps) / sizeof(buffered_caps[0]); i++) {
			chan_t *c = mk(buffered_caps[i], flag_sets[f]);
			long n = buffered_caps[i] == CHAN_UNBOUNDED ? 5000 : (long)buffered_caps[i];

			/* Several fills walk the ring around. */
			for (int round = 0; round < 3; round++) {
				for (long v = 0; v < n; v++)
					cr_assert_eq(chan_send(c, &v), 0);
				cr_assert_eq(chan_len(c), (size_t)n);
				for (long v = 0; v < n; v++) {
					long got = -1;

					cr_assert_eq(chan_recv(c, &got), 0);
					cr_assert_eq(got, v, "FIFO broken");
				}
			}
			cr_assert_eq(chan_try_recv(c, NULL), -EAGAIN);
			cr_assert_eq(chan_recv_timeout(c, NULL, 0), -ETIMEDOUT);
			chan_release(c);
		}
	}
}

Test(chan, recv_null_discards)
{
	for (size_t i = 0; i < sizeof(buffered_caps) / sizeof(buffered_caps[0]); i++) {
		chan_t *c = mk(buffered_caps[i], 0);
		long a = 1, b = 2, got = 0;

		chan_send(c, &a);
		cr_assert_eq(chan_recv(c, NULL), 0);
		chan_send(c, &b);
		cr_assert_eq(chan_recv(c, &got), 0);
		cr_assert_eq(got, 2, "the discarded value was consumed");
		cr_assert_eq(chan_try_recv(c, NULL), -EAGAIN);
		chan_release(c);
	}
}

Test(chan, elements_of_many_sizes_round_trip)
{
	static const size_t sizes[] = { 1, 3, 8, 24, 64, 200, 4096 };

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		for (size_t i = 0; i < sizeof(buffered_caps) / sizeof(buffered_caps[0]); i++) {
			chan_t *c = chan_new_opts(&(chan_opts_t){ .elem_size = sizes[s],
								  .capacity = buffered_caps[i] });
			unsigned char *in = malloc(sizes[s]), *out = malloc(sizes[s]);

			for (int k = 0; k < 20; k++) {
				for (size_t b = 0; b < sizes[s]; b++)
					in[b] = (unsigned char)(k * 31 + b);
				cr_assert_eq(chan_send(c, in), 0);
				memset(out, 0, sizes[s]);
				cr_assert_eq(chan_recv(c, out), 0);
				cr_assert(memcmp(in, out, sizes[s]) == 0, "size %zu corrupted",
					  sizes[s]);
			}
			free(in);
			free(out);
			chan_release(c);
		}
	}
}

/* ---- close --------------------------------------------------------------- */

Test(chan, close_drains_buffered_values_then_epipe)
{
	for (size_t f = 0; f < 4; f++) {
		for (size_t i = 0; i < sizeof(buffered_caps) / sizeof(buffered_caps[0]); i++) {
			chan_t *c = mk(buffered_caps[i], flag_sets[f]);
			long v = 41, got;

			chan_send(c, &v);
			cr_assert(!chan_is_closed(c));
			cr_assert_eq(chan_close(c), 0);
			cr_assert(chan_is_closed(c));
			cr_assert_eq(chan_close(c), -EPIPE, "close of a closed channel");
			cr_assert_eq(chan_send(c, &v), -EPIPE);
			cr_assert_eq(chan_try_send(c, &v), -EPIPE);
			cr_assert_eq(chan_send_timeout(c, &v, MS), -EPIPE);
			cr_assert_eq(chan_send_burst(c, &v, 1), 0);
			cr_assert_eq(chan_recv(c, &got), 0, "buffered values come first");
			cr_assert_eq(got, 41);
			cr_assert_eq(chan_recv(c, &got), -EPIPE);
			cr_assert_eq(chan_try_recv(c, &got), -EPIPE);
			cr_assert_eq(chan_recv_timeout(c, &got, MS), -EPIPE);
			cr_assert_eq(chan_recv_burst(c, &got, 4), 0);
			chan_release(c);
		}
	}
}

Test(chan, close_unbuffered)
{
	chan_t *c = mk(0, 0);
	long v = 1;

	cr_assert_eq(chan_close(c), 0);
	cr_assert(chan_is_closed(c));
	cr_assert_eq(chan_close(c), -EPIPE);
	cr_assert_eq(chan_send(c, &v), -EPIPE);
	cr_assert_eq(chan_try_send(c, &v), -EPIPE);
	cr_assert_eq(chan_recv(c, &v), -EPIPE);
	cr_assert_eq(chan_try_recv(c, &v), -EPIPE);
	cr_assert_eq(chan_recv_timeout(c, &v, 0), -EPIPE, "closed beats timeout");
	chan_release(c);
}

struct blocked {
	chan_t *c;
	int op; /* 0 recv, 1 send */
	int ret;
	_Atomic int done;
};

static void *block_thread(void *arg)
{
	struct blocked *b = arg;
	long v = 5;

	b->ret = b->op ? chan_send(b->c, &v) : chan_recv(b->c, &v);
	atomic_store(&b->done, 1);
	return NULL;
}

/* Start @n threads blocked in @op (0 receive, 1 send) on @c, and wait until
 * all @n are queued on it (its waiter count), not until they are likely to be. */
static void start_blocked(struct blocked *b, pthread_t *t, int n, chan_t *c, int op)
{
	struct chan__waitq *q = op ? &c->sendq : &c->recvq;

	for (int i = 0; i < n; i++) {
		b[i] = (struct blocked){ .c = c, .op = op };
		pthread_create(&t[i], NULL, block_thread, &b[i]);
	}
	for (int ms = 0; atomic_load(&q->nwait) < (uint32_t)n; ms++) {
		cr_assert_lt(ms, 10000, "the threads never queued");
		sleep_ms(1);
	}
	for (int i = 0; i < n; i++)
		cr_assert_eq(atomic_load(&b[i].done), 0, "an op that must block returned");
}

Test(chan, close_wakes_every_blocked_receiver)
{
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		chan_t *c = mk(caps[i], 0);
		struct blocked b[4];
		pthread_t t[4];

		start_blocked(b, t, 4, c, 0);
		chan_close(c);
		for (int k = 0; k < 4; k++) {
			pthread_join(t[k], NULL);
			cr_assert_eq(b[k].ret, -EPIPE);
		}
		chan_release(c);
	}
}

Test(chan, close_wakes_every_blocked_sender)
{
	static const size_t bounded[] = { 0, 1, 7 };

	for (size_t i = 0; i < 3; i++) {
		chan_t *c = mk(bounded[i], 0);
		struct blocked b[4];
		pthread_t t[4];
		long v = 0;

		for (size_t k = 0; k < bounded[i]; k++)
			chan_send(c, &v); /* fill */
		start_blocked(b, t, 4, c, 1);
		chan_close(c);
		for (int k = 0; k < 4; k++) {
			pthread_join(t[k], NULL);
			cr_assert_eq(b[k].ret, -EPIPE, "a blocked sender must fail on close");
		}
		cr_assert_eq(chan_len(c), bounded[i], "failed senders sent nothing");
		chan_release(c);
	}
}

/* ---- unbuffered rendezvous ---------------------------------------------- */

Test(chan, unbuffered_send_waits_for_a_receiver)
{
	chan_t *c = mk(0, 0);
	struct blocked b;
	pthread_t t;
	long got = 0;

	start_blocked(&b, &t, 1, c, 1);
	cr_assert_eq(chan_len(c), 0);
	cr_assert_eq(chan_recv(c, &got), 0);
	pthread_join(t, NULL);
	cr_assert_eq(b.ret, 0);
	cr_assert_eq(got, 5);
	chan_release(c);
}

Test(chan, unbuffered_try_ops_need_a_waiting_partner)
{
	chan_t *c = mk(0, 0);
	struct blocked b;
	pthread_t t;
	long v = 9;

	cr_assert_eq(chan_try_send(c, &v), -EAGAIN);
	cr_assert_eq(chan_try_recv(c, &v), -EAGAIN);
	cr_assert_eq(chan_send_timeout(c, &v, 0), -ETIMEDOUT);

	start_blocked(&b, &t, 1, c, 0); /* a receiver waits */
	cr_assert_eq(chan_try_send(c, &v), 0);
	pthread_join(t, NULL);
	cr_assert_eq(b.ret, 0);

	start_blocked(&b, &t, 1, c, 1); /* a sender waits */
	v = 0;
	cr_assert_eq(chan_try_recv(c, &v), 0);
	cr_assert_eq(v, 5);
	pthread_join(t, NULL);
	chan_release(c);
}

/* ---- timeouts ------------------------------------------------------------ */

Test(chan, timeouts_are_never_early)
{
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		chan_t *c = mk(caps[i], 0);
		long v = 0;
		int64_t t0 = chan_now();

		cr_assert_eq(chan_recv_timeout(c, &v, 30 * MS), -ETIMEDOUT);
		cr_assert_geq(chan_now() - t0, 30 * MS, "recv timed out early");
		if (caps[i] != CHAN_UNBOUNDED) {
			for (size_t k = 0; k < caps[i]; k++)
				chan_send(c, &v);
			t0 = chan_now();
			cr_assert_eq(chan_send_timeout(c, &v, 30 * MS), -ETIMEDOUT);
			cr_assert_geq(chan_now() - t0, 30 * MS, "send timed out early");
			cr_assert_eq(chan_len(c), caps[i], "a timed-out send sent nothing");
		}
		chan_release(c);
	}
}

Test(chan, zero_and_negative_timeouts_are_already_due)
{
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		chan_t *c = mk(caps[i], 0);
		long v = 3;

		cr_assert_eq(chan_recv_timeout(c, &v, 0), -ETIMEDOUT);
		cr_assert_eq(chan_recv_timeout(c, &v, -5), -ETIMEDOUT);
		if (caps[i] != 0) {
			cr_assert_eq(chan_send_timeout(c, &v, 0), 0, "ready ops succeed at once");
			cr_assert_eq(chan_recv_timeout(c, &v, -1), 0);
		}
		chan_release(c);
	}
}

struct late_sender {
	chan_t *c;
	long ms;
};

static void *send_later(void *arg)
{
	struct late_sender *l = arg;
	long v = 77;

	sleep_ms(l->ms);
	chan_send(l->c, &v);
	return NULL;
}

Test(chan, huge_timeouts_do_not_overflow)
{
	static const int64_t huge[] = { INT64_MAX, INT64_MAX - 1, INT64_MAX / 2 };

	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		for (size_t h = 0; h < 3; h++) {
			chan_t *c = mk(caps[i], 0);
			struct late_sender l = { c, 20 };
			pthread_t t;
			long v = 0;

			pthread_create(&t, NULL, send_later, &l);
			cr_assert_eq(chan_recv_timeout(c, &v, huge[h]), 0,
				     "a huge timeout returned early");
			cr_assert_eq(v, 77);
			pthread_join(t, NULL);
			chan_release(c);
		}
	}
}

Test(chan, timed_recv_gets_a_late_value)
{
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		chan_t *c = mk(caps[i], 0);
		struct late_sender l = { c, 20 };
		pthread_t t;
		long v = 0;

		pthread_create(&t, NULL, send_later, &l);
		cr_assert_eq(chan_recv_timeout(c, &v, 10000 * MS), 0);
		cr_assert_eq(v, 77);
		pthread_join(t, NULL);
		chan_release(c);
	}
}

/* ---- bursts -------------------------------------------------------------- */

Test(chan, bursts_move_in_order)
{
	for (size_t f = 0; f < 4; f++) {
		for (size_t i = 0; i < sizeof(buffered_caps) / sizeof(buffered_caps[0]); i++) {
			chan_t *c = mk(buffered_caps[i], flag_sets[f]);
			long in[64], out[64], next_out = 0, next_in = 0;

			for (int round = 0; round < 50; round++) {
				for (int k = 0; k < 64; k++)
					in[k] = next_in + k;
				size_t n = chan_try_send_burst(c, in, 1 + round % 64);

				cr_assert_leq(chan_len(c), chan_cap(c));
				next_in += (long)n;
				size_t m = chan_try_recv_burst(c, out, 1 + (round * 5) % 64);

				for (size_t k = 0; k < m; k++)
					cr_assert_eq(out[k], next_out + (long)k, "burst order");
				next_out += (long)m;
			}
			while (next_out < next_in) {
				size_t m = chan_recv_burst(c, out, 64);

				cr_assert_geq(m, 1);
				for (size_t k = 0; k < m; k++)
					cr_assert_eq(out[k], next_out + (long)k);
				next_out += (long)m;
			}
			cr_assert_eq(chan_try_recv_burst(c, out, 8), 0);
			chan_close(c);
			cr_assert_eq(chan_recv_burst(c, out, 8), 0, "closed and drained");
			chan_release(c);
		}
	}
}

Test(chan, blocking_bursts_wait_for_room_and_data)
{
	chan_t *c = mk(4, 0);
	long in[10] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 }, out[10];
	struct late_sender l = { c, 20 };
	pthread_t t;

	cr_assert_eq(chan_send_burst(c, in, 10), 4, "a burst takes the room there is");
	cr_assert_eq(chan_recv_burst(c, out, 10), 4);
	pthread_create(&t, NULL, send_later, &l);
	cr_assert_eq(chan_recv_burst(c, out, 10), 1, "blocks until at least one arrives");
	cr_assert_eq(out[0], 77);
	pthread_join(t, NULL);
	chan_release(c);
}

Test(chan, unbuffered_bursts)
{
	chan_t *c = mk(0, 0);
	struct blocked b[3];
	pthread_t t[3];
	long in[5] = { 5, 5, 5, 5, 5 }, out[5];

	cr_assert_eq(chan_try_send_burst(c, in, 5), 0, "nobody waits");
	start_blocked(b, t, 3, c, 0);
	cr_assert_eq(chan_send_burst(c, in, 5), 3, "one per waiting receiver");
	for (int k = 0; k < 3; k++) {
		pthread_join(t[k], NULL);
		cr_assert_eq(b[k].ret, 0);
	}
	start_blocked(b, t, 2, c, 1);
	cr_assert_eq(chan_recv_burst(c, out, 5), 2);
	cr_assert_eq(out[0] + out[1], 10);
	for (int k = 0; k < 2; k++)
		pthread_join(t[k], NULL);
	chan_release(c);
}

/* ---- reference counting and drop ---------------------------------------- */

static _Atomic long drops, drop_sum;

static void drop_long(void *elem)
{
	long v;

	memcpy(&v, elem, sizeof(v));
	atomic_fetch_add(&drops, 1);
	atomic_fetch_add(&drop_sum, v);
}

Test(chan, last_release_drops_what_is_buffered)
{
	for (size_t i = 0; i < sizeof(buffered_caps) / sizeof(buffered_caps[0]); i++) {
		chan_opts_t o = { .elem_size = sizeof(long), .capacity = buffered_caps[i],
				  .drop = drop_long };
		chan_t *c = chan_new_opts(&o);
		long v;

		atomic_store(&drops, 0);
		atomic_store(&drop_sum, 0);
		for (v = 1; v <= 7 && (size_t)v <= chan_cap(c); v++)
			chan_send(c, &v);
		chan_recv(c, &v); /* received values are never dropped */
		cr_assert_eq(chan_retain(c), c);
		chan_release(c);
		cr_assert_eq(atomic_load(&drops), 0, "a release that is not the last drops nothing");
		chan_close(c);
		chan_release(c); /* the last one: frees c */
		long n = buffered_caps[i] < 7 ? (long)buffered_caps[i] : 7;
		cr_assert_eq(atomic_load(&drops), n - 1);
		cr_assert_eq(atomic_load(&drop_sum), n * (n + 1) / 2 - 1);
	}
}

Test(chan, drop_not_called_for_unbuffered_or_empty)
{
	chan_opts_t o = { .elem_size = sizeof(long), .capacity = 0, .drop = drop_long };
	chan_t *c = chan_new_opts(&o);

	atomic_store(&drops, 0);
	chan_release(c);
	o.capacity = 16;
	c = chan_new_opts(&o);
	chan_release(c);
	cr_assert_eq(atomic_load(&drops), 0);
}

/* Issue 10: the bursts' error reporting, exactly as channel.h documents it. */
Test(chan, burst_errno_contract)
{
	static const size_t kinds[] = { 0, 1, 4, CHAN_UNBOUNDED };
	long v[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, out[8];

	for (size_t k = 0; k < 4; k++) {
		chan_t *c = chan_new_opts(&(chan_opts_t){ .elem_size = sizeof(long),
							  .capacity = kinds[k] });

		cr_assert_not_null(c);
		errno = 0;
		cr_assert_eq(chan_try_recv_burst(c, out, 8), 0);
		cr_assert_eq(errno, EAGAIN, "cap %zu: empty try_recv_burst", kinds[k]);
		if (kinds[k] != 0 && kinds[k] != CHAN_UNBOUNDED) {
			cr_assert_eq(chan_try_send_burst(c, v, 8), kinds[k]);
			errno = 0;
			cr_assert_eq(chan_try_send_burst(c, v, 8), 0);
			cr_assert_eq(errno, EAGAIN, "cap %zu: full try_send_burst", kinds[k]);
			errno = 0;
			cr_assert_eq(chan_try_recv_burst(c, out, 2), kinds[k] < 2 ? kinds[k] : 2);
			cr_assert_eq(errno, 0, "a count sets no errno");
		} else if (kinds[k] == 0) {
			errno = 0;
			cr_assert_eq(chan_try_send_burst(c, v, 8), 0);
			cr_assert_eq(errno, EAGAIN, "unbuffered: no receiver waiting");
		} else {
			errno = 0;
			cr_assert_eq(chan_try_send_burst(c, v, 8), 8);
			cr_assert_eq(errno, 0);
		}
		errno = 1234;
		cr_assert_eq(chan_try_send_burst(c, v, 0), 0);
		cr_assert_eq(chan_try_recv_burst(c, out, 0), 0);
		cr_assert_eq(errno, 1234, "n == 0 leaves errno alone");
		errno = 0;
		cr_assert_eq(chan_send_burst(NULL, v, 1), 0);
		cr_assert_eq(errno, EINVAL);
		errno = 0;
		cr_assert_eq(chan_send_burst(c, NULL, 1), 0);
		cr_assert_eq(errno, EINVAL);
		errno = 0;
		cr_assert_eq(chan_recv_burst(NULL, out, 1), 0);
		cr_assert_eq(errno, EINVAL);
		cr_assert_eq(chan_close(c), 0);
		errno = 0;
		cr_assert_eq(chan_send_burst(c, v, 3), 0);
		cr_assert_eq(errno, EPIPE, "cap %zu: send_burst on closed", kinds[k]);
		errno = 0;
		cr_assert_eq(chan_try_send_burst(c, v, 3), 0);
		cr_assert_eq(errno, EPIPE);
		while (chan_try_recv_burst(c, out, 8) > 0)
			;
		errno = 0;
		cr_assert_eq(chan_recv_burst(c, out, 8), 0);
		cr_assert_eq(errno, EPIPE, "cap %zu: closed and drained", kinds[k]);
		errno = 0;
		cr_assert_eq(chan_try_recv_burst(c, out, 8), 0);
		cr_assert_eq(errno, EPIPE);
		chan_release(c);
	}
}
