/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/large_ring_test.c - rings in every storage class (issue 11).
 *
 * Slots start zero-filled (ring/slots.h stores stamp - index), so a ring in
 * fresh mmap()ed memory needs no initialising pass. Every size class is
 * checked for behaviour: malloc()ed (small) and mmap()ed (committed at
 * creation), with wrap-arounds and fills to capacity.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
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
 * A mapped ring is committed when it is made (core/chan.c says why: pages
 * left to fault in map the zero page first and then break it copy-on-write,
 * a TLB shootdown per page once two threads share the ring), and it works
 * across its pages and a wrap.
 */
Test(large_ring, a_mapped_ring_is_committed_at_creation)
{
	const size_t cap = (size_t)1 << 22; /* 64 MiB of 16-byte slots */
	long long before, after_new;
	chan_t *c;

	before = rss_bytes();
	c = chan_new(sizeof(uint64_t), cap);
	cr_assert_not_null(c, "chan_new(8, 2^22): %s", strerror(errno));
	after_new = rss_bytes();
	cr_assert_geq(before, 0);
	if (RSS_MEANINGFUL)
		cr_assert_geq(after_new - before, 60ll << 20,
			      "RSS grew by only %lld bytes at creation", after_new - before);
	fill_drain(c, (uint64_t)1 << 20);
	cr_assert_eq(chan_cap(c), cap);
	chan_release(c);
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
