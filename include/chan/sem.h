/* SPDX-License-Identifier: MIT */
/*
 * chan/sem.h - a weighted semaphore (golang.org/x/sync/semaphore).
 *
 * A semaphore of @size units hands out weights: chan_sem_acquire(s, n, ctx)
 * takes n units, blocking while fewer are free; chan_sem_release(s, n) gives
 * them back. Waiters are served in FIFO order and never overtaken: while
 * anyone waits, neither acquire nor try_acquire takes units, even units that
 * would fit (so a large request is not starved by a stream of small ones),
 * and a release wakes waiters from the head of the queue for as long as the
 * head fits.
 *
 *	chan_sem_t *s = chan_sem_new(4);		// at most 4 jobs at once
 *	for (int i = 0; i < njobs; i++) {
 *		if (chan_sem_acquire(s, 1, ctx) != 0)
 *			break;				// ctx done
 *		chan_go(job, &jobs[i]);			// job() ends with chan_sem_release(s, 1)
 *	}
 *
 * Concurrency: every function but chan_sem_new/chan_sem_destroy is
 * thread-safe and may be called from threads and tasks. An acquire or a
 * release that finds no waiter is one atomic read-modify-write on the state
 * word (lock-free, no system call); try_acquire is lock-free and never
 * blocks; acquire blocks while it waits (it parks on a channel select with
 * @ctx's done channel, never spins). A release happens-before the acquire
 * that takes the units it freed returns.
 */
#ifndef CHAN_SEM_H
#define CHAN_SEM_H

#include <stdint.h>

#include <chan/api.h>
#include <chan/ctx.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An opaque weighted semaphore. */
typedef struct chan_sem chan_sem_t;

/**
 * chan_sem_new() - a semaphore of @size units, all free.
 * Ownership: pair with chan_sem_destroy().
 * Return: the semaphore, or NULL with errno EINVAL (@size <= 0) or ENOMEM.
 */
CHAN_API chan_sem_t *chan_sem_new(int64_t size);

/**
 * chan_sem_acquire() - take @n units, waiting in FIFO order while they are not free.
 * @ctx: bounds the wait (chan_ctx_background(): no bound).
 *
 * Checks the arguments, then @ctx (already done: its error, even if the
 * units are free), then takes the units if nobody waits and they are free;
 * otherwise it queues behind the waiters and sleeps until a release (or a
 * canceled waiter ahead of it) hands it the units.
 * If @ctx is done while it waits, it leaves the queue and returns @ctx's
 * error with the semaphore as if it had never come: if it was at the head,
 * the next waiters that fit are woken; if it had been handed the units at
 * that moment, it gives them back (which wakes those who fit).
 * Return: 0, or
 *   -EINVAL     @s or @ctx NULL, @n <= 0 or @n > size;
 *   -ECANCELED, -ETIMEDOUT  @ctx's error (before or during the wait);
 *   -ENOMEM     it had to wait and had no memory to (its wait record, or
 *               @ctx's done channel, made by the first wait on @ctx:
 *               chan_ctx_done()); nothing taken.
 * On error nothing is taken.
 */
CHAN_API int chan_sem_acquire(chan_sem_t *s, int64_t n, chan_ctx_t *ctx);

/**
 * chan_sem_try_acquire() - take @n units only if they are free and nobody waits.
 * Lock-free; never blocks, never overtakes a waiter.
 * Return: 0, or -EAGAIN (not free, or someone waits; nothing taken), or
 * -EINVAL (@s NULL, @n <= 0 or @n > size).
 */
CHAN_API int chan_sem_try_acquire(chan_sem_t *s, int64_t n);

/**
 * chan_sem_release() - give back @n units and wake the waiters that now fit.
 *
 * Releasing more than is held (or @n < 0) is a programming error: chan
 * prints where and aborts, as Go's semaphore panics. @n == 0 does nothing.
 * One atomic read-modify-write when nobody waits; otherwise it also takes
 * the queue's lock to hand the units to the head waiters.
 */
CHAN_API void chan_sem_release(chan_sem_t *s, int64_t n);

/**
 * chan_sem_destroy() - free @s (NULL is ignored). Nobody may wait on it or
 * use it concurrently; units still held are simply forgotten.
 */
CHAN_API void chan_sem_destroy(chan_sem_t *s);

#ifdef __cplusplus
}
#endif

#endif /* CHAN_SEM_H */
