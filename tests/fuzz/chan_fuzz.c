/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/chan_fuzz.c - differential fuzzing of the channel API against a
 * sequential model (libFuzzer target; tests/fuzz/replay.c runs it without).
 *
 * The input is a program: a sequence of API calls on NSLOTS channel slots,
 * decoded as described at decode_op(). Every call runs on one thread, so the
 * model is exact and needs no interleavings: a channel is a FIFO of sequence
 * numbers with a capacity, a closed flag and a reference count. Unbuffered
 * channels never have a partner waiting, so their try_ calls give -EAGAIN and
 * their timed calls -ETIMEDOUT until they are closed.
 *
 * Every value sent carries its channel's id and a sequence number unique to
 * that channel, in all of its elem_size bytes (an odd size included), so a
 * received value that is not the model's head names the invariant it broke:
 * lost, duplicated, out of order, or corrupted. drop() must run exactly once
 * for every value left at the last chan_release(), once for every value a
 * drop policy (CHAN_DROP_NEWEST/OLDEST) discards, inside the send that
 * discards it, and never otherwise; chan_dropped() must count the discards.
 *
 * Every result, errno, len, cap, elem_size and is_closed is compared with the
 * model, and a mismatch aborts with the operation's index and a message (set
 * CHAN_FUZZ_TRACE=1 to print every call). The contract checked is the one of
 * include/chan/channel.h and select.h; where the docs leave a choice open the
 * model accepts each reading, and says so where it does.
 *
 * A blocking call that the model says could not complete at once would block
 * forever here (nobody else runs), so it is run as its try_ variant instead;
 * an endless timeout likewise becomes a 1 us one.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <chan/chan.h>

#define NSLOTS	  6
#define MAX_ELEM  16  /* largest elem_size the programs use */
#define MAX_BURST 127 /* largest burst: above every bounded capacity used */
/*
 * Largest select: 24, past the 16 cases select keeps on its stack. (Idle
 * cases over channels with distinct histories hit issue 10's defect 1, the
 * double collect that spun for ~n! rounds; a 24-case build found it in
 * seconds. It is fixed, and its reproducer is corpus/select_distinct_versions.)
 */
#ifdef CHAN_FUZZ_MAX_CASES
#define MAX_CASES CHAN_FUZZ_MAX_CASES
#else
#define MAX_CASES 24
#endif
#define MAX_REFS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* ---- the model ---------------------------------------------------------- */

/**
 * struct model - one slot: a live channel and what it must contain.
 * @c:        the channel, or NULL when the slot is empty (calls then pass NULL).
 * @uid:      this channel's id, part of every value it carries.
 * @q:        sequence numbers buffered, oldest at @qhead (a circular array).
 * @next_seq: the next sequence number to send; values are never reused.
 * @policy:   CHAN_DROP_NEWEST, CHAN_DROP_OLDEST or 0.
 * @ndropped: values the policy discarded: chan_dropped() must say the same.
 */
struct model {
	chan_t *c;
	unsigned uid;
	size_t elem_size, cap;
	unsigned flags, policy;
	uint64_t ndropped;
	bool has_drop, closed;
	unsigned refs;
	uint32_t next_seq;
	uint32_t *q;
	size_t qhead, qlen, qsize;
};

/* What one operation would do now: the ready set of the model. */
enum ready { NOT_READY, READY_OK, READY_EPIPE };

struct elem_rec {
	uint8_t b[MAX_ELEM];
};

/* slots[NSLOTS] stays empty: an explicit NULL channel even when all are live. */
static struct model slots[NSLOTS + 1];
static unsigned next_uid;
static size_t op_index;
static const char *op_name = "start";
static bool trace;

/* drop() accounting: the channel being freed, and what drop() was given. */
static struct model *releasing;
static struct elem_rec *dropped;
static size_t ndropped, dropped_size;

/*
 * Discards by a drop policy: while a send call runs, drop() records here what
 * it got; the model then appends what it expects (the value sent, or the
 * oldest one) and the two must match as multisets.
 */
static bool sending;
static struct elem_rec discarded[MAX_BURST], expected[MAX_BURST];
static size_t ndiscarded, nexpected;

static void __attribute__((noreturn, format(printf, 1, 2))) fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "chan_fuzz: op %zu (%s): ", op_index, op_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static void __attribute__((format(printf, 1, 2))) say(const char *fmt, ...)
{
	va_list ap;

	if (!trace)
		return;
	fprintf(stderr, "  [%zu] %s: ", op_index, op_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* "#uid" for a live channel, "NULL" for an empty slot (traces only). */
static const char *cname(const struct model *m)
{
	static char buf[4][16];
	static unsigned k;
	char *b = buf[k++ % 4];

	if (!m->c)
		return "NULL";
	snprintf(b, sizeof(buf[0]), "#%u", m->uid);
	return b;
}

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);

	if (!q)
		fail("out of memory in the harness");
	return q;
}

