/* SPDX-License-Identifier: MIT */
/*
 * chan/net.h - channels across processes and hosts, over NNG
 * (nanomsg-next-gen): a stage on host A sends into a local chan_t, a stage
 * on host B receives from a local chan_t, and NNG carries the values in
 * between over ipc://, tcp:// or tls+tcp:// (any NNG transport URL).
 *
 *	// host A: forward everything received from `jobs`
 *	chan_net_send_to(g, jobs, "tcp://0.0.0.0:5555", &(chan_net_opts_t){ 0 });
 *	// host B (one or several workers): a local channel fed from the network
 *	chan_t *in = chan_net_recv_from(g, "tcp://hostA:5555",
 *		&(chan_net_opts_t){ .out = { .elem_size = sizeof(job_t), .capacity = 64 } });
 *	while (chan_recv(in, &job) == 0)	// -EPIPE once A's `jobs` was closed and drained
 *		work(&job);
 *
 * Part of libchan_net (pkg-config chan_net, CMake chan::chan_net), built
 * only when NNG is found (CMake option CHAN_NET); libchan never needs NNG.
 *
 * Why request/reply. A value must reach exactly one of the receivers that
 * share a URL, and the acknowledgement for it must come back from the
 * receiver that holds it. NNG's push/pull load-balances but is one-way, so
 * acks would need a second socket per receiver and a way to tie each ack
 * to the pipe that carried the value, which push does not expose. NNG's
 * req/rep does exactly what is needed and no more: the sender is a REQ
 * socket, every receiver a REP socket; NNG load-balances each request (a
 * frame of up to `window` values) to one connected receiver, reconnects
 * dropped pipes, and routes the reply (the ack) back to the sender; a
 * request whose pipe dropped fails with a connection reset, and the sender
 * sends it again (NNG's own timed resend is off, so that a stopped but
 * connected receiver is waited for, not bypassed).
 *
 * Delivery, per sender (chan_net_send_to()):
 *   - The window: the sender has at most one frame in flight, of at most
 *     `window` values, taken from its input with a burst. While it waits
 *     for the ack it takes nothing more from the input, so a slow, stopped
 *     or absent receiver applies back-pressure to the local senders (the
 *     input fills up) and memory stays bounded (window * elem_size).
 *   - A receiver acks a frame once every value of it is in its local
 *     channel. Values are numbered (sequence numbers per sender); a frame
 *     that was not acked is sent again, unchanged, after a reconnect, and a
 *     receiver drops every value it already delivered, by (sender id,
 *     sequence). With one frame in flight, per-sender order is kept in every
 *     receiver's channel, and nothing is delivered twice into one
 *     receiver's channel.
 *   - Nothing acknowledged is lost. What can be lost is what was in the
 *     window when the sender stops (its group canceled, a refusal, the
 *     process killed): at most `window` values, handed to on_lost() (not
 *     when the process dies). Such a value may or may not have reached a
 *     receiver. A value that a receiver delivered but could not ack before
 *     its connection dropped (or before it was torn down) is sent again and
 *     may then reach another receiver too: across receivers delivery is
 *     at least once; into any one receiver's channel, at most once.
 *   - Several receivers share the stream (each frame to one of them, NNG's
 *     choice among the connected ones); several senders may feed one
 *     receiver (opts.senders says how many end-of-streams close it).
 *
 * The wire: every frame starts with a 32-byte header in network byte
 * order: magic "CHNT", protocol version (CHAN_NET_VERSION), frame type
 * (HELLO, DATA, ACK, EOS, REFUSE), a reason (REFUSE), element size,
 * payload length, sender (or receiver) id, sequence number; a DATA payload
 * is the values' bytes. The sender starts with a HELLO exchange, and every
 * frame repeats version and element size, so that a receiver that connects
 * later is checked on its first frame: a peer of another protocol version
 * or elem_size is refused (REFUSE with the reason, counted and logged on
 * both sides), and never delivered to. A refused sender fails its group
 * with -EPROTO. Frames that do not parse (truncated, oversized, trailing
 * bytes, bad magic, unknown type, a length that is not a whole number of
 * values) are counted as malformed, logged, and dropped, never read beyond
 * their length; the bridge keeps working.
 *
 * Close: when the input is closed and drained, the sender sends an
 * end-of-stream (EOS) to every receiver connected, and to at least
 * opts.receivers of them, until each acked it; then its task ends. A receiver closes its channel once it has the EOS of
 * opts.senders distinct senders: its consumers get the buffered values,
 * then -EPIPE. It keeps its socket open for opts.linger_ns more to repeat
 * acks that were lost, then ends.
 *
 * Tasks and cancellation: each bridge is one task of the group, started
 * with chan_group_go() (the net layer uses only the public API: its tasks
 * count toward a group limit, and a construction at the limit blocks).
 * Canceling the group stops the tasks and closes their sockets; a
 * receiver's channel is then closed (buffered values stay receivable). A
 * bridge task never reports cancellation as an error.
 *
 * Security: tls+tcp:// URLs run over NNG's TLS (mbedTLS), with the
 * certificates of chan_net_opts_t's tls_* files: the dialing side always
 * verifies the listener (a CA file is required, and the name), the
 * listening side verifies dialers when it is given a CA file too (mutual
 * TLS). A peer that fails the handshake is dropped by NNG before any frame
 * is read: nothing from it is ever delivered. Without TLS, use ipc:// or a
 * trusted network: plain tcp:// is neither encrypted nor authenticated.
 *
 * A shared secret (opts.secret, on both sides) authenticates plain tcp://:
 * every frame carries an HMAC-SHA256 tag of header and payload under it,
 * checked before the frame is parsed; a frame without the right tag is
 * counted (unauthenticated), logged and dropped, never delivered nor
 * answered, so a peer without the secret can neither inject values nor
 * acknowledge (and so make a sender discard) any. It does not encrypt,
 * and it does not stop a recorded frame from being replayed to a receiver
 * that started afresh since (within a receiver's life a replay is a
 * duplicate and dropped); use TLS for that. Deviation from a handshake
 * that disconnects the peer: such a peer's connection is left open, its
 * frames dropped, because closing an NNG 1.5 pipe that is receiving can
 * hang NNG for good (see endpoint_close() in net/net.c); an attacker could
 * otherwise use that to stop the process's NNG.
 *
 * Payloads: by default a value's elem_size bytes are copied as they are
 * (same layout and byte order on both sides). Pointer payloads, or any that
 * need a portable form, take an encode() on the sender and a decode() on
 * the receiver (chan_net_opts_t): each value then travels as a length and
 * the bytes encode() made, and release() frees the sender's copy once it
 * was acknowledged.
 *
 * Not covered yet: pub/sub across hosts.
 *
 * Concurrency: every function is thread-safe. A bridge's input may have any
 * number of other senders; a receiver's output any number of receivers
 * (only the bridge sends on it and closes it).
 */
