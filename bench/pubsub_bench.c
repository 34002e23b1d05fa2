/* SPDX-License-Identifier: MIT */
/*
 * bench/pubsub_bench.c - chan/pubsub.h workloads of issue 8; the peers in
 * bench/peers/go_pubsub (Go: a channel per subscriber, and the seed's
 * goroutine-per-message Publish) and bench/peers/tokio_pubsub (tokio's
 * broadcast) run the same ones with the same arguments and output.
 *
 *   pubsub_bench [-q]                              the whole matrix
 *   pubsub_bench fanout SUBS PAYLOAD BURST COPIES  one run
 *   pubsub_bench churn RATE MSGS                   one run
 *
 * fanout: one publisher publishes msgs = COPIES / SUBS messages (at least
 * 64) to SUBS BLOCK subscribers of capacity 256, PAYLOAD 8 (a uint64), 256
 * (32 of them) or ptr (a pointer to a refcounted object: clone takes a
 * reference, drop and the receiver give it back), BURST 1 (publish) or 64
 * (publish_burst). min(SUBS, CPUs) receiver threads share the subscribers,
 * each sweeping its own with try_recv_burst and yielding after a pass that
 * found nothing (a thread per subscriber would measure the scheduler). The
 * time runs from the first publish until every receiver has drained its
 * subscribers after close. ns_per_publish = time / msgs, ns_per_copy = time
 * / (msgs * SUBS).
 *
 * churn: the same with 4 subscribers, payload 8, burst 1, while a background
 * thread makes RATE subscribe+unsubscribe pairs per second (DROP_OLDEST,
 * capacity 16, never read), paced by the clock; 0: none. churned= is the
 * rate it reached.
 *
 * One line per run:
 *   bench=pubsub_fanout impl=chan subs=S payload=P burst=B msgs=M copies=C secs=T
 *         ns_per_publish=X ns_per_copy=Y
 *   bench=pubsub_churn impl=chan rate=R subs=4 msgs=M secs=T ns_per_publish=X churned=K
 * Exit status 1 if a receiver did not get exactly msgs messages per subscriber.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <chan/chan.h>

#define CAP	256
#define MAXRX	64
#define RXBURST 64

enum payload { P8, P256, PPTR };
static const char *const payload_name[] = {"8", "256", "ptr"};

struct big {
	uint64_t v[32];
};

struct obj {
	atomic_long refs;
	uint64_t v;
};

static void obj_put(struct obj *o)
{
	/* acq_rel: the last one frees after every holder's read of v. */
	if (atomic_fetch_sub_explicit(&o->refs, 1, memory_order_acq_rel) == 1)
		free(o);
}

static int obj_clone(void *dst, const void *src)
{
	struct obj *o;

	memcpy(&o, src, sizeof(o));
	/* Relaxed: the publisher's own reference keeps o alive meanwhile. */
	atomic_fetch_add_explicit(&o->refs, 1, memory_order_relaxed);
	memcpy(dst, &o, sizeof(o));
	return 0;
}

static void obj_drop(void *elem)
{
	struct obj *o;

	memcpy(&o, elem, sizeof(o));
	obj_put(o);
}

static size_t esize(enum payload p)
{
	return p == P8 ? sizeof(uint64_t) : p == P256 ? sizeof(struct big) : sizeof(struct obj *);
}

struct rx {
	chan_pubsub_sub_t **subs;
	size_t n;
	enum payload payload;
	uint64_t got, sum;
	pthread_t t;
};

static void *receiver(void *arg)
{
	struct rx *r = arg;
	size_t es = esize(r->payload), open = r->n;
	unsigned char *buf = malloc(RXBURST * es);
	bool *closed = calloc(r->n, sizeof(bool));

	while (open > 0) {
		size_t pass = 0;

		for (size_t i = 0; i < r->n; i++) {
			if (closed[i])
				continue;
			chan_t *c = chan_pubsub_chan(r->subs[i]);
			size_t k = chan_try_recv_burst(c, buf, RXBURST);

			if (k == 0) {
				if (errno == EPIPE) {
					closed[i] = true;
					open--;
				}
				continue;
			}
			pass += k;
			r->got += k;
			for (size_t j = 0; j < k; j++) {
				if (r->payload == P8) {
					uint64_t v;

					memcpy(&v, buf + j * es, sizeof(v));
					r->sum += v;
				} else if (r->payload == P256) {
					r->sum += ((struct big *)(void *)(buf + j * es))->v[31];
				} else {
					struct obj *o;

					memcpy(&o, buf + j * es, sizeof(o));
					r->sum += o->v;
					obj_put(o);
				}
			}
		}
		if (pass == 0)
			sched_yield();
	}
	free(closed);
	free(buf);
	return NULL;
}