static uint64_t mix64(uint64_t x)
{
	/* splitmix64's finaliser: every input bit moves every output bit. */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/*
 * The bytes of value @seq of channel @uid. From 8 bytes on, the first four
 * are @seq and the next two @uid (so a wrong value can be named), and the
 * rest is a hash of both; below 8, the low bytes of seq * odd + uid, so that
 * consecutive values differ even in one byte.
 */
static void encode(uint8_t *out, size_t es, unsigned uid, uint32_t seq)
{
	uint64_t h = mix64(((uint64_t)uid << 32) | seq);
	uint64_t head;

	if (es >= 8)
		head = (uint64_t)seq | (uint64_t)(uid & 0xffff) << 32 | (h & 0xffff) << 48;
	else
		head = (uint64_t)seq * 0x9e3779b1u + uid;
	for (size_t i = 0; i < es; i++)
		out[i] = i < 8 ? (uint8_t)(head >> (8 * i)) : (uint8_t)(mix64(h + i) >> 56);
}

static void q_push(struct model *m, uint32_t seq)
{
	if (m->qlen == m->qsize) {
		size_t nsize = m->qsize ? 2 * m->qsize : 16;
		uint32_t *nq = xrealloc(NULL, nsize * sizeof(*nq));

		for (size_t i = 0; i < m->qlen; i++)
			nq[i] = m->q[(m->qhead + i) % m->qsize];
		free(m->q);
		m->q = nq;
		m->qhead = 0;
		m->qsize = nsize;
	}
	m->q[(m->qhead + m->qlen++) % m->qsize] = seq;
}

static uint32_t q_at(const struct model *m, size_t i)
{
	return m->q[(m->qhead + i) % m->qsize];
}

static void q_pop(struct model *m)
{
	m->qhead = (m->qhead + 1) % m->qsize;
	m->qlen--;
}

static enum ready send_ready(const struct model *m)
{
	if (m->closed)
		return READY_EPIPE;
	if (m->cap == 0)
		return NOT_READY; /* a rendezvous needs a receiver: never here */
	if (m->cap == CHAN_UNBOUNDED || m->qlen < m->cap || m->policy)
		return READY_OK; /* a drop policy never makes a send wait */
	return NOT_READY;
}

/* The model's side of a discard: value @seq of @m goes to drop(). */
static void expect_discard(struct model *m, uint32_t seq)
{
	m->ndropped++;
	if (!m->has_drop)
		return;
	if (nexpected == MAX_BURST)
		fail("more discards in one call than the harness can hold");
	memset(&expected[nexpected], 0, sizeof(expected[0]));
	encode(expected[nexpected].b, m->elem_size, m->uid, seq);
	nexpected++;
}

/*
 * A successful send of @seq on @m (send_ready() said READY_OK): enqueue it;
 * on a full channel with a policy, discard it (DROP_NEWEST) or evict the
 * oldest first (DROP_OLDEST).
 */
static void model_send(struct model *m, uint32_t seq)
{
	if (m->cap != CHAN_UNBOUNDED && m->qlen == m->cap) {
		if (m->policy == CHAN_DROP_NEWEST) {
			expect_discard(m, seq);
			return;
		}
		if (m->policy != CHAN_DROP_OLDEST)
			fail("the model sent to a full channel without a policy");
		expect_discard(m, q_at(m, 0));
		q_pop(m);
	}
	q_push(m, seq);
}

static enum ready recv_ready(const struct model *m)
{
	if (m->qlen > 0)
		return READY_OK;
	return m->closed ? READY_EPIPE : NOT_READY;
}

/* Room for a burst of @n: how many may go in at most. */
static size_t send_room(const struct model *m, size_t n)
{
	if (m->cap == CHAN_UNBOUNDED)
		return n;
	return n < m->cap - m->qlen ? n : m->cap - m->qlen;
}

/*
 * The value @got, element @i of what a call received from @m, must be the
 * model's head (the caller pops it after): say what it is if not.
 */
static void check_head(const struct model *m, const uint8_t *got, size_t i, const char *what)
{
	uint8_t want[MAX_ELEM];
	uint32_t seq = q_at(m, 0);

	encode(want, m->elem_size, m->uid, seq);
	if (memcmp(want, got, m->elem_size) == 0)
		return;
	if (m->elem_size >= 8) {
		uint32_t gseq = (uint32_t)got[0] | (uint32_t)got[1] << 8 | (uint32_t)got[2] << 16 |
				(uint32_t)got[3] << 24;
		unsigned guid = got[4] | (unsigned)got[5] << 8;
		uint8_t re[MAX_ELEM];

		encode(re, m->elem_size, guid, gseq);
		if (memcmp(re, got, m->elem_size) != 0)
			fail("%s: element %zu is corrupted (expected seq %u of channel %u)", what,
			     i, seq, m->uid);
		if (guid != (m->uid & 0xffff))
			fail("%s: element %zu is seq %u of channel %u, from another channel "
			     "(expected seq %u of %u)",
			     what, i, gseq, guid, seq, m->uid);
		fail("%s: element %zu is seq %u, expected seq %u: %s", what, i, gseq, seq,
		     gseq < seq ? "received twice (or reordered)"
				: "a value was lost (or reordered)");
	}
	fail("%s: element %zu is not seq %u (lost, doubled, reordered or corrupted)", what, i, seq);
}

/* ---- drop() and the last release ----------------------------------------- */

static int cmp_rec(const void *a, const void *b);

/* drop() during a send: a discard. The element's size comes with the
 * drop function (one per size), since a select may send on several. */
static void on_discard(const void *elem, size_t es)
{
	if (ndiscarded == MAX_BURST)
		fail("drop() ran more often in one call than values were sent");
	memset(&discarded[ndiscarded], 0, sizeof(discarded[0]));
	memcpy(discarded[ndiscarded].b, elem, es);
	ndiscarded++;
}

static void begin_send(void)
{
	sending = true;
	ndiscarded = nexpected = 0;
}

/* After a send call and the model's update: the discards must match. */
static void end_send(void)
{
	sending = false;
	if (ndiscarded != nexpected)
		fail("drop() ran %zu times in this call, the model discarded %zu values",
		     ndiscarded, nexpected);
	qsort(discarded, ndiscarded, sizeof(discarded[0]), cmp_rec);
	qsort(expected, nexpected, sizeof(expected[0]), cmp_rec);
	for (size_t i = 0; i < nexpected; i++)
		if (cmp_rec(&discarded[i], &expected[i]) != 0)
			fail("drop() got a value the policy should not have discarded (or missed "
			     "one)");
}

static void on_drop_sized(void *elem, size_t es);

static void on_drop_1(void *elem)
{
	on_drop_sized(elem, 1);
}

static void on_drop_4(void *elem)
{
	on_drop_sized(elem, 4);
}

static void on_drop_8(void *elem)
{
	on_drop_sized(elem, 8);
}

static void on_drop_13(void *elem)
{
	on_drop_sized(elem, 13);
}

static void (*drop_fn(size_t es))(void *)
{
	return es == 1 ? on_drop_1 : es == 4 ? on_drop_4 : es == 8 ? on_drop_8 : on_drop_13;
}

static void on_drop_sized(void *elem, size_t es)
{
	if (sending) {
		on_discard(elem, es);
		return;
	}
	if (!releasing)
		fail("drop() ran outside the last chan_release() and the discarding sends");
	if (!releasing->has_drop)
		fail("drop() ran for a channel created without one");
	if (releasing->elem_size != es)
		fail("drop() of a %zu-byte channel got the %zu-byte one's", releasing->elem_size,
		     es);
	if (ndropped == dropped_size) {
		dropped_size = dropped_size ? 2 * dropped_size : 64;
		dropped = xrealloc(dropped, dropped_size * sizeof(*dropped));
	}
	memset(&dropped[ndropped], 0, sizeof(dropped[0]));
	memcpy(dropped[ndropped].b, elem, releasing->elem_size);
	ndropped++;
}

static int cmp_rec(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct elem_rec));
}

