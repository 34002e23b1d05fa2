/* SPDX-License-Identifier: MIT */
/*
 * net/net.c - chan_net_send_to() / chan_net_recv_from(): a channel bridged
 * over NNG req/rep (chan/net.h says why req/rep, frame_pvt.h the wire).
 *
 * Sender (one task, the REQ socket's only user; NNG's timed resend off):
 *   HELLO; then rounds of: take 1..window values from the input (wait for
 *   one, burst the rest), send them as one DATA frame numbered seq, wait for
 *   its ACK (seq + n), seq += n. A connection reset sends the same frame
 *   again. Input closed and drained: EOS until every connected receiver
 *   acked one.
 * Receiver (one task, the REP socket's only user): per sender id, `next`,
 *   the sequence after the last value delivered. A DATA frame [seq, seq+n)
 *   delivers only its values >= next (the rest are duplicates), blocking on
 *   the output; then next = max(next, seq + n) and the ACK goes back.
 * Invariants:
 *  - N1 (window): the sender holds at most one unacked frame of <= window
 *    values and reads nothing from its input meanwhile.
 *  - N2 (at most once per receiver): a receiver delivers a value only if
 *    its sequence is >= next of its sender, and next only grows; a sender
 *    numbers its values in input order and never reuses a number, and with
 *    N1 the frames reach any receiver in sequence order, so a receiver
 *    never skips a value it was sent first and gets later.
 *  - N3 (nothing acked lost): an ACK is sent only after every value of the
 *    frame is in the output channel (or was already delivered).
 *  - N4 (bounded reads): a frame is parsed within its length only
 *    (frame.c); DATA's payload must be a whole number of values.
 * Cancellation: every NNG operation of a task goes through its one aio
 * (endpoint_io()). A chan_ctx_after_func() on the group's context sets
 * `stop` and cancels that aio, both under ep->lock; an operation starts
 * under the same lock only while `stop` is clear. So either the callback
 * finds the operation started and cancels it, or the task finds `stop` set
 * and starts nothing: no cancellation is lost. The task joins the callback
 * (a wait group) and then closes its socket itself, with no operation in
 * flight, after a quiet period if the exchange was cut short: NNG 1.5's
 * close hangs for good when a message arrives as a pipe closes (see
 * endpoint_close(); this file hit it in CI, the first version of it closing
 * the socket from the callback under a blocked call).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>

#include <chan/chan.h>
#include <chan/net.h>

#include "frame_pvt.h"
#include "hmac_pvt.h"
#include "tls_pvt.h"

#define NET_DEFAULT_WINDOW    1024
#define NET_DEFAULT_MAX_FRAME ((size_t)16 << 20)
#define NET_DEFAULT_LINGER_NS INT64_C(100000000)
#define NET_MAX_PEERS	      4096 /* receiver: senders remembered for dedup */
#define NET_EOS_IDS	      64   /* sender: receivers that acked our EOS */
#define NET_QUIESCE_MS	      50   /* before an unclean close: endpoint_close() */

struct chan_net_counters {
	/* Statistics only: every access is relaxed, nothing is published through
	 * them, and a snapshot makes no promise across fields. */
	_Atomic uint64_t delivered, duplicates, acked, resent, lost, malformed, refused, eos,
		unauthenticated;
};

/* What both sides share: the socket, its closer, counters and log. */
struct endpoint {
	nng_socket sock;
	nng_aio *aio; /* the task's only aio: every send, receive and sleep */
	/* Orders `stop` against the start of an operation on aio (see the top
	 * of the file); held only for that, never across a wait. */
	pthread_mutex_t lock;
	bool stop;	  /* under lock: the group's context is done */
	chan_wg_t closer; /* 1 until stop_on_cancel() returned */
	chan_net_counters_t *cnt;
	void (*log)(void *arg, const char *msg);
	void *log_arg;
	const char *side; /* "send" / "recv", for logs */
	size_t esz;
	uint64_t id;
	bool auth; /* opts.secret: every frame carries an HMAC under key */
	struct chan__hmac_key key;
};

struct sender {
	struct endpoint ep;
	chan_t *in; /* referenced */
	size_t window;
	unsigned receivers; /* EOS acks wanted at least */
	uint64_t seq;
	/* Connected pipes, from NNG's pipe callbacks (its threads). Relaxed:
	 * a count, read only to decide whether every receiver had our EOS; no
	 * data is published through it. */
	atomic_int pipes;
	void (*on_lost)(void *elem, void *arg);
	void *lost_arg;
	ssize_t (*encode)(const void *elem, void *buf, size_t cap, void *arg);
	void (*release)(void *elem, void *arg);
	void *codec_arg;
	size_t max_frame;
	/* With encode: the DATA frame being sent (header + enc_len bytes of
	 * encoded values) in a buffer of enc_cap, grown up to max_frame. */
	unsigned char *enc;
	size_t enc_len, enc_cap;
	uint64_t eos_ids[NET_EOS_IDS];
	size_t n_eos_ids;
	/* Header + window * esz: the frame itself without encode; with it,
	 * the header of HELLO and EOS, and the values as taken (their owners). */
	unsigned char frame[];
};

struct peer {
	uint64_t id, next;
	bool eos;
};