static chan_pubsub_t *make_ps(enum payload p)
{
	chan_pubsub_opts_t o = {.elem_size = esize(p)};

	if (p == PPTR) {
		o.clone = obj_clone;
		o.drop = obj_drop;
	}
	return chan_pubsub_new(&o);
}

/* Publish msgs messages (values 1..msgs) in bursts of @burst. */
static void publish_all(chan_pubsub_t *ps, enum payload p, size_t burst, uint64_t msgs)
{
	size_t es = esize(p);
	unsigned char *buf = calloc(burst, es);

	for (uint64_t i = 0; i < msgs;) {
		size_t k = burst < msgs - i ? burst : (size_t)(msgs - i), done;

		for (size_t j = 0; j < k; j++) {
			uint64_t v = i + j + 1;

			if (p == P8) {
				memcpy(buf + j * es, &v, sizeof(v));
			} else if (p == P256) {
				((struct big *)(void *)(buf + j * es))->v[31] = v;
			} else {
				struct obj *o = malloc(sizeof(*o));

				atomic_init(&o->refs, 1);
				o->v = v;
				memcpy(buf + j * es, &o, sizeof(o));
			}
		}
		if (k == 1)
			chan_pubsub_publish(ps, buf, chan_ctx_background());
		else
			chan_pubsub_publish_burst(ps, buf, k, chan_ctx_background(), &done);
		if (p == PPTR)
			for (size_t j = 0; j < k; j++) {
				struct obj *o;

				memcpy(&o, buf + j * es, sizeof(o));
				obj_put(o); /* the publisher's reference */
			}
		i += k;
	}
	free(buf);
}

static int nrx(size_t subs)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (cpus < 1)
		cpus = 1;
	if (cpus > MAXRX)
		cpus = MAXRX;
	return (int)((size_t)cpus < subs ? (size_t)cpus : subs);
}

struct churner {
	chan_pubsub_t *ps;
	long rate;
	atomic_bool stop;
	uint64_t done;
	double secs;
};

static void *churn(void *arg)
{
	struct churner *c = arg;
	int64_t t0 = chan_now(), period = 1000000000LL / c->rate;

	while (!atomic_load_explicit(&c->stop, memory_order_relaxed)) {
		int64_t due = t0 + (int64_t)c->done * period, now = chan_now();

		if (now < due) {
			int64_t gap = due - now;
			struct timespec ts = {gap / 1000000000LL, gap % 1000000000LL};

			nanosleep(&ts, NULL);
			continue;
		}
		chan_pubsub_sub_t *s = chan_pubsub_subscribe(
			c->ps, &(chan_pubsub_sub_opts_t){.capacity = 16,
							 .policy = CHAN_PUBSUB_DROP_OLDEST});
		if (s)
			chan_pubsub_unsubscribe(s);
		c->done++;
	}
	c->secs = (double)(chan_now() - t0) / 1e9;
	return NULL;
}

