/* SPDX-License-Identifier: MIT */
/* core/clock_pvt.h - deadline arithmetic (private). */
#ifndef CHAN_CORE_CLOCK_PVT_H
#define CHAN_CORE_CLOCK_PVT_H

#include <stdint.h>

/* A deadline that never comes. */
#define CHAN__FOREVER INT64_MAX

/*
 * chan__deadline() - absolute deadline for a relative timeout: 0 (a past
 * instant) for timeout_ns <= 0, CHAN__FOREVER when the sum would overflow.
 */
int64_t chan__deadline(int64_t timeout_ns);

#endif /* CHAN_CORE_CLOCK_PVT_H */
