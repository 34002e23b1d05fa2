/* SPDX-License-Identifier: MIT */
/*
 * examples/pubsub.c - the seed's Publisher/Subscriber, why its Publish
 * reorders messages, and the same done right with chan/pubsub.h.
 *
 *	type Publisher struct {
 *		mu          sync.RWMutex
 *		subscribers []chan string
 *	}
 *
 *	func (p *Publisher) Subscribe() <-chan string {
 *		ch := make(chan string, 1)
 *		p.mu.Lock()
 *		p.subscribers = append(p.subscribers, ch)
 *		p.mu.Unlock()
 *		return ch
 *	}
 *
 *	func (p *Publisher) Publish(msg string) {
 *		p.mu.RLock()
 *		defer p.mu.RUnlock()
 *		for _, ch := range p.subscribers {
 *			go func(ch chan string) { ch <- msg }(ch)	// a goroutine per message
 *		}
 *	}
 *
 * Publish never blocks, but only because each message gets its own
 * goroutine, and nothing orders those goroutines: message 7's may reach the
 * channel before message 6's. A subscriber sees the messages in whatever
 * order the scheduler ran them (part 1 counts how many came out of order);
 * a slow subscriber makes the goroutines pile up without bound, and one
 * that leaves strands them forever (Go leaks them).
 *
 * chan_pubsub keeps publish order, and says per subscriber what happens when
 * it is full (part 2): BLOCK (the publisher waits, nothing is lost),
 * DROP_NEWEST (keep what is there, like a full Go select-default send),
 * DROP_OLDEST (keep the latest, tokio's broadcast), with exact counters and
 * take_dropped() (tokio's RecvError::Lagged(n)).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <chan/chan.h>

#define N      1000
#define ROUNDS 20

/* ---- part 1: the seed, in C ----------------------------------------------- */

struct seed_publisher {
	pthread_rwlock_t mu;
	chan_t *subscribers[4];
	int n;
	chan_wg_t wg; /* only so that the example can free everything */
};

static chan_t *seed_subscribe(struct seed_publisher *p)
{
	chan_t *ch = chan_new(sizeof(int), 1);

	pthread_rwlock_wrlock(&p->mu);
	p->subscribers[p->n++] = ch;
	pthread_rwlock_unlock(&p->mu);
	return ch;
}

struct seed_send {
	chan_t *ch;
	int msg;
	chan_wg_t *wg;
};

static void seed_send_task(void *arg) /* go func(ch chan string) { ch <- msg }(ch) */
{
	struct seed_send *s = arg;

	chan_send(s->ch, &s->msg);
	chan_wg_done(s->wg);
	free(s);
}

static void seed_publish(struct seed_publisher *p, int msg)
{
	pthread_rwlock_rdlock(&p->mu);
	for (int i = 0; i < p->n; i++) {
		struct seed_send *s = malloc(sizeof(*s));

		*s = (struct seed_send){.ch = p->subscribers[i], .msg = msg, .wg = &p->wg};
		chan_wg_add(&p->wg, 1);
		if (chan_go(seed_send_task, s) != 0) {
			chan_wg_done(&p->wg);
			free(s);
		}
	}
	pthread_rwlock_unlock(&p->mu);
}

struct counter {
	chan_t *ch;
	int n;		  /* to receive */
	int received;	  /* got */
	int out_of_order; /* a message older than one already received */
};

static void *count_order(void *arg)
{
	struct counter *c = arg;
	int v, max = 0;

	while (c->received < c->n && chan_recv(c->ch, &v) == 0) {
		c->received++;
		if (v < max)
			c->out_of_order++;
		else
			max = v;
	}
	return NULL;
}

static void part1(void)
{
	struct counter c = {0};

	/* The reordering depends on the scheduler: a round may by chance come
	 * out in order; run a few until one does not. */
	for (int round = 0; round < ROUNDS; round++) {
		struct seed_publisher p = {.n = 0};
		pthread_t t;

		pthread_rwlock_init(&p.mu, NULL);
		chan_wg_init(&p.wg);
		c = (struct counter){.ch = seed_subscribe(&p), .n = N};
		pthread_create(&t, NULL, count_order, &c);
		for (int msg = 1; msg <= N; msg++)
			seed_publish(&p, msg);
		pthread_join(t, NULL);
		chan_wg_wait(&p.wg);
		chan_release(c.ch);
		pthread_rwlock_destroy(&p.mu);
		if (c.out_of_order > 0)
			break;
	}
	printf("the seed's Publish (a goroutine per message and subscriber):\n");
	printf("  received %d of %d, %d out of order (varies)\n", c.received, N, c.out_of_order);
}

/* ---- part 2: chan_pubsub, a policy per subscriber --------------------------- */

static void part2(void)
{
	chan_pubsub_t *ps = chan_pubsub_new(&(chan_pubsub_opts_t){.elem_size = sizeof(int)});
	chan_pubsub_sub_t *block = chan_pubsub_subscribe(
		ps, &(chan_pubsub_sub_opts_t){.capacity = 16, .policy = CHAN_PUBSUB_BLOCK});
	chan_pubsub_sub_t *newest = chan_pubsub_subscribe(
		ps, &(chan_pubsub_sub_opts_t){.capacity = 8, .policy = CHAN_PUBSUB_DROP_NEWEST});
	chan_pubsub_sub_t *oldest = chan_pubsub_subscribe(
		ps, &(chan_pubsub_sub_opts_t){.capacity = 8, .policy = CHAN_PUBSUB_DROP_OLDEST});
	struct counter c = {.ch = chan_pubsub_chan(block), .n = N};
	chan_pubsub_stats_t st;
	pthread_t t;
	int first, last, v;

	/* The BLOCK subscriber keeps up (the publisher waits for it when it
	 * does not); the two others do not read until the end. */
	pthread_create(&t, NULL, count_order, &c);
	for (int msg = 1; msg <= N; msg++)
		chan_pubsub_publish(ps, &msg, chan_ctx_background());
	chan_pubsub_close(ps); /* their range loops end after the buffered ones */
	pthread_join(t, NULL);

	printf("chan_pubsub, a policy per subscriber:\n");
	chan_pubsub_stats(block, &st);
	printf("  %-24s received %d of %d, %d out of order; "
	       "delivered %llu, dropped %llu\n",
	       "BLOCK, capacity 16:", c.received, N, c.out_of_order,
	       (unsigned long long)st.delivered, (unsigned long long)st.dropped);

	chan_pubsub_sub_t *slow[] = {newest, oldest};
	const char *name[] = {"DROP_NEWEST, capacity 8:", "DROP_OLDEST, capacity 8:"};
	for (int i = 0; i < 2; i++) {
		first = last = 0;
		while (chan_recv(chan_pubsub_chan(slow[i]), &v) == 0) { /* for v := range ch */
			if (!first)
				first = v;
			last = v;
		}
		chan_pubsub_stats(slow[i], &st);
		printf("  %-24s kept %d..%d; delivered %llu, dropped %llu, "
		       "lagged by %llu\n",
		       name[i], first, last, (unsigned long long)st.delivered,
		       (unsigned long long)st.dropped,
		       (unsigned long long)chan_pubsub_take_dropped(slow[i]));
	}
	chan_pubsub_unsubscribe(block);
	chan_pubsub_unsubscribe(newest);
	chan_pubsub_unsubscribe(oldest);
	chan_pubsub_destroy(ps);
}

int main(void)
{
	part1();
	part2();
	return 0;
}
