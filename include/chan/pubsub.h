/* SPDX-License-Identifier: MIT */
/*
 * chan/pubsub.h - publish/subscribe: one publisher side, many subscribers,
 * an overflow policy per subscriber (tokio's broadcast, Go's channel-per-
 * subscriber fan-out without a goroutine per message).
 *
 * Every subscriber has its own channel, so a subscription is received from
 * like any channel and composes with chan_select(), contexts and stages:
 *
 *	chan_pubsub_t *ps = chan_pubsub_new(&(chan_pubsub_opts_t){ .elem_size = sizeof(int) });
 *	chan_pubsub_sub_t *s = chan_pubsub_subscribe(ps, &(chan_pubsub_sub_opts_t){
 *		.capacity = 16, .policy = CHAN_PUBSUB_DROP_OLDEST });
 *	chan_pubsub_publish(ps, &(int){ 42 }, chan_ctx_background());
 *	chan_recv(chan_pubsub_chan(s), &v);		// 42
 *	chan_pubsub_unsubscribe(s);
 *	chan_pubsub_destroy(ps);
 *
 * Policies: a BLOCK subscriber's channel is an ordinary channel of its
 * capacity (0: unbuffered, CHAN_UNBOUNDED: never full), and a publish waits
 * while it is full; DROP_NEWEST and DROP_OLDEST are the core's
 * CHAN_DROP_NEWEST / CHAN_DROP_OLDEST (chan/channel.h) on a channel of
 * capacity >= 1: a publish never waits for such a subscriber, a full
 * channel discards the message being published (NEWEST) or evicts its
 * oldest message (OLDEST).
 *
 * Delivery: each subscriber receives every message published after its
 * subscribe returned, in publish order (per publisher, when several publish
 * at once), none twice (BLOCK), or exactly what its policy keeps. A
 * subscriber is offered a message unless its filter refuses it; for every
 * subscriber delivered + dropped == messages offered to it (see
 * chan_pubsub_stats()).
 *
 * Owning payloads: with opts.clone each subscriber gets its own clone of
 * the published element (the caller keeps the original); every clone is
 * received by its subscriber or handed to opts.drop exactly once: by the
 * channel (a discard, an eviction, or a value still buffered when the
 * channel is freed), or by the publish that made it and could not send it.
 * Without clone the copies are plain byte copies (elem_size bytes).
 *
 * Concurrency table (which calls may run at once on one publisher):
 *
 *                  | publish/burst | subscribe | unsubscribe | stats/take | close | destroy
 *   publish/burst  | yes           | yes       | yes         | yes        | yes   | no
 *   subscribe      | yes           | yes       | yes         | yes        | yes   | no
 *   unsubscribe    | yes           | yes       | yes (*)     | yes (*)    | yes   | yes
 *   stats/take     | yes           | yes       | yes (*)     | yes        | yes   | yes
 *   close          | yes           | yes       | yes         | yes        | yes   | no
 *
 *   (*) not on the same subscription: unsubscribe ends it.
 *
 * Progress: publish takes no lock and never waits for subscribe or
 * unsubscribe: it reads the subscriber set in a liburcu (urcu-bp) read-side
 * critical section, lock-free, and the try-sends it makes there never
 * block; only a full BLOCK subscriber makes it wait, outside that section,
 * on the subscriber's channel. subscribe, unsubscribe and close serialise
 * on one mutex (copy-on-write of the subscriber array, O(subscribers)) and
 * never wait for a publisher. Unsubscribed subscriptions are freed after an
 * RCU grace period (call_rcu), on liburcu's call_rcu thread; a program that
 * must see that done (a test counting frees) calls liburcu's
 * urcu_bp_barrier().
 *
 * Callbacks: filter and clone run in the publishing thread, inside the
 * read-side critical section: they must not block for long and must not
 * wait for an RCU grace period (synchronize_rcu). drop may also run on the
 * call_rcu thread (values still buffered when an unsubscribed channel is
 * freed). None of them may call chan_pubsub_destroy().
 */
#ifndef CHAN_PUBSUB_H
#define CHAN_PUBSUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <chan/api.h>
#include <chan/channel.h>
#include <chan/ctx.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An opaque publisher side (the topic). */
typedef struct chan_pubsub chan_pubsub_t;
/** An opaque subscription. */
typedef struct chan_pubsub_sub chan_pubsub_sub_t;

