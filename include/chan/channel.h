/* SPDX-License-Identifier: MIT */
/*
 * chan/channel.h - Go-style channels: typed-by-size FIFO queues that block.
 *
 * A channel moves fixed-size elements (elem_size bytes, copied in and out)
 * from senders to receivers, first in first out. Three kinds exist:
 *
 *   capacity 0               unbuffered: a send completes only when a
 *                            receiver has taken the value (rendezvous);
 *   1 <= capacity <= CHAN_CAPACITY_MAX
 *                            buffered: holds at most @capacity elements
 *                            (exactly: chan_cap() reports it);
 *   CHAN_UNBOUNDED           grows without limit: a send never blocks.
 *
 * Concurrency table (which calls may run at once on one channel):
 *
 *                         | send/try/timeout/burst | recv/... | close | len/cap/is_closed
 *   send/try/timeout/burst| yes (*)                | yes      | yes   | yes
 *   recv/try/timeout/burst| yes                    | yes (**) | yes   | yes
 *   close                 | yes                    | yes      | yes   | yes
 *   chan_release (last)   | no: the last reference must not race any other call
 *
 *   (*)  unless CHAN_SINGLE_PRODUCER was given: then one sender at a time.
 *   (**) unless CHAN_SINGLE_CONSUMER was given: then one receiver at a time.
 *   With CHAN_DROP_OLDEST a sender to a full channel also takes the oldest
 *   value, racing the receivers; the table is the same (see enum chan_flags).
 *   chan_dropped() may run at once with anything but the last release.
 *
 * Progress: try_ calls on buffered channels are lock-free, except that a
 * receiver may briefly wait for a sender that has reserved a slot and is
 * still copying into it (and vice versa); this is the window of every
 * per-slot-sequence ring. Calls on unbuffered channels and every call that
 * blocks take a short per-channel lock around the wait queues. A call that
 * finds nobody waiting on the other side makes no system call.
 *
 * Happens-before, as in Go: a send happens-before the receive that takes the
 * value completes; chan_close() happens-before a receive that returns -EPIPE
 * because of it.
 *
 * Ownership: chan_new()/chan_new_opts() return a channel holding one
 * reference, owned by the caller. chan_retain() adds one; chan_release()
 * drops one, and the last release frees the channel (running drop() on every
 * element still buffered). Every thread that calls into a channel must hold,
 * or be covered by, a reference for the whole call.
 */
#ifndef CHAN_CHANNEL_H
#define CHAN_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <chan/api.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An opaque channel. */
typedef struct chan chan_t;

/** Capacity of a channel that never fills (chan_new_opts() only). */
#define CHAN_UNBOUNDED ((size_t)-1)

/** Largest bounded capacity: 2^40 elements. Larger gives -EINVAL. */
#define CHAN_CAPACITY_MAX ((size_t)1 << 40)

/** Largest element: 1 MiB. Copying more per operation is not a channel's job. */
#define CHAN_ELEM_SIZE_MAX ((size_t)1 << 20)

