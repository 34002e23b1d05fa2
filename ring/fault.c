/* SPDX-License-Identifier: MIT */
/*
 * ring/fault.c - the test-only fault injection countdowns (see fault.h).
 * Invariant: chan__fault_armed counts the threads whose countdown of any
 * kind is non-zero and has not fired yet.
 */
#include "fault.h"

_Atomic unsigned chan__fault_armed;

static _Thread_local struct {
	long countdown; /* > 0: the countdown-th next event fails */
	long seen;
	bool fired;
} fault[CHAN__FAULT_KINDS];

static bool armed_here(void)
{
	for (int k = 0; k < CHAN__FAULT_KINDS; k++)
		if (fault[k].countdown > 0)
			return true;
	return false;
}

bool chan__fault_hit_slow(enum chan__fault_kind kind)
{
	fault[kind].seen++;
	if (fault[kind].countdown == 0 || --fault[kind].countdown > 0)
		return false;
	fault[kind].fired = true;
	if (!armed_here())
		/* Relaxed: a counter of threads, read only as a hint. */
		atomic_fetch_sub_explicit(&chan__fault_armed, 1, memory_order_relaxed);
	return true;
}

void chan__fault_arm(enum chan__fault_kind kind, long k)
{
	bool was = armed_here();

	fault[kind].countdown = k > 0 ? k : 0;
	fault[kind].seen = 0;
	fault[kind].fired = false;
	if (was != armed_here())
		/* Relaxed: see chan__fault_hit(). */
		atomic_fetch_add_explicit(&chan__fault_armed, was ? (unsigned)-1 : 1u,
					  memory_order_relaxed);
}

long chan__fault_seen(enum chan__fault_kind kind)
{
	return fault[kind].seen;
}

bool chan__fault_fired(enum chan__fault_kind kind)
{
	return fault[kind].fired;
}