#ifndef CHAN_NET_H
#define CHAN_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <chan/channel.h>
#include <chan/ctx.h>
#include <chan/group.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The export marker of libchan_net (libchan's own is CHAN_API). */
#if defined(__GNUC__)
#define CHAN_NET_API __attribute__((visibility("default")))
#else
#define CHAN_NET_API
#endif

/** The protocol version in every frame; peers of another version are refused. */
#define CHAN_NET_VERSION 1

/** chan_net_opts_t.flags: which side listens on the URL (the other dials). */
enum {
	/** This side listens (default for chan_net_send_to()). */
	CHAN_NET_LISTEN = 1u << 0,
	/** This side dials, reconnecting in the background (default for
	 *  chan_net_recv_from(), so several receivers can share a URL). */
	CHAN_NET_DIAL = 1u << 1,
};

/** Counters a bridge adds to (see chan_net_counters_new()); opaque. */
typedef struct chan_net_counters chan_net_counters_t;

/**
 * struct chan_net_stats - a snapshot of counters (chan_net_counters_read()).
 * @delivered:  receiver: values put into its channel.
 * @duplicates: receiver: values received again and dropped (already delivered).
 * @acked:      sender: values acknowledged by a receiver.
 * @resent:     sender: frames sent again after their connection dropped.
 * @lost:       sender: values handed to on_lost() (in the window when it stopped).
 * @malformed:  frames dropped because they do not parse (both sides).
 * @refused:    receiver: frames refused (version or elem_size mismatch);
 *              sender: refusals received.
 * @eos:        receiver: distinct senders whose end-of-stream arrived.
 * @unauthenticated: with a secret: frames dropped because they do not carry
 *              its tag (both sides).
 */
typedef struct chan_net_stats {
	uint64_t delivered, duplicates, acked, resent, lost, malformed, refused, eos;
	uint64_t unauthenticated;
} chan_net_stats_t;

