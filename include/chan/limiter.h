/* SPDX-License-Identifier: MIT */
/*
 * chan/limiter.h - a token bucket with golang.org/x/time/rate's meaning.
 *
 * A limiter admits events at @events_per_s on average, with bursts of up to
 * @burst: the bucket holds @burst tokens, starts full, refills at the rate,
 * and an event of n tokens takes n. Over any window [t, t+d] it admits at
 * most burst + rate*d events; rate 0 admits exactly the tokens in the bucket
 * (the burst, once) and never refills; burst 0 with a finite rate admits
 * nothing; CHAN_LIMIT_INF admits everything and ignores the burst.
 *
 *	chan_limiter_t *l = chan_limiter_new(10, 1);	// 10 per second
 *	for (;;) {
 *		if (chan_limiter_wait(l, 1, ctx) != 0)	// sleeps until the next token
 *			break;				// ctx canceled or out of time
 *		handle(next_request());
 *	}
 *
 * Time. Every time is an int64_t count of nanoseconds on chan_now()'s clock
 * (CLOCK_MONOTONIC). The calls without a time argument (allow, wait,
 * set_rate, set_burst) read chan_now(); the others take the caller's @now_ns,
 * so that a program (or a test) can drive the limiter along its own time
 * line. A @now_ns earlier than the latest time that changed the limiter
 * counts as that time: no time passed (no tokens come back, none are lost).
 *
 * How it works. The state is one 64-bit word holding the GCRA theoretical
 * arrival time (governor's algorithm): the time at which the bucket would
 * be full again. An admission is one compare-and-swap on it, in integer
 * nanoseconds with saturating arithmetic, so there is no float drift and a
 * tiny rate (1e-10/s) never overflows into "no wait". The emission interval
 * 1e9/rate is rounded up to a whole nanosecond (coarser units are used only
 * when burst/rate exceeds 2^56 ns), so the limiter is never faster than
 * asked: rates above 1e9/s act as 1e9/s, and a rate whose interval is not a
 * whole number of ns is slowed by under 1 ns per token. When burst/rate
 * exceeds 2^56 ns (2.3 years to refill, e.g. 1e-9/s), the unit is the
 * smallest power of two ns that fits, and times are rounded down to it (16
 * ns at 1e-9/s): an event is then timed up to one unit early, so a window
 * bound holds up to one unit. The clock spans 2^57 units (at least 4.5
 * years) each side of a base, which moves forward by itself (a
 * configuration change that keeps everything) once time is half-way there;
 * a time beyond the span counts as its end (no refill, no reservation).
 *
 * Reservations (chan_reservation_t, filled in by chan_limiter_reserve()):
 *   n          the tokens reserved; 0 after a failed reserve.
 *   act_at_ns  when the events may happen: the time of the reserve if the
 *              tokens were there, else when they will have come. After a
 *              failed reserve with -ETIMEDOUT, when they would have come
 *              (INT64_MAX: never).
 *   tat_end    the limiter's theoretical arrival time just after this
 *              reservation (INT64_MIN: it took nothing, as on an unlimited
 *              limiter or after a failed reserve; INT64_MAX at rate 0, where
 *              there is no time to speak of). chan_limiter_cancel()
 *              compares it with the limiter's: if nothing was reserved since,
 *              all n tokens come back; otherwise, as in x/time/rate, the
 *              tokens that later reservations scheduled past act_at_ns are
 *              not restored (those reservations keep their times).
 * A reservation is plain data: copy it, keep it, or drop it (no cleanup).
 *
 * Concurrency: every function is thread-safe and may be called from threads
 * and tasks alike. allow, allow_n, reserve, cancel and tokens are lock-free
 * (a CAS loop on the state word; a reader that loses a race retries) and
 * never block or make a system call (allow only reads chan_now()). set_rate
 * and set_burst are lock-free with respect to those, and serialized among
 * themselves by a mutex; an operation that runs at the same time as one is
 * decided entirely under the old or entirely under the new configuration.
 * wait and wait_all block (they park on a channel select, never spin).
 * chan_limiter_destroy() must not run concurrently with any other call.
 *
 * chan_throttle() is the stage form (chan/stage.h's contract): the seed's
 * time.Tick loop, "for req := range requests { <-limiter; out <- req }",
 * with bursts.
 */
#ifndef CHAN_LIMITER_H
#define CHAN_LIMITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <chan/api.h>
#include <chan/channel.h>
#include <chan/ctx.h>
#include <chan/group.h>
#include <chan/stage.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A rate that admits every event (x/time/rate's Inf); the burst is ignored. */
#define CHAN_LIMIT_INF (-1.0)

/** An opaque token bucket. */
typedef struct chan_limiter chan_limiter_t;

/** A reservation of tokens; see "Reservations" above for the fields. */
typedef struct chan_reservation {
	size_t n;
	int64_t act_at_ns, tat_end;
} chan_reservation_t;

