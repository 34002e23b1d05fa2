/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/large_ring_test.c - rings in every storage class (issue 11).
 *
 * Slots start zero-filled (ring/slots.h stores stamp - index), so a ring in
 * fresh mmap()ed memory needs no initialising pass. Every size class is
 * checked for behaviour: malloc()ed (small), mmap()ed and committed at
 * creation (below a few MiB), and committed as reached (large), with
 * wrap-arounds and fills to capacity.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <chan/chan.h>

#include "ring/fault.h"

/* ThreadSanitizer commits shadow memory for the application memory it sees
 * mapped and touched (several bytes per byte), so the process's RSS says
 * nothing about the ring's own pages there; the RSS bounds are checked in
 * the other builds. */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RSS_MEANINGFUL 0
#endif
#endif
#if !defined(RSS_MEANINGFUL) && defined(__SANITIZE_THREAD__)
#define RSS_MEANINGFUL 0
#endif
#ifndef RSS_MEANINGFUL
#define RSS_MEANINGFUL 1
#endif

/* Resident bytes of this process now (/proc/self/statm), or -1. */
static long long rss_bytes(void)
{
	long long size, resident;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return -1;
	if (fscanf(f, "%lld %lld", &size, &resident) != 2)
		resident = -1;
	fclose(f);
	return resident < 0 ? -1 : resident * sysconf(_SC_PAGESIZE);
}

/* Fill @c to capacity (or @n), drain it, and do it again across the wrap.
 * Plain checks in the loops: Criterion reports every passing assertion to
 * its runner, which would make a million of them take minutes. */
static void fill_drain(chan_t *c, uint64_t n)
{
	for (int round = 0; round < 2; round++) {
		for (uint64_t i = 0; i < n; i++) {
			uint64_t v = i ^ 0x5a5a5a5aull;

			if (chan_try_send(c, &v) != 0)
				cr_assert_fail("push %llu of %llu failed", (unsigned long long)i,
					       (unsigned long long)n);
		}
		if (n == chan_cap(c)) {
			uint64_t v = 0;

			cr_assert_eq(chan_try_send(c, &v), -EAGAIN, "full at capacity");
		}
		for (uint64_t i = 0; i < n; i++) {
			uint64_t v = 0;

			if (chan_try_recv(c, &v) != 0 || v != (i ^ 0x5a5a5a5aull))
				cr_assert_fail("value %llu of %llu lost or wrong",
					       (unsigned long long)i, (unsigned long long)n);
		}
		cr_assert_eq(chan_try_recv(c, NULL), -EAGAIN, "empty again");
	}
}

Test(large_ring, every_size_class_fills_and_drains)
{
	/* 16-byte slots: up to 4097 malloc()ed, 2^16 (1 MiB) mmap()ed. */
	static const size_t caps[] = { 1, 100, 4097, (size_t)1 << 16, ((size_t)1 << 16) + 3 };

	for (size_t k = 0; k < sizeof(caps) / sizeof(caps[0]); k++) {
		chan_t *c = chan_new(sizeof(uint64_t), caps[k]);

		cr_assert_not_null(c);
		fill_drain(c, caps[k]);
		/* Partly filled, then a wrap in the middle. */
		fill_drain(c, caps[k] / 2 + 1);
		chan_release(c);
	}
}

/*
 * A large ring is committed as it is reached (core/chan.c says why, and why
 * ahead of the senders rather than on fault): creation commits a few MiB,
 * a fill commits what it reaches, and values survive every chunk boundary
 * and the wrap.
 */
Test(large_ring, a_large_ring_is_committed_as_it_is_reached)
{
	const size_t cap = (size_t)1 << 22; /* 64 MiB of 16-byte slots */
	long long before, after_new, after_fill;
	chan_t *c;

	before = rss_bytes();
	c = chan_new(sizeof(uint64_t), cap);
	cr_assert_not_null(c, "chan_new(8, 2^22): %s", strerror(errno));
	after_new = rss_bytes();
	cr_assert_geq(before, 0);
	if (RSS_MEANINGFUL)
		cr_assert_lt(after_new - before, 16ll << 20,
			     "RSS grew by %lld bytes at creation", after_new - before);
	fill_drain(c, (uint64_t)1 << 20); /* two rounds: positions 0 .. 2^21, 32 MiB of slots */
	after_fill = rss_bytes();
	if (RSS_MEANINGFUL) {
		cr_assert_geq(after_fill - before, 30ll << 20, "the fill's slots are resident");
		cr_assert_lt(after_fill - before, 48ll << 20,
			     "RSS grew by %lld bytes for a 32 MiB fill", after_fill - before);
	}
	fill_drain(c, cap); /* every chunk, then the wrap */
	cr_assert_eq(chan_cap(c), cap);
	chan_release(c);
}

/* The single-producer flavour and the bursts commit ahead too: a burst may
 * enter several chunks at once. */
Test(large_ring, bursts_and_single_producer_cross_every_chunk)
{
	const size_t cap = (size_t)1 << 21, n = 50000; /* bursts of 50,000 straddle chunks */
	static const unsigned flags[] = { 0, CHAN_SINGLE_PRODUCER,
					  CHAN_SINGLE_PRODUCER | CHAN_SINGLE_CONSUMER };
	uint64_t *buf = malloc(n * sizeof(uint64_t));

	cr_assert_not_null(buf);
	for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]); f++) {
		chan_opts_t o = { .elem_size = sizeof(uint64_t), .capacity = cap, .flags = flags[f] };
		chan_t *c = chan_new_opts(&o);
		uint64_t next = 0, want = 0;
		bool ok = true;

		cr_assert_not_null(c);
		for (int lap = 0; lap < 3; lap++) {
			size_t sent = 0, got = 0;

			while (sent < cap) {
				size_t k = n < cap - sent ? n : cap - sent;

				for (size_t i = 0; i < k; i++)
					buf[i] = next + i;
				k = chan_try_send_burst(c, buf, k);
				if (k == 0)
					break;
				next += k;
				sent += k;
			}
			ok = ok && sent == cap;
			while (got < sent) {
				size_t k = chan_try_recv_burst(c, buf, n);

				if (k == 0)
					break;
				for (size_t i = 0; i < k; i++)
					ok = ok && buf[i] == want++;
				got += k;
			}
			ok = ok && got == sent;
		}
		cr_assert(ok, "flags %u: every value once, in order", flags[f]);
		chan_release(c);
	}
	free(buf);
}

Test(large_ring, mapping_failure_is_enomem)
{
	chan__fault_arm(CHAN__FAULT_ALLOC, 1);
	chan_t *c = chan_new(sizeof(uint64_t), (size_t)1 << 20);
	int err = errno;

	chan__fault_arm(CHAN__FAULT_ALLOC, 0);
	cr_assert_null(c);
	cr_assert_eq(err, ENOMEM);
}
