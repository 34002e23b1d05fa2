/* SPDX-License-Identifier: MIT */
/*
 * tests/common/expect.h - checks made on threads other than the test's own.
 *
 * Criterion's cr_assert() unwinds the thread that calls it, which must be
 * the test's: a worker thread that asserts leaves the test half run. So
 * workers EXPECT(): the first broken invariant is recorded (its message
 * kept), later ones are ignored, and the test thread reports it with
 * EXPECT_REPORTED() or reads expect_failed() / expect_failure.
 *
 * One record per test program (static): tests run one at a time.
 */
#ifndef CHAN_TESTS_EXPECT_H
#define CHAN_TESTS_EXPECT_H

#include <stdatomic.h>
#include <stdio.h>

static _Atomic int expect_failed_once;
static char expect_failure[256];

#define EXPECT(cond, ...)                                                                  \
	do {                                                                               \
		if (__builtin_expect(!(cond), 0) &&                                        \
		    atomic_exchange(&expect_failed_once, 1) == 0)                          \
			snprintf(expect_failure, sizeof(expect_failure), __VA_ARGS__);     \
	} while (0)

/* Whether a worker's EXPECT() failed (seq_cst: after the workers joined). */
static inline int expect_failed(void)
{
	return atomic_load(&expect_failed_once);
}

/* On the test thread: fail the test with the first recorded message. */
#define EXPECT_REPORTED() cr_assert_eq(expect_failed(), 0, "%s", expect_failure)

#endif /* CHAN_TESTS_EXPECT_H */