/**
 * chan_limiter_new() - a token bucket, full.
 * @events_per_s: tokens per second, >= 0 (0: the burst once, never refilled),
 *                or CHAN_LIMIT_INF (also any value >= HUGE_VAL).
 * @burst:        the bucket's size (bursts above 2^56 tokens act as 2^56).
 *
 * Ownership: pair with chan_limiter_destroy().
 * Return: the limiter, or NULL with errno EINVAL (@events_per_s negative and
 * not CHAN_LIMIT_INF, or NaN) or ENOMEM.
 */
CHAN_API chan_limiter_t *chan_limiter_new(double events_per_s, size_t burst);

/** chan_limiter_destroy() - free @l (NULL is ignored). No call may be running on it. */
CHAN_API void chan_limiter_destroy(chan_limiter_t *l);

/** chan_limiter_allow() - chan_limiter_allow_n(l, chan_now(), 1). */
CHAN_API bool chan_limiter_allow(chan_limiter_t *l);

/**
 * chan_limiter_allow_n() - take @n tokens at @now_ns if they are there.
 *
 * True if the bucket held @n tokens (they are taken); false, and nothing
 * changes, if it did not, if @n exceeds the burst, or if @l is NULL. With
 * @n == 0: true unless reservations have taken the bucket below zero.
 * Concurrency: lock-free.
 */
CHAN_API bool chan_limiter_allow_n(chan_limiter_t *l, int64_t now_ns, size_t n);

/**
 * chan_limiter_reserve() - take @n tokens at @now_ns, now or in the future.
 * @max_wait_ns: the longest acceptable wait after @now_ns (0: only if the
 *               tokens are there; negative: nothing can be reserved).
 * @r:           filled in (see "Reservations"); on error too.
 *
 * If the tokens are there, r->act_at_ns is @now_ns; otherwise they are
 * taken from the future (the bucket goes below zero) and r->act_at_ns is
 * when they will have come. The caller acts at r->act_at_ns, or gives the
 * tokens back with chan_limiter_cancel().
 * Concurrency: lock-free.
 * Return: 0, or
 *   -EINVAL     @l or @r NULL, or @n > burst (a finite rate);
 *   -ETIMEDOUT  the tokens come later than @now_ns + @max_wait_ns (or never:
 *               rate 0, or a wait beyond the limiter's clock span of 2^56
 *               units, at least 2.2 years).
 * On error the limiter is unchanged, r->n is 0 and r->tat_end INT64_MIN.
 */
CHAN_API int chan_limiter_reserve(chan_limiter_t *l, int64_t now_ns, size_t n,
				  int64_t max_wait_ns, chan_reservation_t *r);

/**
 * chan_limiter_cancel() - give back the tokens of @r, at @now_ns.
 *
 * x/time/rate's Reservation.CancelAt(): nothing happens if r->n is 0,
 * r->tat_end is INT64_MIN, the limiter is unlimited, or r->act_at_ns is
 * already past (the events may
 * have happened). Otherwise r's tokens go back into the bucket (never above
 * the burst), less those that reservations made after r scheduled past
 * r->act_at_ns. Cancel a reservation once; r itself is not changed.
 * Concurrency: lock-free. NULL @l or @r is ignored.
 */
CHAN_API void chan_limiter_cancel(chan_limiter_t *l, const chan_reservation_t *r, int64_t now_ns);

/**
 * chan_limiter_wait() - block until @n tokens can be taken, and take them.
 * @ctx: bounds the wait (chan_ctx_background(): no bound).
 *
 * Checks, in this order: arguments; @ctx already done (its error, nothing
 * taken); then reserves the tokens at chan_now(), refusing at once with
 * -ETIMEDOUT (nothing taken) if they would come after @ctx's deadline, or
 * would never come. It then sleeps until the reservation's time and never
 * returns 0 before it. If @ctx is done while it sleeps, the reservation is
 * canceled as by chan_limiter_cancel() and @ctx's error is returned; if the
 * reservation's time has come by then, it returns 0 instead (never both).
 * Concurrency: blocking; parks on a select over @ctx's done channel with a
 * timeout (no spinning); spurious wakeups are absorbed.
 * Return: 0, or
 *   -EINVAL      @l or @ctx NULL, or @n > burst (a finite rate);
 *   -ECANCELED   @ctx was canceled (before the call, or while it slept);
 *   -ETIMEDOUT   @ctx's deadline passed, or the tokens come too late or never;
 *   -ENOMEM      no memory to wait (the done channel of @ctx, made by its
 *                first wait, see chan_ctx_done(); or the select's
 *                bookkeeping); the reservation was canceled.
 */
CHAN_API int chan_limiter_wait(chan_limiter_t *l, size_t n, chan_ctx_t *ctx);