struct receiver {
	struct endpoint ep;
	chan_t *out; /* referenced; we are its only sender, and close it */
	unsigned senders, eos_seen;
	int64_t linger_ns;
	struct peer *peers;
	size_t n_peers, cap_peers, evict;
	int (*decode)(const void *buf, size_t len, void *elem, void *arg);
	void *codec_arg;
	void (*out_drop)(void *elem); /* out's drop(), for a decoded value not sent */
	unsigned char elem[];	      /* with decode: one value, esz bytes */
};

/* ---- small helpers ---- */

#define COUNT(ep, field, n)                                                                        \
	do {                                                                                       \
		if ((ep)->cnt)                                                                     \
			/* Relaxed: a statistic (see struct chan_net_counters). */                 \
			atomic_fetch_add_explicit(&(ep)->cnt->field, (n), memory_order_relaxed);   \
	} while (0)

static void net_log(const struct endpoint *ep, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	int k;

	if (!ep->log)
		return;
	k = snprintf(msg, sizeof(msg), "chan_net %s: ", ep->side);
	va_start(ap, fmt);
	vsnprintf(msg + k, sizeof(msg) - (size_t)k, fmt, ap);
	va_end(ap);
	ep->log(ep->log_arg, msg);
}

/* An NNG error as a negative errno. */
static int nng_to_errno(int rv)
{
	if (rv & NNG_ESYSERR)
		return -(rv & ~NNG_ESYSERR);
	switch (rv) {
	case 0:
		return 0;
	case NNG_ENOMEM:
		return -ENOMEM;
	case NNG_EINVAL:
	case NNG_ECRYPTO: /* a certificate or key that does not load */
	case NNG_EADDRINVAL:
	case NNG_ENOTSUP:
	case NNG_ENOENT:
		return -EINVAL;
	case NNG_EADDRINUSE:
		return -EADDRINUSE;
	case NNG_ECLOSED:
	case NNG_ECANCELED:
		return -ECANCELED;
	case NNG_ETIMEDOUT:
		return -ETIMEDOUT;
	case NNG_ECONNREFUSED:
		return -ECONNREFUSED;
	case NNG_ECONNRESET:
		return -ECONNRESET;
	case NNG_EPERM:
		return -EPERM;
	case NNG_EPROTO:
		return -EPROTO;
	case NNG_EAGAIN:
		return -EAGAIN;
	default:
		return -EIO;
	}
}

/* A random 64-bit id (never 0), for sender and receiver identities. */
static uint64_t random_id(void)
{
	uint64_t id = 0;

	if (getrandom(&id, sizeof(id), 0) != (ssize_t)sizeof(id) || id == 0) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		id = (uint64_t)ts.tv_nsec * UINT64_C(0x9e3779b97f4a7c15) ^ (uint64_t)ts.tv_sec ^
		     (uint64_t)getpid() << 32 ^ (uint64_t)(uintptr_t)&id;
		id |= 1;
	}
	return id;
}

static const chan_net_opts_t *opts_or_default(const chan_net_opts_t *o)
{
	static const chan_net_opts_t defaults;

	return o ? o : &defaults;
}

static size_t max_frame_of(const chan_net_opts_t *o)
{
	return o->max_frame ? o->max_frame : NET_DEFAULT_MAX_FRAME;
}

/* ---- cancellation: stop the task's aio when the group's ctx is done ---- */

static void stop_on_cancel(void *arg)
{
	struct endpoint *ep = arg;

	pthread_mutex_lock(&ep->lock);
	ep->stop = true;
	nng_aio_cancel(ep->aio); /* fails an operation in flight: NNG_ECANCELED */
	pthread_mutex_unlock(&ep->lock);
	chan_wg_done(&ep->closer);
}

/* Register stop_on_cancel(); NULL (and errno) if it could not be. */
static chan_ctx_after_t *watch_cancel(struct endpoint *ep, chan_ctx_t *ctx)
{
	chan_wg_init(&ep->closer);
	chan_wg_add(&ep->closer, 1);
	return chan_ctx_after_func(ctx, stop_on_cancel, ep);
}

/* Free the socket and the aio, no operation in flight. */
static void endpoint_free(struct endpoint *ep)
{
	nng_close(ep->sock);
	nng_aio_free(ep->aio);
	pthread_mutex_destroy(&ep->lock);
	explicit_bzero(&ep->key, sizeof(ep->key));
}

/*
 * The task's end: the callback unregistered or joined, then endpoint_free().
 * @quiet: the exchange ended cleanly (every request answered, or the
 * receiver's linger passed with nothing coming); else one message may still
 * be on its way to us, an ACK to a sender or a frame to a receiver: wait
 * NET_QUIESCE_MS for it to land before closing. NNG 1.5's tcp and ipc
 * transports can hang a close for good when a message arrives as its pipe
 * closes (the receive callback re-arms on the closed aio and the reaper
 * waits for it; fixed in NNG 1.6.0, "tcp: Finish receive aio on close",
 * #1636). After that one message nothing more comes: a peer sends again
 * only after our reply, and a REP pipe that holds an unread request reads
 * no further.
 */
