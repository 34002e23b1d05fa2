/* SPDX-License-Identifier: MIT */
/*
 * core/futex_pvt.h - the two futex calls chan needs (private, Linux).
 */
#ifndef CHAN_CORE_FUTEX_PVT_H
#define CHAN_CORE_FUTEX_PVT_H

#include <errno.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "clock_pvt.h"

/*
 * chan__futex_wait() - sleep while *@addr == @val, until woken or until the
 * absolute CLOCK_MONOTONIC @deadline (CHAN__FOREVER: no deadline).
 * FUTEX_WAIT_BITSET takes an absolute timeout, so a retry after EINTR keeps
 * the original deadline instead of starting a new relative one.
 *
 * Return: 0 (woken, maybe spuriously), -EAGAIN (*@addr != @val),
 * -EINTR or -ETIMEDOUT. Every caller re-reads *@addr: none of these is
 * proof of anything.
 */
static inline int chan__futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t deadline)
{
	struct timespec ts, *tsp = NULL;

	if (deadline != CHAN__FOREVER) {
		ts.tv_sec = (time_t)(deadline / 1000000000);
		ts.tv_nsec = (long)(deadline % 1000000000);
		tsp = &ts;
	}
	if (syscall(SYS_futex, (void *)addr, FUTEX_WAIT_BITSET_PRIVATE, val, tsp, NULL,
		    FUTEX_BITSET_MATCH_ANY) == 0)
		return 0;
	return -errno;
}

/* chan__futex_wake() - wake up to @n threads sleeping on @addr. */
static inline void chan__futex_wake(_Atomic uint32_t *addr, int n)
{
	syscall(SYS_futex, (void *)addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

#endif /* CHAN_CORE_FUTEX_PVT_H */