/* Drop one reference of slot @m, checking drop() if it is the last one. */
static void model_release(struct model *m)
{
	struct elem_rec *want;

	if (m->refs > 1) {
		m->refs--;
		chan_release(m->c); /* releasing is NULL: a drop() here fails */
		return;
	}
	releasing = m;
	ndropped = 0;
	chan_release(m->c);
	releasing = NULL;
	if (!m->has_drop) {
		m->qlen = 0;
	} else {
		/* drop() order is not part of the contract: compare multisets. */
		if (ndropped != m->qlen)
			fail("last release of channel %u ran drop() %zu times for %zu buffered "
			     "values",
			     m->uid, ndropped, m->qlen);
		if (m->qlen == 0)
			goto out;
		want = xrealloc(NULL, m->qlen * sizeof(*want));
		memset(want, 0, m->qlen * sizeof(*want));
		for (size_t i = 0; i < m->qlen; i++)
			encode(want[i].b, m->elem_size, m->uid, q_at(m, i));
		qsort(want, m->qlen, sizeof(*want), cmp_rec);
		qsort(dropped, ndropped, sizeof(*dropped), cmp_rec);
		for (size_t i = 0; i < m->qlen; i++)
			if (cmp_rec(&want[i], &dropped[i]) != 0)
				fail("last release of channel %u: drop() saw a value that was "
				     "not buffered (or missed one)",
				     m->uid);
		free(want);
	}
out:
	free(m->q);
	memset(m, 0, sizeof(*m));
}

static void model_release_all(struct model *m)
{
	while (m->c)
		model_release(m);
}

/* The snapshots of every live channel, after each call. */
static void check_snapshots(void)
{
	for (int i = 0; i < NSLOTS; i++) {
		struct model *m = &slots[i];
		size_t want_len = m->cap == 0 ? 0 : m->qlen;

		if (!m->c)
			continue;
		if (chan_len(m->c) != want_len)
			fail("chan_len(channel %u) = %zu, model %zu", m->uid, chan_len(m->c),
			     want_len);
		if (chan_cap(m->c) != m->cap)
			fail("chan_cap(channel %u) = %zu, asked for %zu", m->uid, chan_cap(m->c),
			     m->cap);
		if (chan_elem_size(m->c) != m->elem_size)
			fail("chan_elem_size(channel %u) = %zu, asked for %zu", m->uid,
			     chan_elem_size(m->c), m->elem_size);
		if (chan_is_closed(m->c) != m->closed)
			fail("chan_is_closed(channel %u) = %d, model %d", m->uid,
			     chan_is_closed(m->c), m->closed);
		if (chan_dropped(m->c) != m->ndropped)
			fail("chan_dropped(channel %u) = %llu, model %llu", m->uid,
			     (unsigned long long)chan_dropped(m->c),
			     (unsigned long long)m->ndropped);
	}
}

/* ---- decoding ------------------------------------------------------------- */

struct input {
	const uint8_t *p;
	size_t n;
};

