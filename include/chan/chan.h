/* SPDX-License-Identifier: MIT */
/*
 * chan/chan.h - everything: Go's concurrency model for C.
 *
 * Include this, link with -lchan (pkg-config chan, or CMake chan::chan).
 * Each concept has its own header; see them for the contracts.
 *
 * fork(). chan registers pthread_atfork() handlers the first time it starts
 * a thread (the chan_go() pool, the timer service). A fork() waits for a
 * timer callback that is running to finish, and the child then has:
 *   - a working chan_go(): the parent's idle pool threads and its goroutine
 *     scheduler (workers, monitor, run queues) are forgotten (they did not
 *     come along); the child's first goroutine starts a fresh scheduler, and
 *     thread-mode tasks start new threads; goroutines of the parent, running
 *     or parked, do not exist in the child (a wake of one is ignored);
 *   - working timers: chan_after(), tickers and context deadlines armed in
 *     the parent before the fork still fire in the child (a new timer thread
 *     starts in the child if any is armed), and new ones work;
 *   - every channel, context and wait group that no other thread was using
 *     at the moment of fork(), with its contents, usable as before.
 * Not safe in the child: an object that another thread of the parent was
 * operating on, or blocked in, when fork() ran. Those threads do not exist
 * in the child, so their queued waits are records of threads that will
 * never return: a send to a receiver that was blocked in another thread
 * "succeeds" into that ghost's buffer, a half-completed ring slot never
 * completes, a lock they held stays held (and a timer that fires into such
 * a channel blocks the child's timer thread on that lock, so no later timer
 * fires). Tasks running in the parent do not run in the child; a fork()
 * made from a goroutine gives a child that should only exec() or _exit(). This is the usual rule for fork() in a threaded
 * program (POSIX allows only async-signal-safe calls in such a child; glibc
 * makes malloc and thread creation work there, and chan relies on it). As in
 * Go, fork() followed by exec() is always fine.
 */
#ifndef CHAN_CHAN_H
#define CHAN_CHAN_H

#include <chan/api.h>
#include <chan/channel.h>
#include <chan/clock.h>
#include <chan/ctx.h>
#include <chan/select.h>
#include <chan/task.h>
#include <chan/timer.h>
#include <chan/limiter.h>
#include <chan/sem.h>
#include <chan/group.h>
#include <chan/stage.h>
#include <chan/async.h>
#include <chan/pubsub.h>
#include <chan/pool.h>

#endif /* CHAN_CHAN_H */