/**
 * chan_limiter_wait_all() - chan_limiter_wait() on @k limiters at once, all
 * or none (a per-user, a per-tenant and a global limit, say).
 *
 * Reserves @n tokens on each at one chan_now(), sleeps until the latest of
 * the reservations' times, and returns 0. If any reservation fails, or @ctx
 * is done while it sleeps, every reservation it made is canceled (as by
 * chan_limiter_cancel()) and the error is returned. @k == 0 returns 0 (after
 * the checks).
 * Concurrency: blocking, as chan_limiter_wait(). All-or-none is exact when no
 * other reservation comes between; another one made meanwhile on the same
 * limiter keeps its time, as cancel's rule says.
 * Return: as chan_limiter_wait(), with -EINVAL also for @ls NULL (@k > 0), a
 * NULL entry, or @n above any finite-rate limiter's burst; -ENOMEM also when
 * @k > 16 and the reservations' array cannot be allocated (nothing taken).
 */
CHAN_API int chan_limiter_wait_all(chan_limiter_t *const ls[], size_t k, size_t n,
				   chan_ctx_t *ctx);

/**
 * chan_limiter_set_rate() - change the rate, keeping the current token count.
 *
 * The count is taken at chan_now() (or at the limiter's latest time, if that
 * is later) under the old rate, and refills at the new one from then on
 * (x/time/rate's SetLimit). From CHAN_LIMIT_INF the bucket is full. A NaN or
 * negative rate other than CHAN_LIMIT_INF is ignored. NULL @l is ignored.
 * Concurrency: see the file comment (lock-free for the other calls).
 */
CHAN_API void chan_limiter_set_rate(chan_limiter_t *l, double events_per_s);

/**
 * chan_limiter_set_burst() - change the bucket's size, keeping the current
 * token count (capped at the new burst), as x/time/rate's SetBurst.
 * NULL @l is ignored. Concurrency: as chan_limiter_set_rate().
 */
CHAN_API void chan_limiter_set_burst(chan_limiter_t *l, size_t burst);

/**
 * chan_limiter_tokens() - the tokens in the bucket at @now_ns: at most the
 * burst, negative while reservations wait for future tokens; INFINITY for an
 * unlimited limiter; 0 for NULL. Changes nothing. Lock-free.
 */
CHAN_API double chan_limiter_tokens(chan_limiter_t *l, int64_t now_ns);

/**
 * chan_throttle() - a stage that forwards @in's elements, in order, no
 * faster than @l admits them (the seed's time.Tick loop), in bursts.
 * @g:  the group (chan/group.h); the stage's task is one of its tasks.
 * @in: the input; the stage takes its own reference.
 * @l:  the limiter, borrowed: it must outlive the stage (until
 *      chan_group_wait() returns) and may be shared with other users,
 *      other throttles included; each element takes one token.
 * @o:  options (NULL: defaults). o->out: the output (elem_size 0 or the
 *      input's; capacity 0, the default, is unbuffered); o->batch: the
 *      largest burst (0 = 1); o->out.drop receives the elements taken and
 *      not forwarded on cancel. o->workers, flags, window, clone and
 *      in_drop are ignored.
 *
 * One task takes an element (waiting for it), reads the tokens the bucket
 * holds, takes up to that many more elements that are ready (at most
 * o->batch in all), takes their tokens and sends them with one burst. With
 * no token it reserves one (chan_limiter_reserve()) and parks until the
 * reservation's time or the group's cancel, which gives the reservation
 * back. Tokens are taken only for elements it holds, and an element is
 * sent only after its token was taken: over any window [t, t+d] the stage
 * (with every other user of @l) starts at most burst + rate*d sends. A
 * send can wait for room in the output (or, unbuffered, for a receiver)
 * after its token was taken, and an output buffer lets a slow receiver
 * find several elements at once: the rate is that of the stage's sends,
 * as in Go. CHAN_LIMIT_INF forwards everything; rate 0 forwards the
 * tokens in the bucket, then waits for the cancel, as does burst 0. A
 * limiter that cannot refill (rate 0, burst 0) is looked at again after
 * 1 ms, doubling up to 1 s, so a later set_rate()/set_burst() is seen. A
 * reservation that the ctx's deadline cannot cover is still made: the
 * stage waits for the deadline to cancel the group (it never closes its
 * output before then, unlike chan_limiter_wait()'s at-once -ETIMEDOUT).
 *
 * Closing: the output closes once @in is closed and drained and every
 * element was sent, or when the group is canceled (or the output was
 * closed by someone else), after the last drop(). Elements still
 * buffered in @in on cancel stay there. The stage reports no error to the
 * group.
 * Concurrency: thread-safe; the stage's task blocks (parks), never spins.
 * Return: the output (one reference for the caller), or NULL with errno
 *   EINVAL     @g, @in or @l NULL; o->out.elem_size neither 0 nor @in's;
 *              o->out options that chan_new_opts() refuses;
 *   ECANCELED  the group is already canceled;
 *   ENOMEM     out of memory;
 *   EAGAIN     the task could not be started.
 * On error nothing was started and nothing is retained.
 */
CHAN_API chan_t *chan_throttle(chan_group_t *g, chan_t *in, chan_limiter_t *l,
			       const chan_stage_opts_t *o);

#ifdef __cplusplus
}
#endif

#endif /* CHAN_LIMITER_H */