/**
 * struct chan_net_opts - bridge options; zeroed (or a NULL pointer) means the
 * defaults.
 * @out:       chan_net_recv_from(): the output channel's options; elem_size
 *             is required (the peers' must match), capacity 0 = unbuffered;
 *             out.drop is the channel's. Ignored by chan_net_send_to().
 * @flags:     CHAN_NET_LISTEN or CHAN_NET_DIAL (not both): override the
 *             default role on the URL.
 * @window:    chan_net_send_to(): most values sent and not acknowledged
 *             (one frame's worth); 0 = 1024; capped so that a frame fits
 *             @max_frame.
 * @senders:   chan_net_recv_from(): end-of-streams of distinct senders that
 *             close the output; 0 = 1.
 * @receivers: chan_net_send_to(): the end-of-stream is done once this many
 *             distinct receivers acked it, and every receiver connected by
 *             then; 0 = 1. (A receiver that connects after the sender ended
 *             gets nothing: set this to the number of receivers when some
 *             may connect late.)
 * @max_frame: largest frame in bytes, header included (the receiver refuses
 *             larger ones); 0 = 16 MiB; at least 32 + elem_size.
 * @linger_ns: chan_net_recv_from(): how long the socket stays open after the
 *             last end-of-stream, to answer lost acks again; 0 = 100 ms,
 *             < 0 = none.
 * @on_lost:   chan_net_send_to(): called (on the bridge's task) once for
 *             every value taken from the input and not acknowledged when the
 *             bridge stops; the value may or may not have been delivered.
 *             NULL: they are discarded.
 * @lost_arg:  passed to @on_lost.
 * @counters:  counters to add to (borrowed; must outlive the group's wait);
 *             NULL: none.
 * @log:       called with a one-line reason for every refused or malformed
 *             frame and every refusal received; NULL: not logged.
 * @log_arg:   passed to @log.
 * @tls_cert:  tls+tcp:// only: a PEM file with this side's certificate and
 *             its private key (unencrypted), both in the file. Required to
 *             listen; when dialing, a client certificate for a listener
 *             that verifies its dialers.
 * @tls_ca:    tls+tcp:// only: a PEM file with the certificates a peer's
 *             must chain to (a self-signed certificate may be its own).
 *             Required to dial: the listener is always verified, and its
 *             certificate must carry @tls_server_name. When listening:
 *             optional; if given, dialers must present a certificate that
 *             verifies against it (mutual TLS), else they are not asked.
 * @tls_server_name: dialing over tls+tcp:// only (-EINVAL elsewhere): the
 *             name the listener's certificate must carry; NULL: the URL's
 *             host.
 * @encode:    chan_net_send_to() (-EINVAL on a receiver): values that are
 *             (or hold) pointers go as bytes of their own making. Write the
 *             bytes for the value at @elem at @buf, which has room for
 *             @cap, and return their number; return more than @cap to be
 *             called again with at least that much room (up to what fits
 *             max_frame), or < 0 if the value cannot be sent (it then goes
 *             to on_lost(), counted lost). Called on the bridge's task, once
 *             per value (a frame sent again is not encoded again). The
 *             receiving side must have a @decode, and the sending side no
 *             other: a mismatch is refused like another elem_size.
 * @decode:    chan_net_recv_from() (-EINVAL on a sender): make the value at
 *             @elem (out.elem_size bytes) from the @len bytes at @buf; 0, or
 *             < 0 to drop it (counted malformed, logged). A decoded value
 *             that the bridge cannot deliver (its group canceled) goes to
 *             out.drop.
 * @release:   chan_net_send_to() with @encode: called once for every value
 *             after a receiver acknowledged it (pointer payloads are freed
 *             here); NULL: nothing. A value is handed to exactly one of
 *             @release and @on_lost (set both, or lost values leak).
 * @codec_arg: passed to @encode, @decode and @release.
 * @secret:    a shared secret (@secret_len bytes, copied; both NULL/0 or
 *             both set, else -EINVAL): every frame, both ways, carries an
 *             HMAC-SHA256 tag under it, and a frame without the right tag
 *             is dropped and counted (unauthenticated), never delivered nor
 *             answered. For plain tcp:// between peers that share the
 *             secret; see "Security" above for what it does not do.
 * @secret_len: its length in bytes.
 */
