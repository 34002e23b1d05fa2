/* SPDX-License-Identifier: MIT */
/*
 * chan/clock.h - the library's one clock.
 *
 * Every time in chan is an int64_t count of nanoseconds. Deadlines are
 * absolute on CLOCK_MONOTONIC, as returned by chan_now(); timeouts are
 * relative to the moment of the call.
 */
#ifndef CHAN_CLOCK_H
#define CHAN_CLOCK_H

#include <stdint.h>

#include <chan/api.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * chan_now() - CLOCK_MONOTONIC now, in nanoseconds.
 * Concurrency: thread-safe; wait-free (vDSO, no system call on Linux/x86-64).
 */
CHAN_API int64_t chan_now(void);

#ifdef __cplusplus
}
#endif

#endif /* CHAN_CLOCK_H */