/* The next byte; 0 once the input is spent, so every program is complete. */
static uint8_t take(struct input *in)
{
	if (in->n == 0)
		return 0;
	in->n--;
	return *in->p++;
}

/* A slot byte: NSLOTS means the always empty slot, a NULL channel. */
static struct model *take_slot(struct input *in)
{
	return &slots[take(in) % (NSLOTS + 1)];
}

static const size_t caps[] = {0, 1, 2, 3, 4, 7, 8, 31, 32, 33, 100, CHAN_UNBOUNDED};
static const size_t elem_sizes[] = {1, 4, 8, 13};

/*
 * Timeouts: due ones, tiny ones, and endless ones (INT64_MAX, and values that
 * overflow now + timeout). An endless one is used only where the call will
 * complete at once; otherwise tiny_timeout() turns it into 1 us.
 */
static const int64_t timeouts[] = {0, -1, INT64_MIN, 1, 1000, 20000, INT64_MAX, INT64_MAX - 1};

static bool endless(int64_t t)
{
	return t > 1000000000;
}

static int64_t take_timeout(struct input *in, bool will_complete)
{
	int64_t t = timeouts[take(in) % (sizeof(timeouts) / sizeof(timeouts[0]))];

	return endless(t) && !will_complete ? 1000 : t;
}

/* How a blocking call ran: as itself, as a try_, or with a timeout. */
enum mode { BLOCKING, TRY, TIMED };

/* -ETIMEDOUT must never come early. */
static void check_not_early(int64_t t0, int64_t timeout)
{
	int64_t waited = chan_now() - t0;

	if (timeout > 0 && waited < timeout)
		fail("-ETIMEDOUT after %lld ns of a %lld ns timeout", (long long)waited,
		     (long long)timeout);
}

static uint8_t sendbuf[MAX_BURST * MAX_ELEM];
static uint8_t recvbuf[MAX_BURST * MAX_ELEM];
#define SENTINEL 0xa5

/* ---- operations ----------------------------------------------------------- */

static void op_new(struct input *in)
{
	struct model *m = &slots[take(in) % NSLOTS];
	uint8_t k = take(in), b = take(in);
	/* Bits 6-7: none, CHAN_DROP_NEWEST, CHAN_DROP_OLDEST, or both (EINVAL). */
	static const unsigned policies[] = {0, CHAN_DROP_NEWEST, CHAN_DROP_OLDEST,
					    CHAN_DROP_NEWEST | CHAN_DROP_OLDEST};
	chan_opts_t o = {
		.elem_size = elem_sizes[b & 3],
		.capacity = caps[k % (sizeof(caps) / sizeof(caps[0]))],
		.flags = ((b >> 2) & 3) | policies[b >> 6], /* SP, SC; the policy */
		.drop = (b & 0x10) ? NULL : drop_fn(elem_sizes[b & 3]),
	};
	bool plain = b & 0x20, bad;
	unsigned policy;
	chan_t *c;

	model_release_all(m);
	if (plain) {
		o.flags = 0;
		o.drop = NULL;
	}
	policy = o.flags & (CHAN_DROP_NEWEST | CHAN_DROP_OLDEST);
	bad = policy == (CHAN_DROP_NEWEST | CHAN_DROP_OLDEST) ||
	      (policy && (o.capacity == 0 || o.capacity == CHAN_UNBOUNDED));
	errno = 0;
	c = plain ? chan_new(o.elem_size, o.capacity) : chan_new_opts(&o);
	if (bad) {
		say("slot %td: cap %zd (-1: unbounded) flags %#x: %p errno %d (want NULL, EINVAL)",
		    m - slots, (ssize_t)o.capacity, o.flags, (void *)c, errno);
		if (c || errno != EINVAL)
			fail("chan_new_opts(cap %zd, flags %#x) gave %p, errno %d; expected NULL, "
			     "EINVAL",
			     (ssize_t)o.capacity, o.flags, (void *)c, errno);
		return;
	}
	if (!c)
		fail("chan_new%s(elem %zu, cap %zu, flags %u) failed: errno %d",
		     plain ? "" : "_opts", o.elem_size, o.capacity, o.flags, errno);
	m->c = c;
	m->uid = ++next_uid;
	m->elem_size = o.elem_size;
	m->cap = o.capacity;
	m->flags = o.flags;
	m->policy = policy;
	m->has_drop = o.drop != NULL;
	m->refs = 1;
	say("slot %td = channel %s: elem %zu cap %zd (-1: unbounded) flags %u drop %d", m - slots,
	    cname(m), o.elem_size, (ssize_t)o.capacity, o.flags, m->has_drop);
}

/*
 * Constructors that must fail with EINVAL (unknown flags are high bits, so
 * that flags added later do not make them valid), and the largest element,
 * which is valid where it costs no storage.
 */
