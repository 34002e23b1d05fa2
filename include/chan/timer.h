/* SPDX-License-Identifier: MIT */
/*
 * chan/timer.h - channels that deliver the time: one-shot (chan_after) and
 * periodic (tickers), Go's time.After and time.Ticker.
 *
 * All timers are served by one background thread, started on first use,
 * that keeps them in a binary heap and sleeps on a futex until the earliest
 * deadline. A value delivered on a timer channel is an int64_t: the
 * chan_now() at which the timer fired (never before its deadline).
 */
#ifndef CHAN_TIMER_H
#define CHAN_TIMER_H

#include <stdint.h>

#include <chan/api.h>
#include <chan/channel.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An opaque periodic timer. */
typedef struct chan_ticker chan_ticker_t;

/**
 * chan_after() - a channel that receives one int64_t after @timeout_ns.
 * @timeout_ns: relative; 0 or less delivers at once.
 *
 * The channel has capacity 1, so the delivery never waits for a receiver.
 * Ownership: the caller owns the channel (one reference; pair with
 * chan_release()). The timer holds its own reference until it fires, so
 * releasing the channel early is safe (the memory lives until then).
 *
 * Concurrency: thread-safe.
 * Return: the channel, or NULL with errno ENOMEM (no memory) or EAGAIN (the
 * timer thread could not be started).
 */
CHAN_API chan_t *chan_after(int64_t timeout_ns);

/**
 * chan_ticker_new() - a channel that receives the time every @period_ns.
 * @period_ns: > 0.
 *
 * Ticks come at start + k * period. Like Go's ticker, the channel holds one
 * tick: a receiver that falls behind misses ticks instead of getting a
 * burst of stale ones.
 * Ownership: the ticker owns its channel; pair with chan_ticker_stop().
 *
 * Return: the ticker, or NULL with errno EINVAL (@period_ns <= 0), ENOMEM
 * or EAGAIN (the timer thread could not be started).
 */
CHAN_API chan_ticker_t *chan_ticker_new(int64_t period_ns);

/**
 * chan_ticker_chan() - the ticker's channel (borrowed: valid until
 * chan_ticker_stop(); chan_retain() it to keep it longer).
 */
CHAN_API chan_t *chan_ticker_chan(chan_ticker_t *t);

/**
 * chan_ticker_stop() - stop and free the ticker.
 *
 * When it returns no tick is being delivered and none will be; a tick
 * already buffered stays in the channel. The ticker's reference to its
 * channel is released (the channel is freed unless someone retained it).
 * Concurrency: call once per ticker; must not race chan_ticker_chan() on
 * the same ticker. NULL is ignored.
 */
CHAN_API void chan_ticker_stop(chan_ticker_t *t);

#ifdef __cplusplus
}
#endif

#endif /* CHAN_TIMER_H */