static void endpoint_close(struct endpoint *ep, chan_ctx_after_t *h, bool quiet)
{
	if (h && !chan_ctx_stop_after(h))
		chan_wg_wait(&ep->closer); /* it started: join it, it uses ep */
	if (!quiet) {
		chan_blocking_begin();
		nng_msleep(NET_QUIESCE_MS);
		chan_blocking_end();
	}
	endpoint_free(ep);
}

enum io { IO_SEND, IO_RECV, IO_SLEEP };

/*
 * One operation on ep->aio, waited for: send *@m (ours again on failure),
 * receive into *@m, or sleep; @ms the timeout (NNG_DURATION_INFINITE).
 * Return 0 or the NNG error; NNG_ECANCELED once the group was canceled.
 */
static int endpoint_io(struct endpoint *ep, enum io op, nng_msg **m, nng_duration ms)
{
	int rv;

	pthread_mutex_lock(&ep->lock);
	if (ep->stop) {
		pthread_mutex_unlock(&ep->lock);
		return NNG_ECANCELED;
	}
	switch (op) {
	case IO_SEND:
		nng_aio_set_timeout(ep->aio, ms);
		nng_aio_set_msg(ep->aio, *m);
		nng_send_aio(ep->sock, ep->aio);
		break;
	case IO_RECV:
		nng_aio_set_timeout(ep->aio, ms);
		nng_recv_aio(ep->sock, ep->aio);
		break;
	case IO_SLEEP:
		nng_sleep_aio(ms, ep->aio);
		break;
	}
	pthread_mutex_unlock(&ep->lock);
	/* NNG blocks this thread: let the scheduler run other goroutines. */
	chan_blocking_begin();
	nng_aio_wait(ep->aio);
	chan_blocking_end();
	rv = nng_aio_result(ep->aio);
	if (op == IO_RECV && rv == 0)
		*m = nng_aio_get_msg(ep->aio);
	return rv;
}

/*
 * Open @ep->sock (REQ or REP), apply the options and listen on or dial
 * @url. Return 0 or a negative errno (the socket closed again).
 */
static int endpoint_open(struct endpoint *ep, bool req, bool listen, const char *url,
			 const chan_net_opts_t *o)
{
	size_t max_frame = max_frame_of(o);
	int rv = nng_aio_alloc(&ep->aio, NULL, NULL);

	if (rv != 0)
		return nng_to_errno(rv);
	rv = req ? nng_req0_open(&ep->sock) : nng_rep0_open(&ep->sock);
	if (rv != 0) {
		nng_aio_free(ep->aio);
		return nng_to_errno(rv);
	}
	pthread_mutex_init(&ep->lock, NULL);
	ep->stop = false;
	if (req)
		/* No timed resend: we resend on a reset ourselves, and wait for a
		 * stopped receiver rather than bypass it (chan/net.h). */
		rv = nng_socket_set_ms(ep->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	if (rv == 0)
		rv = nng_socket_set_size(ep->sock, NNG_OPT_RECVMAXSZ,
					 (req ? 4096 : max_frame) + CHAN__NET_MAC);
	if (rv == 0)
		rv = nng_socket_set_ms(ep->sock, NNG_OPT_RECONNMINT, 10);
	if (rv == 0)
		rv = nng_socket_set_ms(ep->sock, NNG_OPT_RECONNMAXT, 500);
	if (rv == 0)
		rv = chan__net_start(ep->sock, listen, url, o);
	if (rv != 0) {
		endpoint_free(ep);
		return nng_to_errno(rv);
	}
	return 0;
}

/* Send @len bytes of @buf as one message (and its tag, with a secret). 0,
 * or the NNG error. */
static int send_bytes(struct endpoint *ep, const void *buf, size_t len)
{
	nng_msg *m;
	int rv = nng_msg_alloc(&m, len + (ep->auth ? CHAN__NET_MAC : 0));

	if (rv != 0)
		return rv;
	memcpy(nng_msg_body(m), buf, len);
	if (ep->auth)
		chan__hmac(&ep->key, buf, len, (unsigned char *)nng_msg_body(m) + len);
	rv = endpoint_io(ep, IO_SEND, &m, NNG_DURATION_INFINITE);
	if (rv != 0)
		nng_msg_free(m);
	return rv;
}

/*
 * With a secret: whether the @*len bytes at @b end in the tag of the rest
 * (then *@len drops the tag); counted and logged if not. Without: true.
 */
static bool authentic(struct endpoint *ep, const void *b, size_t *len)
{
	unsigned char mac[CHAN__NET_MAC];

	if (!ep->auth)
		return true;
	if (*len >= CHAN__NET_MAC) {
		chan__hmac(&ep->key, b, *len - CHAN__NET_MAC, mac);
		if (chan__mac_equal(mac, (const unsigned char *)b + *len - CHAN__NET_MAC)) {
			*len -= CHAN__NET_MAC;
			return true;
		}
	}
	COUNT(ep, unauthenticated, 1);
	net_log(ep, "dropped a %zu-byte frame that does not carry our secret's tag", *len);
	return false;
}

/* Reply with a header-only frame of @type. */
static void reply(struct endpoint *ep, unsigned type, unsigned reason, uint64_t seq)
{
	unsigned char b[CHAN__NET_HDR];

	chan__net_hdr_put(b, &(struct chan__net_hdr){.version = CHAN_NET_VERSION,
						     .type = (uint8_t)type,
						     .reason = (uint16_t)reason,
						     .elem_size = (uint32_t)ep->esz,
						     .id = ep->id,
						     .seq = seq});
	send_bytes(ep, b, sizeof(b)); /* a lost reply is a resend later */
}

static const char *reason_name(unsigned r)
{
	switch (r) {
	case CHAN__NET_R_VERSION:
		return "protocol version mismatch";
	case CHAN__NET_R_ELEM_SIZE:
		return "elem_size mismatch";
	case CHAN__NET_R_MALFORMED:
		return "frame malformed";
	case CHAN__NET_R_ENCODING:
		return "encode/decode on one side only";
	default:
		return "unknown reason";
	}
}

/* ---- sender ---- */

static void sender_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct sender *s = arg;

	(void)p;
	/* Relaxed: a count only (struct sender). */
	atomic_fetch_add_explicit(&s->pipes, ev == NNG_PIPE_EV_ADD_POST ? 1 : -1,
				  memory_order_relaxed);
}