static void op_new_edge(struct input *in)
{
	static const chan_opts_t bad[] = {
		{.elem_size = 0, .capacity = 1},
		{.elem_size = CHAN_ELEM_SIZE_MAX + 1, .capacity = 0},
		{.elem_size = 8, .capacity = CHAN_CAPACITY_MAX + 1},
		{.elem_size = 8, .capacity = CHAN_UNBOUNDED - 1},
		{.elem_size = 8, .capacity = 4, .flags = 1u << 31},
		{.elem_size = 1, .capacity = 0, .flags = 1u << 16},
		{.elem_size = 13, .capacity = CHAN_UNBOUNDED, .flags = 1u << 20 | 1u},
		/* The drop policies: bounded only, one at a time. */
		{.elem_size = 8, .capacity = 0, .flags = CHAN_DROP_NEWEST},
		{.elem_size = 4, .capacity = CHAN_UNBOUNDED, .flags = CHAN_DROP_OLDEST | 2u},
		{.elem_size = 8, .capacity = 4, .flags = CHAN_DROP_NEWEST | CHAN_DROP_OLDEST},
	};
	uint8_t b = take(in);
	size_t nbad = sizeof(bad) / sizeof(bad[0]);
	size_t i = b % (nbad + 3);
	chan_t *c;

	say("case %zu of %zu", i, nbad + 3);
	errno = 0;
	if (i < nbad) {
		c = (b & 0x80) && bad[i].flags == 0 ? chan_new(bad[i].elem_size, bad[i].capacity)
						    : chan_new_opts(&bad[i]);
		if (c || errno != EINVAL)
			fail("bad options %zu gave %p, errno %d; expected NULL, EINVAL", i,
			     (void *)c, errno);
		chan_release(c);
		return;
	}
	if (i == nbad) {
		c = chan_new_opts(NULL);
		if (c || errno != EINVAL)
			fail("chan_new_opts(NULL) gave %p, errno %d", (void *)c, errno);
		return;
	}
	/* Flags are ignored where no ring is chosen: valid, unbuffered/unbounded. */
	c = chan_new_opts(&(chan_opts_t){.elem_size = CHAN_ELEM_SIZE_MAX,
					 .capacity = i == nbad + 1 ? 0 : CHAN_UNBOUNDED,
					 .flags = CHAN_SINGLE_PRODUCER | CHAN_SINGLE_CONSUMER});
	if (!c)
		fail("the largest element (cap %s) was refused: errno %d",
		     i == nbad + 1 ? "0" : "unbounded", errno);
	if (chan_elem_size(c) != CHAN_ELEM_SIZE_MAX || chan_len(c) != 0 || chan_is_closed(c))
		fail("the largest element: wrong snapshots");
	if (chan_close(c) != 0 || chan_close(c) != -EPIPE)
		fail("the largest element: close");
	chan_release(c);
}

static void op_send(struct input *in, enum mode mode)
{
	struct model *m = take_slot(in);
	uint8_t b = take(in);
	bool null_elem = (b & 0x0f) == 0x0f;
	enum ready st = send_ready(m);
	int64_t timeout = mode == TIMED ? take_timeout(in, st != NOT_READY) : 0;
	uint32_t seq = m->next_seq++;
	int64_t t0;
	int r, want;

	if (mode == BLOCKING && st == NOT_READY && m->c && !null_elem)
		mode = TRY; /* would block forever */
	op_name = mode == BLOCKING ? "chan_send"
		  : mode == TRY	   ? "chan_try_send"
				   : "chan_send_timeout";
	if (m->c)
		encode(sendbuf, m->elem_size, m->uid, seq);
	t0 = chan_now();
	begin_send();
	switch (mode) {
	case BLOCKING:
		r = chan_send(m->c, null_elem ? NULL : sendbuf);
		break;
	case TRY:
		r = chan_try_send(m->c, null_elem ? NULL : sendbuf);
		break;
	default:
		r = chan_send_timeout(m->c, null_elem ? NULL : sendbuf, timeout);
		break;
	}
	if (!m->c || null_elem)
		want = -EINVAL;
	else if (st == READY_OK)
		want = 0;
	else if (st == READY_EPIPE)
		want = -EPIPE;
	else
		want = mode == TRY ? -EAGAIN : -ETIMEDOUT;
	say("channel %s seq %u%s timeout %lld: %d (want %d)", cname(m), seq,
	    null_elem ? " elem NULL" : "", (long long)timeout, r, want);
	if (r != want)
		fail("returned %d, expected %d (channel %u, cap %zu, len %zu, closed %d)", r, want,
		     m->uid, m->cap, m->qlen, m->closed);
	if (r == -ETIMEDOUT)
		check_not_early(t0, timeout);
	if (r == 0)
		model_send(m, seq);
	end_send();
}

static void op_recv(struct input *in, enum mode mode)
{
	struct model *m = take_slot(in);
	uint8_t b = take(in);
	bool discard = (b & 0x07) == 0x07;
	enum ready st = recv_ready(m);
	int64_t timeout = mode == TIMED ? take_timeout(in, st != NOT_READY) : 0;
	uint8_t *dst = discard ? NULL : recvbuf;
	int64_t t0;
	int r, want;

	if (mode == BLOCKING && st == NOT_READY && m->c)
		mode = TRY;
	op_name = mode == BLOCKING ? "chan_recv"
		  : mode == TRY	   ? "chan_try_recv"
				   : "chan_recv_timeout";
	memset(recvbuf, SENTINEL, MAX_ELEM);
	t0 = chan_now();
	switch (mode) {
	case BLOCKING:
		r = chan_recv(m->c, dst);
		break;
	case TRY:
		r = chan_try_recv(m->c, dst);
		break;
	default:
		r = chan_recv_timeout(m->c, dst, timeout);
		break;
	}
	if (!m->c)
		want = -EINVAL;
	else if (st == READY_OK)
		want = 0;
	else if (st == READY_EPIPE)
		want = -EPIPE;
	else
		want = mode == TRY ? -EAGAIN : -ETIMEDOUT;
	say("channel %s%s timeout %lld: %d (want %d)", cname(m), discard ? " elem NULL" : "",
	    (long long)timeout, r, want);
	if (r != want)
		fail("returned %d, expected %d (channel %u, cap %zu, len %zu, closed %d)", r, want,
		     m->uid, m->cap, m->qlen, m->closed);
	if (r == -ETIMEDOUT)
		check_not_early(t0, timeout);
	if (r != 0) {
		for (size_t i = 0; i < MAX_ELEM; i++)
			if (recvbuf[i] != SENTINEL)
				fail("a failed receive wrote to elem");
		return;
	}
	if (dst)
		check_head(m, dst, 0, op_name);
	q_pop(m);
}

