/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/large_ring_test.c - making a ring costs O(1) and its memory
 * follows use (issue 11).
 *
 * Slots start zero-filled (ring/slots.h stores stamp - index), so a ring in
 * fresh mmap()ed memory needs no initialising pass: a ring larger than
 * core/chan.c's populate limit costs no RSS until positions reach its pages.
 * Every size class is checked for behaviour: malloc()ed (small), mmap()ed and
 * populated, mmap()ed and lazy, with wrap-arounds and fills to capacity.
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
	/* 16-byte slots: up to 4097 malloc()ed, 2^16 (1 MiB) mmap()ed and
	 * populated; the lazy class is the next test's. */
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

Test(large_ring, a_huge_ring_costs_no_memory_until_used)
{
	const size_t cap = (size_t)1 << 26; /* 1 GiB of 16-byte slots */
	long long before, after_new, after_use;
	chan_t *c;

	before = rss_bytes();
	c = chan_new(sizeof(uint64_t), cap);
	cr_assert_not_null(c, "chan_new(8, 2^26): %s", strerror(errno));
	after_new = rss_bytes();
	cr_assert_geq(before, 0);
	/* Nothing touched: a few pages for the header, not 1 GiB. */
	if (RSS_MEANINGFUL)
		cr_assert_lt(after_new - before, 16ll << 20, "RSS grew by %lld bytes at creation",
		     after_new - before);
	/* 1M values touch 16 MiB of slots: the RSS follows. */
	fill_drain(c, (uint64_t)1 << 20);
	after_use = rss_bytes();
	if (RSS_MEANINGFUL)
		cr_assert_lt(after_use - before, 256ll << 20, "RSS grew by %lld bytes for 16 MiB used",
		     after_use - before);
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