/**
 * Flags for chan_opts_t.flags.
 *
 * CHAN_SINGLE_PRODUCER and CHAN_SINGLE_CONSUMER are promises by the caller,
 * and let the channel pick a cheaper ring; breaking a promise is undefined
 * behaviour. They are ignored for unbuffered and unbounded channels.
 *
 * CHAN_DROP_NEWEST and CHAN_DROP_OLDEST are overflow policies (Kotlin's
 * BufferOverflow) for bounded channels (1 <= capacity <= CHAN_CAPACITY_MAX)
 * only: with capacity 0 or CHAN_UNBOUNDED, or both together, chan_new_opts()
 * fails with EINVAL. With either, no send ever waits: chan_send(),
 * chan_try_send(), chan_send_timeout(), the send bursts and select send cases
 * return 0 (the value went in, or was discarded and drop() ran on it) or
 * -EPIPE (closed, as always: nothing was sent, nothing discarded, drop() not
 * called). A send to a full channel
 *   DROP_NEWEST  discards the value being sent;
 *   DROP_OLDEST  evicts the oldest buffered value and enqueues the new one, as
 *                one atomic step (ring/evict.h): a receiver never sees a gap
 *                or a value twice, and a receiver and an evicting sender never
 *                both take the same value.
 * Receivers see the sent values in FIFO order with the discarded ones
 * missing (for DROP_OLDEST always the oldest). A send discards only when the
 * channel is full at its linearization point, so a channel that never fills
 * never discards. Each discarded value goes to drop() (if set) exactly once,
 * in the sending thread before the send returns, and is counted by
 * chan_dropped(). Such a drop() may only read its element (for DROP_NEWEST
 * it is the sender's own @elem) and must not call into the channel. A burst
 * behaves as its values sent one by one, in order. A send that discards still
 * wakes a waiting receiver, as any send does.
 *
 * Combinations: DROP_NEWEST with either SINGLE_ flag means what the SINGLE_
 * flag says. DROP_OLDEST with CHAN_SINGLE_PRODUCER likewise. DROP_OLDEST with
 * CHAN_SINGLE_CONSUMER is accepted and correct, but the promise buys nothing:
 * an evicting sender takes the oldest value as a second consumer would, so
 * the channel keeps its multi-consumer ring (the caller's single receiver
 * still may rely on FIFO order).
 *
 * Progress with the drop policies: as for the other buffered sends; an
 * evicting send is lock-free, except that between its two CASes (no user
 * code) another sender on the same channel waits for it, as for a sender
 * still copying into its slot.
 */
enum chan_flags {
	/** At most one thread sends (send, try_send, send_burst ...) at a time. */
	CHAN_SINGLE_PRODUCER = 1u << 0,
	/** At most one thread receives at a time. */
	CHAN_SINGLE_CONSUMER = 1u << 1,
	/** A send to a full channel discards the value being sent (drop() runs on it). */
	CHAN_DROP_NEWEST = 1u << 2,
	/** A send to a full channel evicts the oldest buffered value (drop() runs on it)
	 * and enqueues the new one, as one atomic step. */
	CHAN_DROP_OLDEST = 1u << 3,
};
/* DESIGN.md declares the policies as macros: #ifdef CHAN_DROP_OLDEST works. */
#define CHAN_DROP_NEWEST CHAN_DROP_NEWEST
#define CHAN_DROP_OLDEST CHAN_DROP_OLDEST

/**
 * struct chan_opts - how to build a channel. Zeroed fields mean defaults;
 * fields may be added at the end in later versions, so initialise with a
 * designated initialiser: (chan_opts_t){ .elem_size = 8, .capacity = 16 }.
 * @elem_size: bytes per element, 1 .. CHAN_ELEM_SIZE_MAX.
 * @capacity:  0 (unbuffered), 1 .. CHAN_CAPACITY_MAX, or CHAN_UNBOUNDED.
 * @flags:     CHAN_SINGLE_PRODUCER, CHAN_SINGLE_CONSUMER, and at most one of
 *             CHAN_DROP_NEWEST / CHAN_DROP_OLDEST (bounded only); or 0.
 * @drop:      if not NULL, called once with a pointer to every element still
 *             buffered when the channel is freed (never for elements that were
 *             received). It runs in the thread of the last chan_release().
 *             With a drop policy it also runs once for every value the
 *             policy discards, in the sending thread (see enum chan_flags).
 */
typedef struct chan_opts {
	size_t elem_size;
	size_t capacity;
	unsigned flags;
	void (*drop)(void *elem);
} chan_opts_t;