/* A burst size: small (0..7) or large (0..127, above every bounded capacity). */
static size_t take_burst(struct input *in)
{
	uint8_t b = take(in);

	return (b & 0x80) ? (b & 0x7f) : (b & 0x07);
}

static void op_send_burst(struct input *in, bool try)
{
	struct model *m = take_slot(in);
	size_t n = take_burst(in);
	bool null_elems = (take(in) & 0x1f) == 0x1f;
	enum ready st = send_ready(m);
	uint32_t seq0 = m->next_seq;
	size_t k, hi;

	if (!try && st == NOT_READY && m->c && !null_elems && n > 0)
		try = true;
	op_name = try ? "chan_try_send_burst" : "chan_send_burst";
	if (m->c) {
		for (size_t i = 0; i < n; i++)
			encode(sendbuf + i * m->elem_size, m->elem_size, m->uid,
			       seq0 + (uint32_t)i);
		m->next_seq += (uint32_t)n;
	}
	errno = 0;
	begin_send();
	k = try ? chan_try_send_burst(m->c, null_elems ? NULL : sendbuf, n)
		: chan_send_burst(m->c, null_elems ? NULL : sendbuf, n);
	say("channel %s n %zu%s: %zu, errno %d", cname(m), n, null_elems ? " elems NULL" : "", k,
	    errno);
	if (!m->c || null_elems) {
		if (k != 0 || errno != EINVAL)
			fail("bad arguments gave %zu, errno %d; expected 0, EINVAL", k, errno);
		end_send();
		return;
	}
	if (n == 0 || st == NOT_READY) {
		if (k != 0)
			fail("sent %zu of %zu (channel %u, cap %zu, len %zu): nothing can go in", k,
			     n, m->uid, m->cap, m->qlen);
		end_send();
		return;
	}
	if (st == READY_EPIPE) {
		/* The header promises 0; errno EPIPE is DESIGN.md's meaning of
		 * "closed" and what the implementation sets. */
		if (k != 0 || errno != EPIPE)
			fail("closed channel %u: sent %zu, errno %d; expected 0, EPIPE", m->uid, k,
			     errno);
		end_send();
		return;
	}
	if (m->policy) {
		/* channel.h: a policy burst is its values sent one by one, and
		 * takes all n unless a close cuts it short. */
		if (k != n)
			fail("policy channel %u: burst took %zu of %zu", m->uid, k, n);
		for (size_t i = 0; i < k; i++)
			model_send(m, seq0 + (uint32_t)i);
		end_send();
		return;
	}
	/* "Fewer than n may go in even if more would have fit": 1 .. room. A
	 * try_ burst with room and nothing else running is read the same way:
	 * 0 only for full, closed or bad arguments. */
	hi = send_room(m, n);
	if (k < 1 || k > hi)
		fail("sent %zu of %zu (channel %u, cap %zu, len %zu): expected 1..%zu", k, n,
		     m->uid, m->cap, m->qlen, hi);
	for (size_t i = 0; i < k; i++)
		q_push(m, seq0 + (uint32_t)i);
	end_send();
}

static void op_recv_burst(struct input *in, bool try)
{
	struct model *m = take_slot(in);
	size_t max = take_burst(in);
	bool discard = (take(in) & 0x07) == 0x07;
	enum ready st = recv_ready(m);
	uint8_t *dst = discard ? NULL : recvbuf;
	size_t k, hi;

	if (!try && st == NOT_READY && m->c && max > 0)
		try = true;
	op_name = try ? "chan_try_recv_burst" : "chan_recv_burst";
	errno = 0;
	k = try ? chan_try_recv_burst(m->c, dst, max) : chan_recv_burst(m->c, dst, max);
	say("channel %s max %zu%s: %zu, errno %d", cname(m), max, discard ? " elems NULL" : "", k,
	    errno);
	if (!m->c) {
		if (k != 0 || errno != EINVAL)
			fail("NULL channel gave %zu, errno %d; expected 0, EINVAL", k, errno);
		return;
	}
	if (max == 0 || st == NOT_READY) {
		if (k != 0)
			fail("received %zu of %zu from channel %u (len %zu)", k, max, m->uid,
			     m->qlen);
		return;
	}
	if (st == READY_EPIPE) {
		if (k != 0 || errno != EPIPE)
			fail("closed, drained channel %u: received %zu, errno %d; expected 0, "
			     "EPIPE",
			     m->uid, k, errno);
		return;
	}
	hi = max < m->qlen ? max : m->qlen;
	if (k < 1 || k > hi)
		fail("received %zu of max %zu from channel %u (len %zu): expected 1..%zu", k, max,
		     m->uid, m->qlen, hi);
	for (size_t i = 0; i < k; i++) {
		if (dst)
			check_head(m, dst + i * m->elem_size, i, op_name);
		q_pop(m);
	}
}

