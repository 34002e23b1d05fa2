/* SPDX-License-Identifier: MIT */
/*
 * core/addrwait_pvt.h - wait on a 32-bit word until it changes, for threads
 * and goroutines alike (private): a futex for threads, and for goroutines
 * a small parking lot (a hashed table of queues keyed by the word's
 * address, as in Go's semaRoot or WebKit's ParkingLot), so that a wait in
 * a goroutine parks the fiber and not its worker.
 */
#ifndef CHAN_CORE_ADDRWAIT_PVT_H
#define CHAN_CORE_ADDRWAIT_PVT_H

#include <stdatomic.h>
#include <stdint.h>

/*
 * chan__addr_wait() - sleep while *@addr == @val, until woken by
 * chan__addr_wake_all(@addr). May return spuriously: callers re-check.
 */
void chan__addr_wait(_Atomic uint32_t *addr, uint32_t val);

/*
 * chan__addr_wake_all() - wake every thread and goroutine waiting on @addr.
 * The caller changed *@addr before, with a seq_cst operation (it is also
 * the release that the wait's re-check acquires): the wake skips the futex
 * call when no thread sleeps, and that needs the order (addrwait.c).
 */
void chan__addr_wake_all(_Atomic uint32_t *addr);

#endif /* CHAN_CORE_ADDRWAIT_PVT_H */