typedef struct chan_net_opts {
	chan_opts_t out;
	unsigned flags;
	size_t window;
	unsigned senders;
	unsigned receivers;
	size_t max_frame;
	int64_t linger_ns;
	void (*on_lost)(void *elem, void *arg);
	void *lost_arg;
	chan_net_counters_t *counters;
	void (*log)(void *arg, const char *msg);
	void *log_arg;
	const char *tls_cert;
	const char *tls_ca;
	const char *tls_server_name;
	ssize_t (*encode)(const void *elem, void *buf, size_t cap, void *arg);
	int (*decode)(const void *buf, size_t len, void *elem, void *arg);
	void (*release)(void *elem, void *arg);
	void *codec_arg;
	const void *secret;
	size_t secret_len;
} chan_net_opts_t;

/**
 * chan_net_send_to() - forward every value received from @in to the
 * receivers on @url, with acks and a window (see the header comment).
 * @g:   the group; the bridge is one task of it.
 * @in:  the input; the bridge takes its own reference (the caller may
 *       release its own at once) and never closes it.
 * @url: an NNG URL (ipc://path, tcp://host:port, ...); copied.
 * @o:   options (NULL: defaults; listens on @url).
 *
 * The socket is set up during the call (a listen error is returned here);
 * receivers may connect before or after. The task ends after the
 * end-of-stream was acked (0), when the group is canceled (0), or when a
 * receiver refused it (-EPROTO: the group's error, logged and counted).
 *
 * Concurrency: thread-safe; blocks while the group is at its limit.
 * Return: 0, or
 *   -EINVAL      @g, @in or @url NULL, both CHAN_NET_LISTEN and
 *                CHAN_NET_DIAL, @o->max_frame too small for one value, a
 *                URL that NNG does not accept, tls_* options that do not
 *                fit the URL and role (see chan_net_opts_t), or a
 *                certificate, key or CA file that does not load;
 *   -EADDRINUSE  the address is in use (listen);
 *   -ECANCELED   the group is canceled;
 *   -ENOMEM / -EAGAIN  out of memory / no task could be started;
 *   another negative errno: a socket error that NNG reported.
 * On error nothing was started, nothing is retained, no socket is left.
 */
CHAN_NET_API int chan_net_send_to(chan_group_t *g, chan_t *in, const char *url,
				  const chan_net_opts_t *o);

/**
 * chan_net_recv_from() - a channel fed by the senders on @url.
 * @g:   the group; the bridge is one task of it.
 * @url: an NNG URL; copied.
 * @o:   options; o->out.elem_size is required (by default it dials @url,
 *       reconnecting in the background until a sender is there).
 *
 * The output closes after the end-of-stream of o->senders senders (all
 * delivered values stay receivable, then -EPIPE), or when the group is
 * canceled. Refused and malformed frames are counted, logged and dropped;
 * they never end the bridge.
 *
 * Concurrency: thread-safe; blocks while the group is at its limit.
 * Return: the output (one reference for the caller; pair with
 * chan_release()), or NULL with errno EINVAL (@g, @url or @o NULL,
 * elem_size 0, bad out options, both role flags, @o->max_frame too small,
 * a URL that NNG does not accept, tls_* options that do not fit the URL
 * and role, or a TLS file that does not load), EADDRINUSE, ECANCELED, ENOMEM,
 * EAGAIN, or another errno from NNG. On error nothing was started, nothing
 * is retained, no socket is left.
 */
CHAN_NET_API chan_t *chan_net_recv_from(chan_group_t *g, const char *url,
					const chan_net_opts_t *o);

/**
 * chan_net_counters_new() - zeroed counters for chan_net_opts_t.counters;
 * may be shared by several bridges. Pair with chan_net_counters_destroy().
 * Return: the counters, or NULL with errno ENOMEM.
 */
CHAN_NET_API chan_net_counters_t *chan_net_counters_new(void);

/**
 * chan_net_counters_read() - a snapshot of @c into *@st. Each field is read
 * atomically, the fields not together (bridges may be counting meanwhile).
 * Thread-safe; wait-free.
 */
CHAN_NET_API void chan_net_counters_read(const chan_net_counters_t *c, chan_net_stats_t *st);

/**
 * chan_net_counters_destroy() - free @c (NULL is ignored), once no bridge
 * that counts into it runs (after chan_group_wait() of their groups).
 */
CHAN_NET_API void chan_net_counters_destroy(chan_net_counters_t *c);

#ifdef __cplusplus
}
#endif

#endif /* CHAN_NET_H */