/* Count @rid's EOS ack; false if it had acked before. */
static bool remember_eos(struct sender *s, uint64_t rid)
{
	for (size_t i = 0; i < s->n_eos_ids; i++)
		if (s->eos_ids[i] == rid)
			return false;
	if (s->n_eos_ids < NET_EOS_IDS)
		s->eos_ids[s->n_eos_ids++] = rid;
	return true;
}

/*
 * One exchange: send the frame of @type with @n values (already in
 * s->frame's payload) numbered from s->seq, until its ACK comes.
 * @eos: on a connection reset with no receiver connected and our EOS acked
 *       by one already, stop (0): the others went away.
 * Return: 0 (acked), -ECANCELED (socket closed: the group was canceled),
 * -EPROTO (refused; logged and counted), or another negative errno.
 */
static int exchange(struct sender *s, unsigned type, size_t n)
{
	struct endpoint *ep = &s->ep;
	bool enc = s->encode && type == CHAN__NET_DATA;
	unsigned char *buf = enc ? s->enc : s->frame;
	size_t plen = enc ? s->enc_len : n * ep->esz, len = CHAN__NET_HDR + plen;
	uint64_t want = s->seq + n;

	chan__net_hdr_put(buf, &(struct chan__net_hdr){.version = CHAN_NET_VERSION,
						       .type = (uint8_t)type,
						       .reason = s->encode ? CHAN__NET_F_ENCODED : 0,
						       .elem_size = (uint32_t)ep->esz,
						       .payload_len = (uint32_t)plen,
						       .id = ep->id,
						       .seq = s->seq});
	for (;;) {
		struct chan__net_hdr h;
		const char *why;
		nng_msg *m;
		int rv = send_bytes(ep, buf, len);

		if (rv == 0)
			rv = endpoint_io(ep, IO_RECV, &m, NNG_DURATION_INFINITE);
		if (rv == NNG_ECONNRESET) {
			/* The pipe it went on dropped: send it again (N2 makes a
			 * duplicate harmless). */
			COUNT(ep, resent, 1);
			if (type == CHAN__NET_EOS && s->n_eos_ids >= s->receivers &&
			    /* Relaxed: see struct sender. */
			    atomic_load_explicit(&s->pipes, memory_order_relaxed) <= 0)
				return 0;
			continue;
		}
		if (rv != 0)
			return nng_to_errno(rv);
		size_t mlen = nng_msg_len(m);

		if (!authentic(ep, nng_msg_body(m), &mlen)) {
			/* Not from a receiver that has our secret: ask again,
			 * after a breath. */
			nng_msg_free(m);
			if (endpoint_io(ep, IO_SLEEP, NULL, 1) == NNG_ECANCELED)
				return -ECANCELED;
			continue;
		}
		enum chan__net_parse p = chan__net_hdr_get(nng_msg_body(m), mlen, &h, &why);

		nng_msg_free(m);
		if (p == CHAN__NET_OK && h.type == CHAN__NET_REFUSE) {
			COUNT(ep, refused, 1);
			net_log(ep, "refused by receiver %016llx: %s (elem_size %zu here, %u there)",
				(unsigned long long)h.id, reason_name(h.reason), ep->esz,
				(unsigned)h.elem_size);
			return -EPROTO;
		}
		if (p == CHAN__NET_BAD_VERSION) {
			COUNT(ep, refused, 1);
			net_log(ep, "receiver speaks protocol version %u, we speak %u",
				(unsigned)h.version, CHAN_NET_VERSION);
			return -EPROTO;
		}
		if (p != CHAN__NET_OK || h.type != CHAN__NET_ACK || h.seq != want) {
			/* Not an answer to this frame: count it, ask again. */
			COUNT(ep, malformed, 1);
			net_log(ep, "bad reply to %s: %s", chan__net_type_name(type),
				p != CHAN__NET_OK ? why : "not the ACK of this frame");
			continue;
		}
		if (type == CHAN__NET_EOS && !remember_eos(s, h.id))
			/* A receiver that had it (NNG's choice of pipe) while we
			 * wait for others: ask again after a breath, not in a
			 * tight loop. */
			if (endpoint_io(ep, IO_SLEEP, NULL, 1) == NNG_ECANCELED)
				return -ECANCELED;
		return 0;
	}
}

