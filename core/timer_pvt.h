/* SPDX-License-Identifier: MIT */
/*
 * core/timer_pvt.h - the timer service (private): one thread, one binary
 * heap, a futex sleep until the earliest deadline. Used by chan_after(),
 * tickers and context deadlines.
 */
#ifndef CHAN_CORE_TIMER_PVT_H
#define CHAN_CORE_TIMER_PVT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct chan__timer;

/*
 * The callback runs on the timer thread, without the service lock, at or
 * after @when. It may start or stop other timers. For a one-shot timer the
 * service never touches @t again after calling it, so the callback may free
 * @t; a periodic timer is re-armed after the callback unless stopped.
 */
typedef void (*chan__timer_fn)(struct chan__timer *t, int64_t now);

struct chan__timer {
	int64_t when;	/* absolute CLOCK_MONOTONIC deadline */
	int64_t period; /* > 0: periodic */
	chan__timer_fn fn;
	size_t heap_index; /* under the service lock; SIZE_MAX: not queued */
	bool frees_itself; /* one-shot whose callback frees it: never stopped */
};

/*
 * chan__timer_start() - arm @t (fields when, period, fn set by the caller).
 * Return: 0, -ENOMEM (heap could not grow), -EAGAIN (no timer thread).
 */
int chan__timer_start(struct chan__timer *t);

/*
 * chan__timer_stop() - disarm @t. If its callback is running on the timer
 * thread, wait until it returns (unless called from that callback's own
 * thread). Afterwards the callback will not run again for @t.
 * Return: true if @t was armed and will now never fire.
 */
bool chan__timer_stop(struct chan__timer *t);

#endif /* CHAN_CORE_TIMER_PVT_H */
