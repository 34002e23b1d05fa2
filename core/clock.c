/* SPDX-License-Identifier: MIT */
#include <time.h>

#include <chan/clock.h>

#include "clock_pvt.h"

int64_t chan_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t chan__deadline(int64_t timeout_ns)
{
	int64_t now;

	if (timeout_ns <= 0)
		return 0; /* already due: any past instant will do */
	if (timeout_ns == CHAN__FOREVER)
		return CHAN__FOREVER;
	now = chan_now();
	/* Saturate: a huge timeout must not wrap into the past. */
	if (timeout_ns > CHAN__FOREVER - now)
		return CHAN__FOREVER;
	return now + timeout_ns;
}