/* One run; returns 0, or 1 if the receivers did not get everything. */
static int run(const char *bench, size_t subs, enum payload p, size_t burst, uint64_t msgs,
	       long rate)
{
	chan_pubsub_t *ps = make_ps(p);
	chan_pubsub_sub_t **s = calloc(subs, sizeof(*s));
	int R = nrx(subs);
	struct rx rx[MAXRX];
	struct churner ch = {.ps = ps, .rate = rate};
	pthread_t ct;
	uint64_t got = 0, sum = 0;
	int64_t t0, t1;

	if (!ps || !s) {
		fprintf(stderr, "pubsub_bench: out of memory\n");
		exit(1);
	}
	for (size_t i = 0; i < subs; i++) {
		s[i] = chan_pubsub_subscribe(ps, &(chan_pubsub_sub_opts_t){.capacity = CAP});
		if (!s[i]) {
			perror("pubsub_bench: subscribe");
			exit(1);
		}
	}
	for (int r = 0; r < R; r++) {
		size_t lo = subs * (size_t)r / (size_t)R, hi = subs * (size_t)(r + 1) / (size_t)R;

		rx[r] = (struct rx){.subs = s + lo, .n = hi - lo, .payload = p};
		pthread_create(&rx[r].t, NULL, receiver, &rx[r]);
	}
	if (rate > 0)
		pthread_create(&ct, NULL, churn, &ch);
	t0 = chan_now();
	publish_all(ps, p, burst, msgs);
	if (rate > 0) {
		atomic_store_explicit(&ch.stop, true, memory_order_relaxed);
		pthread_join(ct, NULL);
	}
	chan_pubsub_close(ps);
	for (int r = 0; r < R; r++) {
		pthread_join(rx[r].t, NULL);
		got += rx[r].got;
		sum += rx[r].sum;
	}
	t1 = chan_now();
	for (size_t i = 0; i < subs; i++)
		chan_pubsub_unsubscribe(s[i]);
	chan_pubsub_destroy(ps);
	free(s);

	double secs = (double)(t1 - t0) / 1e9, ns = (double)(t1 - t0);
	if (rate < 0)
		printf("bench=%s impl=chan subs=%zu payload=%s burst=%zu msgs=%llu copies=%llu "
		       "secs=%.3f ns_per_publish=%.1f ns_per_copy=%.2f\n",
		       bench, subs, payload_name[p], burst, (unsigned long long)msgs,
		       (unsigned long long)got, secs, ns / (double)msgs,
		       ns / ((double)msgs * (double)subs));
	else
		printf("bench=%s impl=chan rate=%ld subs=%zu msgs=%llu secs=%.3f "
		       "ns_per_publish=%.1f "
		       "churned=%.0f\n",
		       bench, rate, subs, (unsigned long long)msgs, secs, ns / (double)msgs,
		       rate > 0 && ch.secs > 0 ? (double)ch.done / ch.secs : 0.0);
	fflush(stdout);
	uint64_t want = msgs * (uint64_t)subs;
	if (got != want || sum != (msgs * (msgs + 1) / 2) * (uint64_t)subs) {
		fprintf(stderr, "pubsub_bench: received %llu of %llu copies (or a wrong sum)\n",
			(unsigned long long)got, (unsigned long long)want);
		return 1;
	}
	return 0;
}

static int parse_payload(const char *s)
{
	for (int p = 0; p < 3; p++)
		if (strcmp(s, payload_name[p]) == 0)
			return p;
	return -1;
}

static uint64_t msgs_for(uint64_t copies, size_t subs)
{
	uint64_t m = copies / subs;

	return m < 64 ? 64 : m;
}

int main(int argc, char **argv)
{
	static const size_t subs[] = {1, 4, 16, 64, 256, 1024};
	static const size_t bursts[] = {1, 64};
	static const long rates[] = {0, 1000, 10000};
	uint64_t copies = 2000000, churn_msgs = 1000000;
	int fail = 0;

	if (argc == 6 && strcmp(argv[1], "fanout") == 0) {
		int p = parse_payload(argv[3]);
		long sn = atol(argv[2]), b = atol(argv[4]), c = atol(argv[5]);

		if (p < 0 || sn < 1 || (b != 1 && b != 64) || c < 1)
			goto usage;
		return run("pubsub_fanout", (size_t)sn, (enum payload)p, (size_t)b,
			   msgs_for((uint64_t)c, (size_t)sn), -1);
	}
	if (argc == 4 && strcmp(argv[1], "churn") == 0) {
		long r = atol(argv[2]), m = atol(argv[3]);

		if (r < 0 || m < 1)
			goto usage;
		return run("pubsub_churn", 4, P8, 1, (uint64_t)m, r);
	}
	if (argc == 2 && strcmp(argv[1], "-q") == 0) {
		copies = 200000;
		churn_msgs = 100000;
	} else if (argc != 1) {
		goto usage;
	}
	for (size_t si = 0; si < sizeof(subs) / sizeof(subs[0]); si++)
		for (int p = 0; p < 3; p++)
			for (size_t bi = 0; bi < 2; bi++)
				fail |= run("pubsub_fanout", subs[si], (enum payload)p, bursts[bi],
					    msgs_for(copies, subs[si]), -1);
	for (size_t ri = 0; ri < 3; ri++)
		fail |= run("pubsub_churn", 4, P8, 1, churn_msgs, rates[ri]);
	return fail;
usage:
	fprintf(stderr, "usage: %s [-q] | fanout SUBS 8|256|ptr 1|64 COPIES | churn RATE MSGS\n",
		argv[0]);
	return 2;
}