/*
 * A select over 0..MAX_CASES cases, two bytes each: the slot (an empty one is
 * a NULL channel) and the op in the first, the elem in the second (NULL
 * sometimes: a discard for a receive, -EINVAL for a send); rarely an unknown
 * op, or a NULL cases array.
 */
static void op_select(struct input *in, enum mode mode)
{
	chan_case_t cases[MAX_CASES];
	struct model *cm[MAX_CASES];
	uint8_t bufs[MAX_CASES][MAX_ELEM];
	enum ready ready[MAX_CASES];
	uint32_t seqs[MAX_CASES];
	uint8_t nb = take(in);
	size_t n = nb % (MAX_CASES + 1);
	bool null_cases = nb == 0xff, invalid = false, ambiguous = false;
	size_t nactive = 0, nready = 0;
	int64_t timeout = 0;
	int64_t t0;
	int r;

	for (size_t i = 0; i < n; i++) {
		uint8_t a = take(in), e = take(in);
		struct model *m = &slots[(a & 0x7f) % (NSLOTS + 1)];

		cm[i] = m;
		cases[i].chan = m->c;
		cases[i].op = (a & 0x80) ? CHAN_OP_SEND : CHAN_OP_RECV;
		cases[i].elem = (e & 0x07) == 0x07 ? NULL : bufs[i];
		cases[i].err = 12345; /* must stay untouched unless the case fires */
		if (e == 0xfe || e == 0xfd)
			cases[i].op = e == 0xfe ? 0 : 3;
		memset(bufs[i], SENTINEL, MAX_ELEM);
		ready[i] = NOT_READY;
		if (cases[i].op != CHAN_OP_SEND && cases[i].op != CHAN_OP_RECV) {
			invalid = true;
			continue;
		}
		if (cases[i].op == CHAN_OP_SEND && m->c) {
			seqs[i] = m->next_seq++;
			encode(bufs[i], m->elem_size, m->uid, seqs[i]);
		}
		if (cases[i].op == CHAN_OP_SEND && !cases[i].elem) {
			/*
			 * select.h: "-EINVAL ... a send case has a NULL elem".
			 * The implementation checks that only for cases with a
			 * channel; with a NULL channel the case is never ready
			 * either way, so both readings are accepted.
			 */
			if (m->c)
				invalid = true;
			else
				ambiguous = true;
		}
		if (!m->c)
			continue;
		nactive++;
		ready[i] = cases[i].op == CHAN_OP_SEND ? send_ready(m) : recv_ready(m);
		nready += ready[i] != NOT_READY;
	}
	if (null_cases && n == 0)
		null_cases = false;
	if (null_cases)
		invalid = true;
	if (mode == TIMED)
		timeout = take_timeout(in, nready > 0 || invalid);
	if (mode == BLOCKING && nready == 0 && nactive > 0 && !invalid)
		mode = TRY;
	op_name = mode == BLOCKING ? "chan_select"
		  : mode == TRY	   ? "chan_try_select"
				   : "chan_select_timeout";
	t0 = chan_now();
	begin_send();
	switch (mode) {
	case BLOCKING:
		r = chan_select(null_cases ? NULL : cases, n);
		break;
	case TRY:
		r = chan_try_select(null_cases ? NULL : cases, n);
		break;
	default:
		r = chan_select_timeout(null_cases ? NULL : cases, n, timeout);
		break;
	}
	say("%zu cases (%zu active, %zu ready%s) timeout %lld: %d", n, nactive, nready,
	    invalid ? ", invalid" : "", (long long)timeout, r);
	for (size_t i = 0; i < n; i++)
		say("    case %zu: %s chan %s elem %s%s", i,
		    cases[i].op == CHAN_OP_SEND	  ? "send"
		    : cases[i].op == CHAN_OP_RECV ? "recv"
						  : "bad op",
		    cname(cm[i]), cases[i].elem ? "buf" : "NULL",
		    ready[i] == READY_OK      ? ", ready"
		    : ready[i] == READY_EPIPE ? ", ready (closed)"
					      : "");
	if (invalid || (ambiguous && r == -EINVAL)) {
		if (r != -EINVAL)
			fail("invalid cases gave %d, expected -EINVAL", r);
		r = -EINVAL;
	} else if (nready == 0) {
		int want = mode == BLOCKING ? -EINVAL /* no channel at all */
			   : mode == TRY    ? -EAGAIN
					    : -ETIMEDOUT;

		if (r != want)
			fail("no case ready (%zu active): returned %d, expected %d", nactive, r,
			     want);
		if (r == -ETIMEDOUT)
			check_not_early(t0, timeout);
	} else {
		struct model *m;

		if (r < 0 || (size_t)r >= n)
			fail("%zu of %zu cases ready, but it returned %d", nready, n, r);
		m = cm[r];
		if (ready[r] == NOT_READY)
			fail("case %d (%s on channel %u, cap %zu, len %zu, closed %d) fired but "
			     "was not ready",
			     r, cases[r].op == CHAN_OP_SEND ? "send" : "recv", m->uid, m->cap,
			     m->qlen, m->closed);
		if (cases[r].err != (ready[r] == READY_EPIPE ? -EPIPE : 0))
			fail("case %d fired with err %d, expected %d", r, cases[r].err,
			     ready[r] == READY_EPIPE ? -EPIPE : 0);
		if (ready[r] == READY_OK && cases[r].op == CHAN_OP_SEND) {
			model_send(m, seqs[r]);
		} else if (ready[r] == READY_OK) {
			if (cases[r].elem)
				check_head(m, cases[r].elem, 0, "select receive case");
			q_pop(m);
		} else if (cases[r].op == CHAN_OP_RECV) {
			for (size_t j = 0; j < MAX_ELEM; j++)
				if (bufs[r][j] != SENTINEL)
					fail("case %d fired -EPIPE but wrote to elem", r);
		}
	}
	end_send(); /* a discard only by the case that fired */
	/* The cases that did not fire: err and receive buffers untouched. */
	for (size_t i = 0; i < n; i++) {
		if ((int)i == r)
			continue;
		if (cases[i].err != 12345)
			fail("case %zu did not fire but its err was set to %d", i, cases[i].err);
		if (cases[i].op == CHAN_OP_RECV)
			for (size_t j = 0; j < MAX_ELEM; j++)
				if (bufs[i][j] != SENTINEL)
					fail("case %zu did not fire but its elem was written", i);
	}
}