/**
 * chan_new() - create a channel.
 * @elem_size: bytes per element, 1 .. CHAN_ELEM_SIZE_MAX.
 * @capacity:  0 for unbuffered, 1 .. CHAN_CAPACITY_MAX for buffered, or
 *             CHAN_UNBOUNDED.
 *
 * The same as chan_new_opts() with only these two fields set. A ring's
 * address space is reserved here (capacity slots of elem_size + 8 bytes,
 * rounded up to 8). Small rings are allocated and zeroed here; rings above
 * a few MiB are committed as they are reached: creation is O(1) (1 GiB of
 * slots in ~2 ms), the first few MiB are committed at once, and senders
 * commit the rest a chunk ahead of where they write, so RSS follows the
 * highest fill level, not the capacity. Memory that the kernel cannot
 * provide then is handled as for any memory committed on first touch (the
 * OOM killer), not reported as ENOMEM.
 *
 * Concurrency: thread-safe. Pair with chan_release().
 *
 * Return: a channel holding one reference, or NULL with errno set to
 *   EINVAL  @elem_size is 0 or above CHAN_ELEM_SIZE_MAX, or @capacity is
 *           above CHAN_CAPACITY_MAX (and not CHAN_UNBOUNDED);
 *   ENOMEM  out of memory.
 */
CHAN_API chan_t *chan_new(size_t elem_size, size_t capacity);

/**
 * chan_new_opts() - create a channel with options.
 * @opts: see struct chan_opts; read only during the call.
 *
 * Concurrency: thread-safe. Pair with chan_release().
 *
 * Return: a channel holding one reference, or NULL with errno set to
 *   EINVAL  @opts is NULL, a field is out of range, an unknown flag is set,
 *           CHAN_DROP_NEWEST and CHAN_DROP_OLDEST are both set, or either is
 *           set with capacity 0 or CHAN_UNBOUNDED;
 *   ENOMEM  out of memory.
 */
CHAN_API chan_t *chan_new_opts(const chan_opts_t *opts);

/**
 * chan_retain() - take one more reference.
 * @c: a channel the caller holds a reference to.
 *
 * Concurrency: thread-safe; wait-free.
 * Return: @c (NULL if @c is NULL).
 */
CHAN_API chan_t *chan_retain(chan_t *c);

/**
 * chan_release() - drop one reference; the last one frees the channel.
 * @c: channel, or NULL (then nothing happens).
 *
 * The last release runs drop() on every element still buffered, then frees
 * the channel. It must not race any other call on @c (nobody else holds a
 * reference then, so nobody else may be blocked in it).
 *
 * Concurrency: thread-safe against other releases and retains.
 */
CHAN_API void chan_release(chan_t *c);

/**
 * chan_send() - send one element, blocking while the channel is full (or,
 * unbuffered, until a receiver takes it).
 * @c:    channel.
 * @elem: elem_size bytes, copied; the caller keeps @elem.
 *
 * Concurrency: MPMC-safe (see the flags); blocks. A send happens-before the
 * receive that takes the value completes. With CHAN_DROP_NEWEST/OLDEST it
 * never blocks, and 0 also means "discarded" (see enum chan_flags).
 *
 * Return: 0, or
 *   -EPIPE   @c is closed, or was closed while we waited;
 *   -ENOMEM  @c is unbounded and its next block of slots could not be
 *            allocated (it grows by 31 elements at a time);
 *   -EINVAL  @c or @elem is NULL.
 * On any error nothing was sent.
 */
CHAN_API int chan_send(chan_t *c, const void *elem);

/**
 * chan_recv() - receive one element, blocking while the channel is empty.
 * @c:    channel.
 * @elem: elem_size bytes to receive into, or NULL to discard the element.
 *
 * Concurrency: MPMC-safe (see the flags); blocks.
 *
 * Return: 0, or
 *   -EPIPE   @c is closed and every buffered element has been received;
 *   -EINVAL  @c is NULL.
 * On any error nothing was received and @elem is untouched.
 */
CHAN_API int chan_recv(chan_t *c, void *elem);