/* EOS to every connected receiver, and to at least s->receivers: until as
 * many distinct ones acked it as there are pipes (a receiver that had it
 * acks again during its linger) and as were asked for. */
static int send_eos(struct sender *s)
{
	for (;;) {
		int r = exchange(s, CHAN__NET_EOS, 0);

		if (r != 0)
			return r;
		/* Relaxed: see struct sender. */
		int pipes = atomic_load_explicit(&s->pipes, memory_order_relaxed);

		if (s->n_eos_ids == NET_EOS_IDS ||
		    (s->n_eos_ids >= s->receivers && (int)s->n_eos_ids >= pipes))
			return 0;
	}
}

/* Hand the value at @elem to on_lost() (counted). */
static void lose(struct sender *s, void *elem)
{
	COUNT(&s->ep, lost, 1);
	if (s->on_lost)
		s->on_lost(elem, s->lost_arg);
}

/*
 * With encode: encode the first of the @*held values at @vals into s->enc,
 * as many as fit max_frame. A value that does not encode, or would not fit
 * even alone, is lost and leaves @vals (the rest move up, in order).
 * Return how many values lead @vals now and are in the frame; the values
 * after them stay held for the next frame.
 */
static size_t encode_frame(struct sender *s, unsigned char *vals, size_t *held)
{
	size_t esz = s->ep.esz, k = 0;

	s->enc_len = 0;
	while (k < *held) {
		unsigned char *elem = vals + k * esz;
		size_t at = CHAN__NET_HDR + s->enc_len + 4;
		size_t room = s->enc_cap > at ? s->enc_cap - at : 0;
		ssize_t r = s->encode(elem, room ? s->enc + at : s->enc, room, s->codec_arg);

		if (r >= 0 && (size_t)r > room) {
			size_t need = at + (size_t)r, cap = s->enc_cap;

			if (need > s->max_frame || (size_t)r > UINT32_MAX) {
				if (k > 0)
					break; /* the frame is full: next frame */
				net_log(&s->ep, "a value of %zd encoded bytes does not fit max_frame",
					r);
				r = -1;
			} else {
				while (cap < need)
					cap = cap * 2 < s->max_frame ? cap * 2 : s->max_frame;
				unsigned char *b = realloc(s->enc, cap);

				if (!b) {
					if (k > 0)
						break;
					net_log(&s->ep, "no memory to encode a value");
					r = -1;
				} else {
					s->enc = b;
					s->enc_cap = cap;
					continue; /* encode it again, with room */
				}
			}
		}
		if (r < 0) {
			lose(s, elem);
			memmove(elem, elem + esz, (*held - k - 1) * esz);
			(*held)--;
			continue;
		}
		chan__net_put_len(s->enc + at - 4, (uint32_t)r);
		s->enc_len += 4 + (size_t)r;
		k++;
	}
	return k;
}

static int sender_main(chan_ctx_t *ctx, void *arg)
{
	struct sender *s = arg;
	struct endpoint *ep = &s->ep;
	size_t esz = ep->esz;
	unsigned char *vals = s->frame + CHAN__NET_HDR;
	chan_ctx_after_t *h = watch_cancel(ep, ctx);
	size_t held = 0; /* values taken from the input and not acked, at vals */
	int err = h ? exchange(s, CHAN__NET_HELLO, 0) : -ENOMEM;

	while (err == 0) {
		if (held == 0) {
			err = chan_recv_ctx(s->in, vals, ctx);
			if (err == -EPIPE) {
				err = send_eos(s);
				break;
			}
			if (err != 0)
				break; /* canceled */
			held = 1;
		}
		held += chan_try_recv_burst(s->in, vals + held * esz, s->window - held);
		size_t n = s->encode ? encode_frame(s, vals, &held) : held;

		if (n == 0)
			continue; /* none of them encoded: all lost */
		err = exchange(s, CHAN__NET_DATA, n); /* N1 */
		if (err != 0)
			break;
		COUNT(ep, acked, n);
		s->seq += n;
		if (s->release)
			for (size_t i = 0; i < n; i++)
				s->release(vals + i * esz, s->codec_arg);
		held -= n;
		memmove(vals, vals + n * esz, held * esz);
	}
	/* Quiet only after the last EOS was acked: no request outstanding. */
	endpoint_close(ep, h, err == 0);
	/* The window when we stopped: maybe delivered, never acked. */
	for (size_t i = 0; i < held; i++)
		lose(s, vals + i * esz);
	chan_release(s->in);
	free(s->enc);
	free(s);
	if (err == -ECANCELED || (err != 0 && chan_ctx_err(ctx) != 0))
		return 0; /* a bridge never reports cancellation */
	return err;
}

/* Checks shared by both constructors; 0 or -EINVAL. */
static int check_common(chan_group_t *g, const char *url, const chan_net_opts_t *o,
			size_t esz)
{
	if (!g || !url || esz == 0 || esz > UINT32_MAX)
		return -EINVAL;
	if ((o->flags & CHAN_NET_LISTEN) && (o->flags & CHAN_NET_DIAL))
		return -EINVAL;
	if (o->flags & ~(unsigned)(CHAN_NET_LISTEN | CHAN_NET_DIAL))
		return -EINVAL;
	if (max_frame_of(o) < CHAN__NET_HDR + esz || max_frame_of(o) > UINT32_MAX)
		return -EINVAL;
	if ((o->secret == NULL) != (o->secret_len == 0))
		return -EINVAL;
	return 0;
}

