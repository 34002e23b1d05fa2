/* SPDX-License-Identifier: MIT */
/*
 * bench/peers/mutex/mutex.c - peer "mutex": the channel a C codebase writes by hand.
 *
 * One pthread mutex guards everything; senders wait on not_full, receivers on not_empty.
 *   - capacity >= 1: a circular buffer of exactly cap slots;
 *   - unbounded: the same buffer, doubled when full (senders never wait);
 *   - capacity 0 (rendezvous): one hand-off slot plus a third condvar, taken. A sender waits
 *     for the slot to be free, puts its value, and waits until a receiver took it, so a send
 *     returns only after a receiver has the value (Go's unbuffered semantics).
 * close() wakes everyone: senders get -EPIPE, receivers drain what is buffered, then -EPIPE.
 *
 * Invariants (under lock): 0 <= count <= size; count <= cap when bounded; for cap 0,
 * put_seq - taken_seq == slot_full (at most one value is offered at a time, and values are
 * taken in the order they were offered, so a sender's ticket is taken once taken_seq >= it).
 *
 * No select: the select rows print n/a. Workloads: common/peer.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "../common/peer.h"

#define MCHAN_UNBOUNDED_INIT 64	/* first buffer size of an unbounded channel */

struct mchan {
	pthread_mutex_t lock;
	pthread_cond_t not_full;	/* senders wait: buffer full, or rendezvous slot busy */
	pthread_cond_t not_empty;	/* receivers wait: nothing buffered or offered */
	pthread_cond_t taken;		/* cap 0: a sender waits for its value to be taken */
	uint64_t *buf;
	size_t size;			/* slots in buf */
	size_t head;			/* oldest element */
	size_t count;			/* elements in buf */
	long cap;			/* 0, >= 1, or PEER_CAP_UNBOUNDED */
	bool closed;
	/* Rendezvous (cap 0) only. */
	uint64_t slot;
	bool slot_full;
	uint64_t put_seq;		/* values offered so far (ticket of the last one) */
	uint64_t taken_seq;		/* values taken so far */
};

static struct mchan *mchan_new(long cap)
{
	struct mchan *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->cap = cap;
	if (cap != 0) {
		c->size = cap == PEER_CAP_UNBOUNDED ? MCHAN_UNBOUNDED_INIT : (size_t)cap;
		c->buf = malloc(c->size * sizeof(*c->buf));
		if (c->buf == NULL) {
			free(c);
			return NULL;
		}
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->not_full, NULL);
	pthread_cond_init(&c->not_empty, NULL);
	pthread_cond_init(&c->taken, NULL);
	return c;
}

static void mchan_free(struct mchan *c)
{
	pthread_cond_destroy(&c->taken);
	pthread_cond_destroy(&c->not_empty);
	pthread_cond_destroy(&c->not_full);
	pthread_mutex_destroy(&c->lock);
	free(c->buf);
	free(c);
}

/* Unbounded only, under lock, buffer full: double it, unrolling the ring to start at 0. */
static int mchan_grow(struct mchan *c)
{
	uint64_t *nbuf = malloc(2 * c->size * sizeof(*nbuf));

	if (nbuf == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < c->count; i++)
		nbuf[i] = c->buf[(c->head + i) % c->size];
	free(c->buf);
	c->buf = nbuf;
	c->head = 0;
	c->size *= 2;
	return 0;
}

/* Rendezvous send, under lock: offer @v, then wait until a receiver took it. */
static int mchan_send_sync(struct mchan *c, uint64_t v)
{
	uint64_t ticket;

	while (c->slot_full && !c->closed)
		pthread_cond_wait(&c->not_full, &c->lock);
	if (c->closed)
		return -EPIPE;
	c->slot = v;
	c->slot_full = true;
	ticket = ++c->put_seq;
	pthread_cond_signal(&c->not_empty);
	while (c->taken_seq < ticket && !c->closed)
		pthread_cond_wait(&c->taken, &c->lock);
	if (c->taken_seq >= ticket)
		return 0;
	/* Closed before anyone took it: withdraw the offer, nothing was sent. */
	c->slot_full = false;
	c->put_seq--;
	return -EPIPE;
}