/**
 * chan_try_send() - send one element if that can be done without waiting.
 * @c:    channel.
 * @elem: elem_size bytes, copied.
 *
 * On an unbuffered channel this succeeds only if a receiver is already
 * waiting. Concurrency: MPMC-safe; never blocks (see the progress note).
 *
 * Return: 0, or
 *   -EAGAIN  full (unbuffered: no receiver waiting); never with a drop
 *            policy, where a full channel discards instead;
 *   -EPIPE   @c is closed;
 *   -ENOMEM  @c is unbounded and could not grow;
 *   -EINVAL  @c or @elem is NULL.
 * On any error nothing was sent.
 */
CHAN_API int chan_try_send(chan_t *c, const void *elem);

/**
 * chan_try_recv() - receive one element if one is there.
 * @c:    channel.
 * @elem: destination, or NULL to discard.
 *
 * On an unbuffered channel this succeeds only if a sender is already
 * waiting. Concurrency: MPMC-safe; never blocks.
 *
 * Return: 0, or
 *   -EAGAIN  empty (and not closed);
 *   -EPIPE   closed and drained;
 *   -EINVAL  @c is NULL.
 */
CHAN_API int chan_try_recv(chan_t *c, void *elem);

/**
 * chan_send_timeout() - send one element, waiting at most @timeout_ns.
 * @c:          channel.
 * @elem:       elem_size bytes, copied in; the caller keeps @elem.
 * @timeout_ns: relative timeout on CLOCK_MONOTONIC. 0 (or negative) means
 *              already due: fail unless the send can complete at once.
 *              INT64_MAX (or anything that would overflow) waits forever.
 *
 * Concurrency: MPMC-safe; may block.
 *
 * Return: 0, or
 *   -EPIPE      @c is closed, or was closed while we waited;
 *   -ETIMEDOUT  @timeout_ns passed (never returned early); never with a
 *               drop policy, where a full channel discards instead;
 *   -ENOMEM     @c is unbounded and could not grow;
 *   -EINVAL     @c or @elem is NULL.
 * On any error nothing was sent.
 */
CHAN_API int chan_send_timeout(chan_t *c, const void *elem, int64_t timeout_ns);

/**
 * chan_recv_timeout() - receive one element, waiting at most @timeout_ns.
 * @c:          channel.
 * @elem:       destination, or NULL to discard.
 * @timeout_ns: as for chan_send_timeout().
 *
 * Return: 0, or
 *   -EPIPE      closed and drained;
 *   -ETIMEDOUT  @timeout_ns passed (never returned early);
 *   -EINVAL     @c is NULL.
 * On any error nothing was received.
 */
CHAN_API int chan_recv_timeout(chan_t *c, void *elem, int64_t timeout_ns);

/*
 * Bursts move up to @n (@max) elements with as few atomic steps as the ring
 * allows: the elements that move are the first ones of @elems, in order,
 * reserved together where possible. Fewer than asked may move even if more
 * would have fit. The count is the whole result: errno is set only when 0
 * is returned for a reason other than @n (@max) being 0, and then it says
 * why; a partial count sets nothing (the next call reports the reason).
 * On an unbuffered channel only the first element may wait for a partner;
 * the others go to partners already waiting. With a drop policy a send
 * burst never waits and counts the discarded values as sent: it returns @n,
 * or, if the channel was closed meanwhile, how many were taken before that
 * (0 with EPIPE if it was closed first).
 */

/**
 * chan_send_burst() - send up to @n elements, blocking until at least one
 * went in.
 * @c:     channel.
 * @elems: @n elements of elem_size bytes, contiguous; copied, the caller
 *         keeps them.
 * @n:     how many to offer.
 *
 * Concurrency: MPMC-safe (see the flags); blocks.
 *
 * Return: how many were sent, 1 .. @n; or 0 with errno
 *   EPIPE   @c is closed (or was closed while we waited): nothing was sent;
 *   ENOMEM  @c is unbounded and could not grow: nothing was sent;
 *   EINVAL  @c or @elems is NULL;
 * or 0 with errno unchanged if @n is 0.
 */
CHAN_API size_t chan_send_burst(chan_t *c, const void *elems, size_t n);