static int canceled(chan_group_t *g)
{
	return chan_ctx_err(chan_group_ctx(g)) != 0 ? -ECANCELED : 0;
}

static void endpoint_setup(struct endpoint *ep, const chan_net_opts_t *o, const char *side,
			   size_t esz)
{
	ep->cnt = o->counters;
	ep->log = o->log;
	ep->log_arg = o->log_arg;
	ep->side = side;
	ep->esz = esz;
	ep->id = random_id();
	ep->auth = o->secret != NULL;
	if (ep->auth)
		chan__hmac_key(&ep->key, o->secret, o->secret_len);
}

int chan_net_send_to(chan_group_t *g, chan_t *in, const char *url, const chan_net_opts_t *o)
{
	struct sender *s;
	size_t esz, window, max;
	int r;

	o = opts_or_default(o);
	esz = in ? chan_elem_size(in) : 0;
	if (!in)
		return -EINVAL;
	r = check_common(g, url, o, esz);
	if (r == 0 && (o->decode || (o->release && !o->encode)))
		r = -EINVAL;
	if (r == 0)
		r = chan__net_tls_check(url, !(o->flags & CHAN_NET_DIAL), o);
	if (r != 0)
		return r;
	r = canceled(g);
	if (r != 0)
		return r;
	window = o->window ? o->window : NET_DEFAULT_WINDOW;
	max = (max_frame_of(o) - CHAN__NET_HDR) / esz;
	if (window > max)
		window = max;
	if (window > (UINT32_MAX - CHAN__NET_HDR) / esz)
		window = (UINT32_MAX - CHAN__NET_HDR) / esz;
	s = calloc(1, sizeof(*s) + CHAN__NET_HDR + window * esz);
	if (!s)
		return -ENOMEM;
	endpoint_setup(&s->ep, o, "send", esz);
	s->window = window;
	s->receivers = o->receivers ? o->receivers : 1;
	if (s->receivers > NET_EOS_IDS)
		s->receivers = NET_EOS_IDS;
	s->on_lost = o->on_lost;
	s->lost_arg = o->lost_arg;
	s->encode = o->encode;
	s->release = o->release;
	s->codec_arg = o->codec_arg;
	s->max_frame = max_frame_of(o);
	if (s->encode) {
		s->enc_cap = s->max_frame < 4096 ? s->max_frame : 4096;
		s->enc = malloc(s->enc_cap);
		if (!s->enc) {
			free(s);
			return -ENOMEM;
		}
	}
	atomic_init(&s->pipes, 0);
	r = endpoint_open(&s->ep, true, !(o->flags & CHAN_NET_DIAL), url, o);
	if (r != 0) {
		free(s->enc);
		free(s);
		return r;
	}
	/* Before any pipe can come: a dial is asynchronous, but a listener may
	 * already have accepted one; count it as the callbacks run from now. */
	nng_pipe_notify(s->ep.sock, NNG_PIPE_EV_ADD_POST, sender_pipe_cb, s);
	nng_pipe_notify(s->ep.sock, NNG_PIPE_EV_REM_POST, sender_pipe_cb, s);
	s->in = chan_retain(in);
	r = chan_group_go(g, sender_main, s);
	if (r != 0) {
		endpoint_free(&s->ep);
		chan_release(s->in);
		free(s->enc);
		free(s);
	}
	return r;
}

/* ---- receiver ---- */

static struct peer *peer_get(struct receiver *rc, uint64_t id)
{
	for (size_t i = 0; i < rc->n_peers; i++)
		if (rc->peers[i].id == id)
			return &rc->peers[i];
	if (rc->n_peers == rc->cap_peers && rc->cap_peers < NET_MAX_PEERS) {
		size_t cap = rc->cap_peers ? 2 * rc->cap_peers : 8;
		struct peer *p = realloc(rc->peers, cap * sizeof(*p));

		if (p) {
			rc->peers = p;
			rc->cap_peers = cap;
		}
	}
	if (rc->n_peers < rc->cap_peers) {
		rc->peers[rc->n_peers] = (struct peer){.id = id};
		return &rc->peers[rc->n_peers++];
	}
	if (rc->cap_peers == 0)
		return NULL; /* out of memory */
	/* Full: forget the oldest-placed sender, round robin (only a flood of
	 * ids, more than NET_MAX_PEERS live senders, gets here). */
	struct peer *p = &rc->peers[rc->evict++ % rc->cap_peers];

	if (p->eos && rc->eos_seen > 0)
		rc->eos_seen--;
	*p = (struct peer){.id = id};
	return p;
}

/* Every one of @n values at @buf into the output; 0 or the first error. */
static int deliver(chan_t *out, const unsigned char *buf, size_t esz, size_t n, chan_ctx_t *ctx)
{
	while (n > 0) {
		size_t k = chan_try_send_burst(out, buf, n);

		if (k == 0) {
			int r = chan_send_ctx(out, buf, ctx);

			if (r != 0)
				return r;
			k = 1;
		}
		buf += k * esz;
		n -= k;
	}
	return 0;
}

