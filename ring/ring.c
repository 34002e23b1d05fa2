/* SPDX-License-Identifier: MIT */
/*
 * ring/ring.c - construction, snapshot and teardown of the bounded rings.
 * The hot operations are inline in the flavour headers.
 */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fault.h" /* MADV_POPULATE_WRITE on older headers */
#include "ring.h"


void (*chan__ring_debug_hook)(struct ring *r, const char *where);

static uint64_t next_pow2(uint64_t x)
{
	uint64_t p = 1;

	while (p < x)
		p <<= 1;
	return p;
}

static size_t stride_of(enum ring_kind kind, size_t elem_size)
{
	(void)kind; /* every flavour has stamped slots */
	return (sizeof(struct ring_slot) + elem_size + 7) & ~(size_t)7;
}

size_t chan__ring_storage_size(enum ring_kind kind, size_t elem_size, uint64_t cap)
{
	size_t stride = stride_of(kind, elem_size);

	if (stride < elem_size || cap > RING_CAP_MAX || cap > SIZE_MAX / stride)
		return 0;
	return (size_t)cap * stride;
}

void chan__ring_init(struct ring *r, enum ring_kind kind, size_t elem_size, uint64_t cap, void *slots)
{
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->elem_size = elem_size;
	r->stride = stride_of(kind, elem_size);
	r->cap = cap;
	r->mark_bit = next_pow2(cap + 1);
	r->one_lap = r->mark_bit * 2;
	r->index_mask = r->mark_bit - 1;
	/* Zero-filled: every stored stamp is 0, i.e. stamp == index, free for
	 * lap 0 (ring/slots.h). Nothing to write: the ring is published to
	 * other threads by whatever hands them the channel (a release). */
	r->slots = slots;
	atomic_store_explicit(&r->head, 0, memory_order_relaxed);
	atomic_store_explicit(&r->tail, 0, memory_order_relaxed);
}

/*
 * Elements in [@head, @tail) counted by laps as well as by indices, so that a
 * tail one lap + 1 ahead (an evicting push between EV1 and EV2) is not read
 * as 1; capped at cap, which is what such a ring holds at its linearization.
 */
static uint64_t ring_count_snapshot(const struct ring *r, uint64_t head, uint64_t tail)
{
	uint64_t laps = (ring_lap(r, tail) - ring_lap(r, head)) / r->one_lap;
	uint64_t n = laps * r->cap + ring_index(r, tail) - ring_index(r, head);

	return n < r->cap ? n : r->cap;
}

uint64_t chan__ring_len(struct ring *r)
{
	for (;;) {
		/* Seq_cst loads, tail twice: if tail did not move while head was
		 * read, the pair is a consistent snapshot (crossbeam's len()). */
		uint64_t tail = atomic_load_explicit(&r->tail, memory_order_seq_cst);
		uint64_t head = atomic_load_explicit(&r->head, memory_order_seq_cst);

		if (atomic_load_explicit(&r->tail, memory_order_seq_cst) == tail)
			return ring_count_snapshot(r, head, tail & ~r->mark_bit);
	}
}

/*
 * The waiters' re-checks. Each loads its own side's word first (head for a
 * receiver, tail for a sender), then the other, and asks exactly what the
 * ring operation asks. The first word only moves forward and the second is
 * read later, so "not ready" is then true at the instant of the second load:
 * a receiver that read head h and then tail h saw an empty ring at that
 * instant (head cannot have passed tail). The other order is wrong: a tail
 * read before, and a head read after, another consumer's pop can say
 * "empty" about a ring that never was (a lost wakeup, found by the model in
 * tests/model; replayed by tests/regress/ready_torn_snapshot.c).
 */
bool chan__ring_recv_ready(struct ring *r)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_seq_cst);
	RING_DEBUG_HOOK(r, "recv_ready: between the loads");
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_seq_cst);

	return (tail & r->mark_bit) || (tail & ~r->mark_bit) != head;
}

bool chan__ring_send_ready(struct ring *r)
{
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_seq_cst);
	uint64_t head = atomic_load_explicit(&r->head, memory_order_seq_cst);

	/* Full means tail is exactly a lap ahead of head (as the pushes test
	 * it); no count from two loads taken at different times. */
	return (tail & r->mark_bit) || (tail & ~r->mark_bit) != head + r->one_lap;
}

bool chan__ring_close(struct ring *r)
{
	/* Seq_cst RMW: pairs with the S1 tail loads of the pops, and orders the
	 * channel's wake-everyone that follows it (see core/chan.c). */
	uint64_t old = atomic_fetch_or_explicit(&r->tail, r->mark_bit, memory_order_seq_cst);

	return (old & r->mark_bit) == 0;
}

void chan__ring_drain(struct ring *r, void (*fn)(void *elem, void *arg), void *arg)
{
	/* Relaxed: single-threaded by contract (the last reference is gone). */
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed) & ~r->mark_bit;

	for (uint64_t pos = head; pos != tail; pos = ring_next(r, pos))
		fn(ring_slot_at(r, pos)->data, arg);
}

/* ---- committing storage ahead of tail ---------------------------------- */

/*
 * Why ahead, and by the producer: storage that faults in as it is touched
 * is first touched by a stamp load (a producer's full check, or a consumer
 * that caught up), which maps the shared zero page; the first store then
 * breaks it copy-on-write, and with the ring's threads on several CPUs each
 * break is a TLB shoot-down (measured in core/chan.c). A chunk committed
 * with MADV_POPULATE_WRITE before any position reaches it never maps the
 * zero page. Each chunk is entered by exactly one reservation in lap 0, so
 * each is committed once, by the producer that made it.
 */
#define RING_CHUNK_BYTES ((size_t)2 << 20) /* a huge page where THP applies */
#define RING_AHEAD	 2		   /* chunks committed ahead of tail */

/* Commit the slots of chunk @chunk (clipped to cap): 0 or -errno. */
static int commit_chunk(const struct ring *r, uint64_t chunk)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uint64_t first = chunk << r->commit_shift, end = (chunk + 1) << r->commit_shift;
	uintptr_t lo, hi;

	if (first >= r->cap)
		return 0;
	if (end > r->cap)
		end = r->cap;
	lo = (uintptr_t)(r->slots + first * r->stride) & ~(page - 1);
	hi = ((uintptr_t)(r->slots + end * r->stride) + page - 1) & ~(page - 1);
	return madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE) == 0 ? 0 : -errno;
}

void chan__ring_commit_ahead(struct ring *r, uint64_t first_chunk, uint64_t last_chunk)
{
	/* A failure (no memory now) leaves those pages to fault in when first
	 * touched: slower, never wrong, since untouched pages read as zero. */
	for (uint64_t c = first_chunk; c <= last_chunk; c++)
		(void)commit_chunk(r, c + RING_AHEAD);
}

int chan__ring_commit_lazily(struct ring *r)
{
	uint64_t slots_per_chunk = 1;
	unsigned shift = 0;
	int err;

	while ((slots_per_chunk << 1) * r->stride <= RING_CHUNK_BYTES) {
		slots_per_chunk <<= 1;
		shift++;
	}
	if (r->cap <= (uint64_t)(RING_AHEAD + 1) << shift)
		return -EINVAL; /* a few chunks: not worth it */
	r->commit_shift = shift;
	for (uint64_t c = 0; c < RING_AHEAD; c++) {
		err = commit_chunk(r, c);
		if (err)
			return err;
	}
	r->commit_below = r->cap; /* published with the ring, as its other fields */
	return 0;
}
