/* SPDX-License-Identifier: MIT */
/*
 * patterns/sem_pvt.h - what the tests may see of a semaphore (private: not
 * installed, not exported from libchan.so).
 */
#ifndef CHAN_PATTERNS_SEM_PVT_H
#define CHAN_PATTERNS_SEM_PVT_H

#include <stddef.h>
#include <stdint.h>

#include <chan/sem.h>

/* The number of queued waiters (takes the queue's lock). */
size_t chan__sem_waiters(chan_sem_t *s);

/* The units held right now (a relaxed snapshot). */
int64_t chan__sem_held(chan_sem_t *s);

#endif /* CHAN_PATTERNS_SEM_PVT_H */