/*
 * With decode: every value of an encoded DATA payload (@len bytes at @pl,
 * checked whole by the caller) after the first @skip, decoded into
 * rc->elem and sent; *@got: how many were sent (a value that does not
 * decode is counted malformed and dropped). Return 0 or the send's error,
 * the value it could not send handed to out's drop().
 */
static int deliver_decoded(struct receiver *rc, const unsigned char *pl, size_t len,
			   size_t skip, chan_ctx_t *ctx, size_t *got)
{
	const unsigned char *v;
	size_t off = 0, vlen;

	*got = 0;
	for (size_t i = 0; chan__net_next_value(pl, len, &off, &v, &vlen); i++) {
		if (i < skip)
			continue;
		if (rc->decode(v, vlen, rc->elem, rc->codec_arg) < 0) {
			COUNT(&rc->ep, malformed, 1);
			net_log(&rc->ep, "dropped a value of %zu bytes that did not decode", vlen);
			continue;
		}
		int r = chan_send_ctx(rc->out, rc->elem, ctx);

		if (r != 0) {
			if (rc->out_drop)
				rc->out_drop(rc->elem);
			return r;
		}
		(*got)++;
	}
	return 0;
}

/*
 * Handle one frame. Return 0 to go on, 1 when the last EOS came, or the
 * error that stops the task (canceled, output closed, out of memory).
 * @lingering: after the last EOS: DATA is no longer delivered.
 */
static int handle(struct receiver *rc, const unsigned char *b, size_t len, chan_ctx_t *ctx,
		  bool lingering)
{
	struct endpoint *ep = &rc->ep;
	struct chan__net_hdr h;
	const char *why;
	enum chan__net_parse p;
	struct peer *peer;

	if (!authentic(ep, b, &len))
		return 0; /* never answered: nothing to learn from us */
	p = chan__net_hdr_get(b, len, &h, &why);

	if (p == CHAN__NET_BAD_MAGIC || p == CHAN__NET_MALFORMED) {
		COUNT(ep, malformed, 1);
		net_log(ep, "dropped a %zu-byte frame: %s", len, why);
		if (p == CHAN__NET_MALFORMED) /* ours: tell the peer why */
			reply(ep, CHAN__NET_REFUSE, CHAN__NET_R_MALFORMED, 0);
		return 0;
	}
	if (p == CHAN__NET_BAD_VERSION) {
		COUNT(ep, refused, 1);
		net_log(ep, "refused a peer of protocol version %u (we speak %u)",
			(unsigned)h.version, CHAN_NET_VERSION);
		reply(ep, CHAN__NET_REFUSE, CHAN__NET_R_VERSION, 0);
		return 0;
	}
	if (h.type == CHAN__NET_ACK || h.type == CHAN__NET_REFUSE) {
		COUNT(ep, malformed, 1);
		net_log(ep, "dropped a %s frame (only a sender gets those)",
			chan__net_type_name(h.type));
		return 0;
	}
	if (h.elem_size != ep->esz) {
		COUNT(ep, refused, 1);
		net_log(ep, "refused sender %016llx: elem_size %u, ours %zu",
			(unsigned long long)h.id, (unsigned)h.elem_size, ep->esz);
		reply(ep, CHAN__NET_REFUSE, CHAN__NET_R_ELEM_SIZE, 0);
		return 0;
	}
	if (((h.reason & CHAN__NET_F_ENCODED) != 0) != (rc->decode != NULL)) {
		COUNT(ep, refused, 1);
		net_log(ep, "refused sender %016llx: it %s its values, we %s",
			(unsigned long long)h.id,
			(h.reason & CHAN__NET_F_ENCODED) ? "encodes" : "does not encode",
			rc->decode ? "decode" : "do not");
		reply(ep, CHAN__NET_REFUSE, CHAN__NET_R_ENCODING, 0);
		return 0;
	}
	size_t n = 0, skip = 0;
	const unsigned char *pl = b + CHAN__NET_HDR;

	if (h.type == CHAN__NET_DATA && rc->decode) {
		const unsigned char *v;
		size_t off = 0, vlen;

		while (off < h.payload_len && chan__net_next_value(pl, h.payload_len, &off, &v, &vlen))
			n++;
		if (off != h.payload_len)
			n = 0; /* a length that runs past the payload: malformed */
	} else if (h.type == CHAN__NET_DATA && h.payload_len % ep->esz == 0) {
		n = h.payload_len / ep->esz;
	}
	if (h.type == CHAN__NET_DATA && (n == 0 || h.seq + n < h.seq)) {
		COUNT(ep, malformed, 1);
		net_log(ep, "dropped a DATA frame: payload of %u bytes for elem_size %zu",
			(unsigned)h.payload_len, ep->esz);
		reply(ep, CHAN__NET_REFUSE, CHAN__NET_R_MALFORMED, 0);
		return 0;
	}
	peer = peer_get(rc, h.id);
	if (!peer)
		return -ENOMEM;
	switch (h.type) {
	case CHAN__NET_HELLO:
		reply(ep, CHAN__NET_ACK, 0, h.seq);
		return 0;
	case CHAN__NET_EOS:
		if (!peer->eos) {
			peer->eos = true;
			rc->eos_seen++;
			COUNT(ep, eos, 1);
		}
		reply(ep, CHAN__NET_ACK, 0, h.seq);
		return rc->eos_seen >= rc->senders ? 1 : 0;
	default: /* DATA */
		break;
	}
	if (h.seq < peer->next)
		skip = peer->next - h.seq < n ? (size_t)(peer->next - h.seq) : n;
	if (skip < n) {
		if (lingering)
			return 0; /* no reply: the sender tries another receiver */
		size_t got = n - skip;
		int r = rc->decode ? deliver_decoded(rc, pl, h.payload_len, skip, ctx, &got)
				   : deliver(rc->out, pl + skip * ep->esz, ep->esz, n - skip, ctx);

		if (r != 0)
			return r; /* canceled (N3: no ack for this frame) */
		peer->next = h.seq + n; /* N2 */
		COUNT(ep, delivered, got);
	}
	if (skip > 0)
		COUNT(ep, duplicates, skip);
	reply(ep, CHAN__NET_ACK, 0, h.seq + n); /* N3 */
	return 0;
}