/** What a full subscriber does with a message (chan_pubsub_sub_opts_t.policy). */
enum chan_pubsub_policy {
	/** The publisher waits for room (its ctx bounds the wait). The default. */
	CHAN_PUBSUB_BLOCK,
	/** The message being published is discarded (CHAN_DROP_NEWEST). */
	CHAN_PUBSUB_DROP_NEWEST,
	/** The oldest buffered message is evicted for it (CHAN_DROP_OLDEST). */
	CHAN_PUBSUB_DROP_OLDEST,
};

/**
 * struct chan_pubsub_opts - how to build a publisher. Zeroed fields mean
 * defaults, but elem_size is required.
 * @elem_size: bytes per message, 1 .. CHAN_ELEM_SIZE_MAX.
 * @clone:     if not NULL, makes each subscriber's copy: clone(dst, src)
 *             writes elem_size bytes to @dst from the published @src;
 *             0, or < 0 when it could not (that subscriber's copy then
 *             counts as dropped, and no drop() runs on it).
 * @drop:      if not NULL, the drop() of every subscriber's channel (see the
 *             ownership note above); it receives a pointer to a copy.
 */
typedef struct chan_pubsub_opts {
	size_t elem_size;
	int (*clone)(void *dst, const void *src);
	void (*drop)(void *elem);
} chan_pubsub_opts_t;

/**
 * struct chan_pubsub_sub_opts - how to subscribe. Zeroed means a BLOCK
 * subscriber on an unbuffered channel.
 * @capacity:   the subscriber's channel capacity: 0 (unbuffered), 1 ..
 *              CHAN_CAPACITY_MAX, or CHAN_UNBOUNDED (BLOCK only); >= 1 and
 *              bounded for DROP_*.
 * @policy:     an enum chan_pubsub_policy.
 * @filter:     if not NULL, a message is offered to this subscriber only if
 *              filter(elem, filter_arg) returns true (@elem is the published
 *              original); a refused message counts in neither counter.
 * @filter_arg: passed to @filter. Borrowed: besides until unsubscribe, a
 *              publish that was already running when unsubscribe was called
 *              may still call @filter (unsubscribe does not wait for it), so
 *              keep @filter_arg valid until such publishes have returned.
 */
typedef struct chan_pubsub_sub_opts {
	size_t capacity;
	int policy;
	bool (*filter)(const void *elem, void *arg);
	void *filter_arg;
} chan_pubsub_sub_opts_t;

/**
 * struct chan_pubsub_stats - a subscriber's counters (chan_pubsub_stats()).
 * @delivered: messages its channel took and still holds or has handed to a
 *             receiver (a message DROP_OLDEST later evicts moves from here
 *             to @dropped);
 * @dropped:   messages offered to it that it will never receive: discarded
 *             or evicted by its policy, a copy that could not be made
 *             (clone failed) or sent (-ENOMEM of an unbounded channel), or
 *             the copy a publish was blocked on when its ctx ended.
 */
typedef struct chan_pubsub_stats {
	uint64_t delivered, dropped;
} chan_pubsub_stats_t;

/**
 * chan_pubsub_new() - create a publisher with no subscribers.
 * @o: options; read only during the call.
 *
 * Concurrency: thread-safe. Pair with chan_pubsub_destroy().
 *
 * Return: the publisher, or NULL with errno
 *   EINVAL  @o is NULL, or @o->elem_size is 0 or above CHAN_ELEM_SIZE_MAX;
 *   ENOMEM  out of memory.
 */
CHAN_API chan_pubsub_t *chan_pubsub_new(const chan_pubsub_opts_t *o);