static void op_close(struct input *in)
{
	struct model *m = take_slot(in);
	int r = chan_close(m->c);
	int want = !m->c ? -EINVAL : m->closed ? -EPIPE : 0;

	op_name = "chan_close";
	say("channel %s: %d (want %d)", cname(m), r, want);
	if (r != want)
		fail("returned %d, expected %d", r, want);
	if (r == 0)
		m->closed = true;
}

static void op_retain(struct input *in)
{
	struct model *m = take_slot(in);

	op_name = "chan_retain";
	if (m->refs >= MAX_REFS)
		return;
	if (chan_retain(m->c) != m->c)
		fail("chan_retain(%p) did not return its argument", (void *)m->c);
	if (m->c)
		m->refs++;
	say("channel %s: refs %u", cname(m), m->refs);
}

static void op_release(struct input *in)
{
	struct model *m = take_slot(in);

	op_name = "chan_release";
	say("channel %s: refs %u, %zu buffered", cname(m), m->refs, m->qlen);
	if (!m->c)
		chan_release(NULL);
	else
		model_release(m);
}

/* The snapshots of an empty slot (NULL): 0, 0, 0, false. */
static void op_query_null(void)
{
	op_name = "snapshots of NULL";
	say("len/cap/elem_size/is_closed");
	if (chan_len(NULL) || chan_cap(NULL) || chan_elem_size(NULL) || chan_is_closed(NULL))
		fail("a snapshot of NULL is not 0/false");
}

/*
 * decode_op() - run the next call of the program.
 *
 * One byte picks the operation (modulo the count below); its arguments follow
 * as bytes: a slot (modulo NSLOTS; an empty slot is passed as a NULL channel),
 * then per operation a kind, a burst size, a timeout index, flag bits for a
 * NULL elem. A spent input reads as zeros, so a truncated program still runs.
 */
static void decode_op(struct input *in)
{
	uint8_t op = take(in);

	switch (op % 20) {
	case 0:
		op_name = "new";
		op_new(in);
		break;
	case 1:
		op_name = "new (edge options)";
		op_new_edge(in);
		break;
	case 2:
		op_send(in, BLOCKING);
		break;
	case 3:
		op_recv(in, BLOCKING);
		break;
	case 4:
		op_send(in, TRY);
		break;
	case 5:
		op_recv(in, TRY);
		break;
	case 6:
		op_send(in, TIMED);
		break;
	case 7:
		op_recv(in, TIMED);
		break;
	case 8:
		op_send_burst(in, false);
		break;
	case 9:
		op_recv_burst(in, false);
		break;
	case 10:
		op_send_burst(in, true);
		break;
	case 11:
		op_recv_burst(in, true);
		break;
	case 12:
		op_select(in, TRY);
		break;
	case 13:
		op_select(in, TIMED);
		break;
	case 14:
		op_select(in, BLOCKING);
		break;
	case 15:
		op_close(in);
		break;
	case 16:
		op_retain(in);
		break;
	case 17:
		op_release(in);
		break;
	case 18:
		op_query_null();
		break;
	default:
		/* A second, cheap "new": programs need live channels to say much. */
		op_name = "new";
		op_new(in);
		break;
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	trace = getenv("CHAN_FUZZ_TRACE") != NULL;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};

	next_uid = 0;
	memset(slots, 0, sizeof(slots)); /* all released by the previous input */
	for (op_index = 0; in.n > 0; op_index++) {
		decode_op(&in);
		check_snapshots();
	}
	op_name = "the final releases";
	for (int i = 0; i < NSLOTS; i++)
		model_release_all(&slots[i]);
	free(dropped);
	dropped = NULL;
	ndropped = dropped_size = 0;
	return 0;
}