static int receiver_main(chan_ctx_t *ctx, void *arg)
{
	struct receiver *rc = arg;
	struct endpoint *ep = &rc->ep;
	chan_ctx_after_t *h = watch_cancel(ep, ctx);
	bool lingering = false, quiet = false;
	nng_duration timeout = NNG_DURATION_INFINITE;
	int err = h ? 0 : -ENOMEM;

	while (err == 0) {
		nng_msg *m;
		int rv = endpoint_io(ep, IO_RECV, &m, timeout);

		if (rv == NNG_ETIMEDOUT && lingering) {
			quiet = true; /* the linger is over, nothing came */
			break;
		}
		if (rv != 0) {
			err = nng_to_errno(rv);
			break;
		}
		int r = handle(rc, nng_msg_body(m), nng_msg_len(m), ctx, lingering);

		nng_msg_free(m);
		if (r == 1 && !lingering) {
			/* Every sender is done: the consumers may see -EPIPE now;
			 * the socket stays for the linger, for lost acks. */
			chan_close(rc->out);
			lingering = true;
			if (rc->linger_ns < 0)
				break;
			timeout = (nng_duration)(rc->linger_ns / 1000000);
		} else if (r < 0) {
			err = r;
		}
	}
	chan_close(rc->out); /* before the close: its consumers need not wait */
	endpoint_close(ep, h, quiet);
	chan_release(rc->out);
	free(rc->peers);
	free(rc);
	if (err == -ENOMEM && chan_ctx_err(ctx) == 0)
		return err;
	return 0; /* canceled, or our output closed by someone: not an error */
}

chan_t *chan_net_recv_from(chan_group_t *g, const char *url, const chan_net_opts_t *o)
{
	struct receiver *rc;
	chan_t *out;
	int r;

	if (!o) {
		errno = EINVAL;
		return NULL;
	}
	r = check_common(g, url, o, o->out.elem_size);
	if (r == 0 && (o->encode || o->release))
		r = -EINVAL;
	if (r == 0)
		r = chan__net_tls_check(url, (o->flags & CHAN_NET_LISTEN) != 0, o);
	if (r == 0)
		r = canceled(g);
	if (r != 0) {
		errno = -r;
		return NULL;
	}
	out = chan_new_opts(&o->out);
	if (!out)
		return NULL; /* EINVAL, ENOMEM */
	rc = calloc(1, sizeof(*rc) + (o->decode ? o->out.elem_size : 0));
	if (!rc) {
		chan_release(out);
		errno = ENOMEM;
		return NULL;
	}
	endpoint_setup(&rc->ep, o, "recv", o->out.elem_size);
	rc->senders = o->senders ? o->senders : 1;
	rc->decode = o->decode;
	rc->codec_arg = o->codec_arg;
	rc->out_drop = o->out.drop;
	rc->linger_ns = o->linger_ns ? o->linger_ns : NET_DEFAULT_LINGER_NS;
	r = endpoint_open(&rc->ep, false, (o->flags & CHAN_NET_LISTEN) != 0, url, o);
	if (r == 0) {
		rc->out = chan_retain(out);
		r = chan_group_go(g, receiver_main, rc);
		if (r != 0) {
			endpoint_free(&rc->ep);
			chan_release(rc->out);
		}
	}
	if (r != 0) {
		free(rc);
		chan_release(out);
		errno = -r;
		return NULL;
	}
	return out;
}

/* ---- counters ---- */

chan_net_counters_t *chan_net_counters_new(void)
{
	chan_net_counters_t *c = calloc(1, sizeof(*c));

	if (!c)
		errno = ENOMEM;
	return c;
}

void chan_net_counters_read(const chan_net_counters_t *c, chan_net_stats_t *st)
{
	/* Relaxed: statistics (struct chan_net_counters). */
#define READ(f) st->f = atomic_load_explicit(&((chan_net_counters_t *)c)->f, memory_order_relaxed)
	READ(delivered);
	READ(duplicates);
	READ(acked);
	READ(resent);
	READ(lost);
	READ(malformed);
	READ(refused);
	READ(eos);
	READ(unauthenticated);
#undef READ
}

void chan_net_counters_destroy(chan_net_counters_t *c)
{
	free(c);
}
