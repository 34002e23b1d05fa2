/* SPDX-License-Identifier: MIT */
/*
 * tests/model/lock.pml - the queue lock on its own: Drepper's three-state
 * futex mutex of core/lock_pvt.h and core/lock.c (LOCK_FULL in
 * protocol.pml: the L1 CAS 0->1, the spin loop's CAS, the exchange(2) loop
 * with chan__futex_wait(word, 2), the U1 exchange(0) and chan__futex_wake
 * when it was 2; the kernel's futex_wait an atomic compare-and-block, its
 * wake picking any one sleeper).
 *
 * NPROC processes take the lock ROUNDS times each. Properties: mutual
 * exclusion (at most one process between lock and unlock), no invalid end
 * state (no sleeper left behind by an unlock: every process finishes), and
 * with -DNP no cycle without progress (a lock taken). The scenario models
 * rely on exactly this, and use the lock as an abstract mutex.
 */
#define LOCK_FULL
#ifndef NPROC
#define NPROC 3
#endif
#ifndef ROUNDS
#define ROUNDS 2
#endif
#define NC 1
#define CAP 1
#define NV 1
#define BUFFERED(c) 1

#include "protocol.pml"

byte incs;      /* processes inside the critical section */

proctype Locker(byte me)
{
	LOCALS;
	byte n = 0;

	do
	:: n < ROUNDS ->
		lock(0);
progress_locked:
		incs++;
		assert(incs == 1);
		incs--;
		unlock(0);
		n++
	:: else -> break
	od
}

init
{
	byte j;

	atomic {
		j = 0;
		do
		:: j < NPROC -> run Locker(j); j++
		:: j == NPROC -> break
		od;
		j = 0
	}
	_nr_pr == 1;
	assert(lockw[0] == 0)
}
