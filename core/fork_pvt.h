/* SPDX-License-Identifier: MIT */
/*
 * core/fork_pvt.h - keeping chan usable in a child of fork() (private).
 *
 * The modules that own threads (the timer service, the chan_go pool) hand
 * their fork handlers to core/fork.c, which registers one pthread_atfork()
 * set and calls them in a fixed order: prepare timer then pool (the timer
 * waits for a running callback, which may itself call chan_go(), so the
 * pool lock must not be taken yet), parent and child in the reverse order.
 */
#ifndef CHAN_CORE_FORK_PVT_H
#define CHAN_CORE_FORK_PVT_H

/* Register the handlers (once; retried on a later call if it failed). */
void chan__fork_register(void);

/* core/timer.c */
void chan__timer_fork_prepare(void);
void chan__timer_fork_parent(void);
void chan__timer_fork_child(void);

/* core/task.c */
void chan__pool_fork_prepare(void);
void chan__pool_fork_parent(void);
void chan__pool_fork_child(void);

#endif /* CHAN_CORE_FORK_PVT_H */