/**
 * chan_pubsub_subscribe() - add a subscriber with its own channel.
 * @ps: publisher.
 * @o:  options (NULL: all zero); read only during the call.
 *
 * The subscriber receives every message whose publish starts after this
 * call returned (a publish running meanwhile may or may not reach it).
 *
 * Concurrency: thread-safe; takes the publisher's update mutex; never waits
 * for a publisher. Pair with chan_pubsub_unsubscribe().
 *
 * Return: the subscription, or NULL with errno
 *   EINVAL  @ps is NULL, @o->policy is not a chan_pubsub_policy, or the
 *           capacity does not suit the policy (DROP_* with 0 or
 *           CHAN_UNBOUNDED, anything above CHAN_CAPACITY_MAX);
 *   EPIPE   @ps is closed (chan_pubsub_close() or chan_pubsub_destroy());
 *   ENOMEM  out of memory.
 * On error nothing was added.
 */
CHAN_API chan_pubsub_sub_t *chan_pubsub_subscribe(chan_pubsub_t *ps,
						  const chan_pubsub_sub_opts_t *o);

/**
 * chan_pubsub_chan() - the subscriber's channel, to receive from (or select
 * on). Borrowed until chan_pubsub_unsubscribe(): chan_retain() it to keep
 * it longer. Only the publisher sends on it: never send on it or close it.
 * It is closed by unsubscribe, chan_pubsub_close() and chan_pubsub_destroy().
 *
 * Return: the channel, or NULL for a NULL @s.
 */
CHAN_API chan_t *chan_pubsub_chan(chan_pubsub_sub_t *s);

/**
 * chan_pubsub_unsubscribe() - end a subscription.
 * @s: subscription; invalid once this returns.
 *
 * Closes the subscriber's channel at once: a publish blocked on it returns
 * from that wait (the copy is not delivered and not counted) and goes on to
 * the next subscriber; values still buffered stay receivable by whoever
 * retained the channel. @s and its channel reference are freed after an RCU
 * grace period (call_rcu), when no publish can still be using them; then
 * the channel's last release drops what is left in it. It may be called
 * from any thread, the subscriber's own included, also while a publisher is
 * blocked on @s, and after chan_pubsub_destroy() (the last unsubscribe then
 * frees the publisher too).
 *
 * Concurrency: thread-safe; takes the publisher's update mutex; never waits
 * for a publisher or a grace period.
 *
 * Return: 0, or
 *   -EINVAL  @s is NULL.
 * If the smaller subscriber array cannot be allocated, @s is still ended
 * (its channel closed, publishes skip it) and leaves the array at the next
 * subscribe or unsubscribe: the call does not fail.
 */
CHAN_API int chan_pubsub_unsubscribe(chan_pubsub_sub_t *s);

/**
 * chan_pubsub_publish() - offer one message to every subscriber, in
 * subscription order.
 * @ps:   publisher.
 * @elem: elem_size bytes; copied (or cloned) once per subscriber; the
 *        caller keeps @elem.
 * @ctx:  bounds the waits on full BLOCK subscribers (chan_ctx_background():
 *        no bound).
 *
 * Per subscriber: its filter, then a copy (clone), then a send that never
 * waits for a DROP_* subscriber and waits for room on a full BLOCK one. If
 * @ctx ends while it waits on a BLOCK subscriber, that copy counts as
 * dropped for that subscriber, deliveries already made stand, and the
 * subscribers after it are not offered the message.
 *
 * Concurrency: thread-safe; several publishers may run at once (each
 * subscriber then sees each publisher's messages in that publisher's
 * order); lock-free unless a BLOCK subscriber is full. A send
 * happens-before the receive that takes the copy.
 *
 * Return: how many subscribers got a copy (0 .. number of subscribers: a
 * copy their channel took and holds; not a DROP_NEWEST discard, whose count
 * is exact when one publisher at a time sends to that subscriber), or
 *   -EINVAL     @ps, @elem or @ctx is NULL;
 *   -ECANCELED,
 *   -ETIMEDOUT  @ctx was done when called (nothing was offered), or ended
 *               while waiting on a BLOCK subscriber (see above);
 *   -EPIPE      @ps is closed (nothing was offered);
 *   -ENOMEM     elem_size is large (over 1 KiB), clone is set, and the
 *               copy buffer could not be allocated (nothing was offered);
 *               or it had to wait on a BLOCK subscriber and @ctx's done
 *               channel, made on the first wait (chan_ctx_done()), could
 *               not be allocated: then as when @ctx ends while waiting.
 */
CHAN_API int chan_pubsub_publish(chan_pubsub_t *ps, const void *elem, chan_ctx_t *ctx);