/* Rendezvous receive, under lock. */
static int mchan_recv_sync(struct mchan *c, uint64_t *v)
{
	while (!c->slot_full && !c->closed)
		pthread_cond_wait(&c->not_empty, &c->lock);
	if (!c->slot_full)
		return -EPIPE;
	*v = c->slot;
	c->slot_full = false;
	c->taken_seq++;
	/* Broadcast: the next sender may already wait on taken before the previous one woke. */
	pthread_cond_broadcast(&c->taken);
	pthread_cond_signal(&c->not_full);
	return 0;
}

/* Returns 0, -EPIPE (closed: nothing was sent) or -ENOMEM (unbounded growth failed). */
static int mchan_send(struct mchan *c, uint64_t v)
{
	int err = 0;

	pthread_mutex_lock(&c->lock);
	if (c->cap == 0) {
		err = mchan_send_sync(c, v);
		goto out;
	}
	if (c->cap == PEER_CAP_UNBOUNDED) {
		if (!c->closed && c->count == c->size)
			err = mchan_grow(c);
	} else {
		while (c->count == c->size && !c->closed)
			pthread_cond_wait(&c->not_full, &c->lock);
	}
	if (c->closed)
		err = -EPIPE;
	if (err != 0)
		goto out;
	c->buf[(c->head + c->count) % c->size] = v;
	c->count++;
	pthread_cond_signal(&c->not_empty);
out:
	pthread_mutex_unlock(&c->lock);
	return err;
}

/* Returns 0, or -EPIPE once the channel is closed and drained. */
static int mchan_recv(struct mchan *c, uint64_t *v)
{
	int err = 0;

	pthread_mutex_lock(&c->lock);
	if (c->cap == 0) {
		err = mchan_recv_sync(c, v);
		goto out;
	}
	while (c->count == 0 && !c->closed)
		pthread_cond_wait(&c->not_empty, &c->lock);
	if (c->count == 0) {
		err = -EPIPE;
		goto out;
	}
	*v = c->buf[c->head];
	c->head = (c->head + 1) % c->size;
	c->count--;
	pthread_cond_signal(&c->not_full);
out:
	pthread_mutex_unlock(&c->lock);
	return err;
}

/* Returns 0, or -EPIPE if it was already closed. */
static int mchan_close(struct mchan *c)
{
	int err = 0;

	pthread_mutex_lock(&c->lock);
	if (c->closed)
		err = -EPIPE;
	c->closed = true;
	pthread_cond_broadcast(&c->not_full);
	pthread_cond_broadcast(&c->not_empty);
	pthread_cond_broadcast(&c->taken);
	pthread_mutex_unlock(&c->lock);
	return err;
}

/* The hooks of common/peer.h. */

struct peer_q {
	struct mchan *c;
};

static bool peer_q_supports(long cap)
{
	(void)cap;
	return true;	/* 0 (rendezvous), 1, N and unbounded */
}

static struct peer_q *peer_q_new(long cap)
{
	struct peer_q *q = malloc(sizeof(*q));

	if (q == NULL)
		return NULL;
	q->c = mchan_new(cap);
	if (q->c == NULL) {
		free(q);
		return NULL;
	}
	return q;
}

static void peer_q_send(struct peer_q *q, uint64_t v)
{
	if (mchan_send(q->c, v) != 0)
		peer_die("mutex: send failed");
}

static uint64_t peer_q_recv(struct peer_q *q)
{
	uint64_t v;

	if (mchan_recv(q->c, &v) != 0)
		peer_die("mutex: receive failed");
	return v;
}

/* Closes first, as a check: a drained channel must then report closed, with nothing left. */
static void peer_q_free(struct peer_q *q)
{
	uint64_t v;

	if (mchan_close(q->c) != 0 || mchan_recv(q->c, &v) != -EPIPE)
		peer_die("mutex: values left in the channel after the run");
	mchan_free(q->c);
	free(q);
}

int main(int argc, char **argv)
{
	return peer_main("mutex", argc, argv);
}