/**
 * chan_recv_burst() - receive up to @max elements, blocking until at least
 * one arrived.
 * @c:     channel.
 * @elems: room for @max elements, or NULL to discard them.
 * @max:   how many to take at most.
 *
 * Concurrency: MPMC-safe (see the flags); blocks.
 *
 * Return: how many were received, 1 .. @max; or 0 with errno
 *   EPIPE   @c is closed and drained;
 *   EINVAL  @c is NULL;
 * or 0 with errno unchanged if @max is 0.
 */
CHAN_API size_t chan_recv_burst(chan_t *c, void *elems, size_t max);

/**
 * chan_try_send_burst() - send up to @n elements without blocking.
 * @c, @elems, @n: as for chan_send_burst().
 *
 * Concurrency: MPMC-safe; never blocks (see the progress note).
 *
 * Return: how many were sent, 1 .. @n; or 0 with errno
 *   EAGAIN  full (unbuffered: no receiver waiting); never with a drop policy;
 *   EPIPE   @c is closed;
 *   ENOMEM  @c is unbounded and could not grow;
 *   EINVAL  @c or @elems is NULL;
 * or 0 with errno unchanged if @n is 0.
 */
CHAN_API size_t chan_try_send_burst(chan_t *c, const void *elems, size_t n);

/**
 * chan_try_recv_burst() - receive up to @max elements without blocking.
 * @c, @elems, @max: as for chan_recv_burst().
 *
 * Concurrency: MPMC-safe; never blocks.
 *
 * Return: how many were received, 1 .. @max; or 0 with errno
 *   EAGAIN  empty (unbuffered: no sender waiting), and not closed;
 *   EPIPE   @c is closed and drained;
 *   EINVAL  @c is NULL;
 * or 0 with errno unchanged if @max is 0.
 */
CHAN_API size_t chan_try_recv_burst(chan_t *c, void *elems, size_t max);

/**
 * chan_close() - close the channel: no more sends.
 * @c: channel.
 *
 * Every blocked sender returns -EPIPE (its value was not sent); every blocked
 * receiver wakes and receives what is still buffered, then -EPIPE.
 *
 * Concurrency: thread-safe; may briefly take the channel's lock; wakes
 * everyone who waits. Happens-before every receive that returns -EPIPE.
 *
 * Return: 0, or
 *   -EPIPE   already closed;
 *   -EINVAL  @c is NULL.
 */
CHAN_API int chan_close(chan_t *c);

/**
 * chan_len() - elements buffered now (a snapshot; 0 for unbuffered).
 * Concurrency: thread-safe; lock-free. Returns 0 for NULL.
 */
CHAN_API size_t chan_len(const chan_t *c);

/**
 * chan_cap() - the capacity asked for: 0, the bound, or CHAN_UNBOUNDED.
 * Concurrency: thread-safe; wait-free. Returns 0 for NULL.
 */
CHAN_API size_t chan_cap(const chan_t *c);

/**
 * chan_elem_size() - bytes per element. Returns 0 for NULL.
 */
CHAN_API size_t chan_elem_size(const chan_t *c);

/**
 * chan_is_closed() - whether chan_close() has been called (a snapshot).
 * Returns false for NULL.
 */
CHAN_API bool chan_is_closed(const chan_t *c);

/**
 * chan_dropped() - how many values the channel's overflow policy
 * (CHAN_DROP_NEWEST, CHAN_DROP_OLDEST) has discarded so far.
 * @c: channel, or NULL.
 *
 * Exact: every discard counts once, before the send that made it returns;
 * values that drop() gets at the last chan_release() are not discards and
 * do not count. Received + dropped + left at the last release == sent.
 *
 * Concurrency: thread-safe; wait-free; a snapshot (relaxed: a discard by
 * another thread is seen once something else orders it before the call, a
 * join or a channel operation, as for any counter).
 *
 * Return: the count; 0 for NULL and for channels without a drop policy.
 */
CHAN_API uint64_t chan_dropped(const chan_t *c);

#ifdef __cplusplus
}
#endif

#endif /* CHAN_CHANNEL_H */