/**
 * chan_pubsub_publish_burst() - publish @n messages, with one burst send per
 * subscriber.
 * @ps:    publisher.
 * @elems: @n contiguous messages of elem_size bytes; the caller keeps them.
 * @n:     how many.
 * @ctx:   as for chan_pubsub_publish().
 * @done:  if not NULL, set to the number of leading messages (elems[0 ..
 *         *@done - 1]) that were published to every subscriber.
 *
 * The subscribers are served in subscription order, each with all @n
 * messages (those its filter accepts) before the next, as one burst: what
 * fits at once, then waits for room (BLOCK) for the rest. If @ctx ends
 * while it waits on a BLOCK subscriber at message j, that copy counts as
 * dropped, that subscriber keeps messages 0 .. j-1 (and is not offered the
 * rest), the subscribers before it keep all @n, those after it are offered
 * nothing: *@done is then j if it was the last subscriber, else 0.
 *
 * Concurrency: as chan_pubsub_publish().
 *
 * Return: 0 (all @n published; *@done == @n), or what chan_pubsub_publish()
 * would return for the first message that failed:
 *   -EINVAL     @ps or @ctx is NULL, or @elems is NULL with @n > 0;
 *   -ECANCELED,
 *   -ETIMEDOUT  @ctx was done when called (nothing offered, *@done 0), or
 *               ended while waiting on a BLOCK subscriber (see above);
 *   -EPIPE      @ps is closed (nothing offered, *@done 0);
 *   -ENOMEM     the copy buffer (@n * elem_size bytes, when clone or a
 *               filter is set and that is over 4 KiB) could not be
 *               allocated (nothing offered, *@done 0); or, as for
 *               chan_pubsub_publish(), @ctx's done channel could not be
 *               made for a wait: then as when @ctx ends while waiting.
 */
CHAN_API int chan_pubsub_publish_burst(chan_pubsub_t *ps, const void *elems, size_t n,
				       chan_ctx_t *ctx, size_t *done);

/**
 * chan_pubsub_stats() - a snapshot of a subscriber's counters.
 * @s:  subscription (valid until unsubscribe).
 * @st: out; zeroed for a NULL @s.
 *
 * Exact: once the publishes that offered it messages have returned (and
 * any receiver racing a DROP_OLDEST eviction is done), delivered + dropped
 * equals the messages offered to @s. While publishes run it is a snapshot of
 * each counter (delivered never counts a value twice).
 *
 * Concurrency: thread-safe; wait-free.
 */
CHAN_API void chan_pubsub_stats(const chan_pubsub_sub_t *s, chan_pubsub_stats_t *st);

/**
 * chan_pubsub_take_dropped() - the messages dropped for @s since the last
 * call (tokio's RecvError::Lagged(n)); the first call counts from subscribe.
 * Concurrent callers each get a disjoint part of the count.
 * Concurrency: thread-safe; lock-free.
 * Return: the count; 0 for a NULL @s.
 */
CHAN_API uint64_t chan_pubsub_take_dropped(chan_pubsub_sub_t *s);

/**
 * chan_pubsub_close() - no more messages: later publishes (and subscribes)
 * get -EPIPE; every subscriber's channel is closed (buffered messages stay
 * receivable, then its receivers get -EPIPE, Go's range loop ends). A
 * publish blocked on a subscriber returns from that wait. Subscriptions stay
 * valid until unsubscribed.
 *
 * Concurrency: thread-safe; takes the update mutex.
 *
 * Return: 0, or
 *   -EPIPE   already closed;
 *   -EINVAL  @ps is NULL.
 */
CHAN_API int chan_pubsub_close(chan_pubsub_t *ps);

/**
 * chan_pubsub_destroy() - close @ps (if it is not closed) and give up the
 * caller's handle. Subscriptions stay valid (their channels closed, buffered
 * values receivable) until each is unsubscribed; the memory goes with the
 * last of them (or now, if there are none). No publish, subscribe or close
 * may be running or start on @ps.
 * @ps: publisher, or NULL (nothing happens).
 */
CHAN_API void chan_pubsub_destroy(chan_pubsub_t *ps);

#ifdef __cplusplus
}
#endif

#endif /* CHAN_PUBSUB_H */
