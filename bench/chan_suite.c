/* SPDX-License-Identifier: MIT */
/*
 * bench/chan_suite.c - crossbeam-channel's benchmark workloads on chan, with
 * the same command line and output as every peer under bench/peers/:
 *
 *   chan_suite <scenario> <cap> <threads> <msgs>
 *     scenario  seq spsc mpsc mpmc select_rx select_both pingpong
 *               select_shared, and for chan only spsc_burst mpsc_burst
 *               mpmc_burst (chan_send_burst/chan_recv_burst, 64 at a time)
 *     cap       0, 1, N (= msgs: never full) or unbounded
 *
 * It runs the workload once and prints one line:
 *   impl=chan scenario=<s> cap=<c> threads=<t> msgs=<n> secs=<x> [ns_per_op=<y>]
 * or secs=n/a for a row it cannot run (seq needs room for every message).
 * Messages are word-sized; the receivers check the count and the sum.
 *
 * With CHAN_SUITE_GOROUTINES=1 in the environment every worker of a scenario
 * is a goroutine (chan_go() and a wait group instead of pthread_create() and
 * pthread_join()), and so is the scenario's main role: main() starts it and
 * waits, as Go's main is a goroutine. The line then says impl=chan_go.
 * CHAN_PROCS and CHAN_GO_MODE apply as to any program.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <chan/chan.h>

#define BURST 64
#define MAX_T 64

static const char *scenario, *cap_arg;
static int threads;
static long msgs;
static size_t cap;
static int64_t t_start; /* set by each workload once its channels exist */
static bool goroutines; /* CHAN_SUITE_GOROUTINES=1 */

/*
 * A crew: the workers of a scenario, threads or goroutines, started with
 * crew_go() and all waited for by crew_wait().
 */
struct crew_g {
	void *(*fn)(void *);
	void *arg;
	chan_wg_t *wg;
};

struct crew {
	int n;
	chan_wg_t wg;
	pthread_t t[2 * MAX_T];
	struct crew_g g[2 * MAX_T];
};

static void crew_trampoline(void *arg)
{
	struct crew_g *g = arg;

	g->fn(g->arg);
	chan_wg_done(g->wg);
}

static void crew_go(struct crew *c, void *(*fn)(void *), void *arg)
{
	int k = c->n++;

	if (!goroutines) {
		if (pthread_create(&c->t[k], NULL, fn, arg) != 0) {
			perror("pthread_create");
			exit(1);
		}
		return;
	}
	if (k == 0)
		chan_wg_init(&c->wg);
	c->g[k].fn = fn;
	c->g[k].arg = arg;
	c->g[k].wg = &c->wg;
	chan_wg_add(&c->wg, 1);
	if (chan_go(crew_trampoline, &c->g[k]) != 0) {
		perror("chan_go");
		exit(1);
	}
}

static void crew_wait(struct crew *c)
{
	if (goroutines) {
		if (c->n)
			chan_wg_wait(&c->wg);
		return;
	}
	for (int k = 0; k < c->n; k++)
		pthread_join(c->t[k], NULL);
}

static chan_t *mk(void)
{
	chan_t *c = chan_new_opts(&(chan_opts_t){ .elem_size = sizeof(uint64_t), .capacity = cap });

	if (!c) {
		perror("chan_new");
		exit(1);
	}
	return c;
}

static void check(uint64_t got, uint64_t want)
{
	if (got != want) {
		fprintf(stderr, "chan_suite: %s: checksum %llu, want %llu\n", scenario,
			(unsigned long long)got, (unsigned long long)want);
		exit(1);
	}
}

/* Sum of 1..n: each sender sends 1..n. */
static uint64_t tri(long n)
{
	return (uint64_t)n * (uint64_t)(n + 1) / 2;
}

struct job {
	chan_t **ch;
	int nch;
	long count;
	bool burst;
	uint64_t sum;
};

static void *sender(void *arg)
{
	struct job *j = arg;
	uint64_t buf[BURST];

	if (j->burst) {
		long i = 1;

		while (i <= j->count) {
			size_t n = 0;

			for (; n < BURST && i + (long)n <= j->count; n++)
				buf[n] = (uint64_t)(i + (long)n);
			for (size_t off = 0; off < n;)
				off += chan_send_burst(j->ch[0], buf + off, n - off);
			i += (long)n;
		}
		return NULL;
	}
	if (j->nch == 1) {
		for (long i = 1; i <= j->count; i++) {
			uint64_t v = (uint64_t)i;

			chan_send(j->ch[0], &v);
		}
		return NULL;
	}
	chan_case_t cs[MAX_T];
	uint64_t v;

	for (int k = 0; k < j->nch; k++)
		cs[k] = (chan_case_t){ .chan = j->ch[k], .op = CHAN_OP_SEND, .elem = &v };
	for (long i = 1; i <= j->count; i++) {
		v = (uint64_t)i;
		chan_select(cs, (size_t)j->nch);
	}
	return NULL;
}

static void *receiver(void *arg)
{
	struct job *j = arg;
	uint64_t v, buf[BURST], sum = 0; /* a local sum: the jobs share cache lines */

	if (j->burst) {
		for (long got = 0; got < j->count;) {
			size_t max = j->count - got < BURST ? (size_t)(j->count - got) : BURST;
			size_t n = chan_recv_burst(j->ch[0], buf, max);

			for (size_t k = 0; k < n; k++)
				sum += buf[k];
			got += (long)n;
		}
	} else if (j->nch == 1) {
		for (long i = 0; i < j->count; i++) {
			chan_recv(j->ch[0], &v);
			sum += v;
		}
	} else {
		chan_case_t cs[MAX_T];

		for (int k = 0; k < j->nch; k++)
			cs[k] = (chan_case_t){ .chan = j->ch[k], .op = CHAN_OP_RECV, .elem = &v };
		for (long i = 0; i < j->count; i++) {
			chan_select(cs, (size_t)j->nch);
			sum += v;
		}
	}
	j->sum = sum;
	return NULL;
}

/* np senders and nr receivers over nch channels; each sender gets its own
 * channel when nch == np (select_rx), else all share ch[0..nch). */
static void run_threads(int np, int nr, int nch, bool sender_selects, bool burst, bool own_channel)
{
	chan_t *ch[MAX_T];
	struct job sj[MAX_T], rj[MAX_T];
	struct crew crew = { 0 };
	long per_s = msgs / np, per_r = per_s * np / nr;
	uint64_t sum = 0;

	/* As for the peers (and crossbeam's own benchmark suite): the clock
	 * starts before the channels are made, so a row costs what a user
	 * pays, whenever an implementation commits a ring's memory (at
	 * creation, or as it is reached). */
	t_start = chan_now();
	for (int k = 0; k < nch; k++)
		ch[k] = mk();
	for (int i = 0; i < nr; i++) {
		rj[i] = (struct job){ ch, nch, per_r, burst, 0 };
		crew_go(&crew, receiver, &rj[i]);
	}
	for (int i = 0; i < np; i++) {
		sj[i] = (struct job){ own_channel ? &ch[i] : ch, sender_selects ? nch : 1, per_s,
				      burst, 0 };
		crew_go(&crew, sender, &sj[i]);
	}
	crew_wait(&crew);
	for (int i = 0; i < nr; i++)
		sum += rj[i].sum;
	check(sum, (uint64_t)np * tri(per_s));
	for (int k = 0; k < nch; k++)
		chan_release(ch[k]);
}

static void run_seq(void)
{
	uint64_t v, sum = 0;
	chan_t *c;

	t_start = chan_now(); /* creation included, as in run_threads() */
	c = mk();
	for (long i = 1; i <= msgs; i++) {
		v = (uint64_t)i;
		chan_send(c, &v);
	}
	for (long i = 0; i < msgs; i++) {
		chan_recv(c, &v);
		sum += v;
	}
	check(sum, tri(msgs));
	chan_release(c);
}

struct pong {
	chan_t *a, *b;
	long rounds;
};

static void *ponger(void *arg)
{
	struct pong *p = arg;
	uint64_t v;

	for (long i = 0; i < p->rounds; i++) {
		chan_recv(p->a, &v);
		chan_send(p->b, &v);
	}
	return NULL;
}

static double run_pingpong(void)
{
	struct pong p = { mk(), mk(), msgs / 10 };
	struct crew crew = { 0 };
	uint64_t v;
	int64_t t0;

	t_start = chan_now();
	crew_go(&crew, ponger, &p);
	t0 = chan_now();
	for (long i = 0; i < p.rounds; i++) {
		v = (uint64_t)i;
		chan_send(p.a, &v);
		chan_recv(p.b, &v);
		check(v, (uint64_t)i);
	}
	double ns = (double)(chan_now() - t0) / (double)p.rounds;

	crew_wait(&crew);
	chan_release(p.a);
	chan_release(p.b);
	return ns;
}

struct shared_sel {
	chan_t *shared;
	long iters;
};

static void *shared_worker(void *arg)
{
	struct shared_sel *s = arg;
	chan_t *priv = chan_new(sizeof(uint64_t), 1);
	uint64_t v = 1, got;
	chan_case_t cs[3] = { { .chan = priv, .op = CHAN_OP_SEND, .elem = &v },
			      { .chan = priv, .op = CHAN_OP_RECV, .elem = &got },
			      { .chan = s->shared, .op = CHAN_OP_RECV, .elem = &got } };

	for (long i = 0; i < s->iters; i++)
		if (chan_select(cs, 3) == 2)
			abort(); /* nobody ever sends on the shared channel */
	chan_release(priv);
	return NULL;
}

static double run_select_shared(void)
{
	struct shared_sel s = { chan_new(sizeof(uint64_t), 0), msgs / threads };
	struct crew crew = { 0 };
	int64_t t0 = t_start = chan_now();

	for (int i = 0; i < threads; i++)
		crew_go(&crew, shared_worker, &s);
	crew_wait(&crew);
	chan_release(s.shared);
	return (double)(chan_now() - t0) / (double)s.iters;
}

static double ns = -1; /* the latency rows' ns_per_op */

static void *run_scenario(void *arg)
{
	(void)arg;
	if (!strcmp(scenario, "seq"))
		run_seq();
	else if (!strcmp(scenario, "spsc"))
		run_threads(1, 1, 1, false, false, false);
	else if (!strcmp(scenario, "mpsc"))
		run_threads(threads, 1, 1, false, false, false);
	else if (!strcmp(scenario, "mpmc"))
		run_threads(threads, threads, 1, false, false, false);
	else if (!strcmp(scenario, "spsc_burst"))
		run_threads(1, 1, 1, false, true, false);
	else if (!strcmp(scenario, "mpsc_burst"))
		run_threads(threads, 1, 1, false, true, false);
	else if (!strcmp(scenario, "mpmc_burst"))
		run_threads(threads, threads, 1, false, true, false);
	else if (!strcmp(scenario, "select_rx"))
		run_threads(threads, 1, threads, false, false, true);
	else if (!strcmp(scenario, "select_both"))
		run_threads(threads, threads, threads, true, false, false);
	else if (!strcmp(scenario, "pingpong"))
		ns = run_pingpong();
	else if (!strcmp(scenario, "select_shared"))
		ns = run_select_shared();
	return NULL;
}

static bool known(const char *s)
{
	static const char *const names[] = { "seq",	    "spsc",	   "mpsc",
					     "mpmc",	    "spsc_burst",  "mpsc_burst",
					     "mpmc_burst",  "select_rx",   "select_both",
					     "pingpong",    "select_shared" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i]))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	const char *env = getenv("CHAN_SUITE_GOROUTINES");

	if (argc != 5) {
		fprintf(stderr, "usage: %s <scenario> <0|1|N|unbounded> <threads> <msgs>\n", argv[0]);
		return 2;
	}
	goroutines = env && !strcmp(env, "1");
	scenario = argv[1];
	cap_arg = argv[2];
	threads = atoi(argv[3]);
	msgs = atol(argv[4]);
	if (threads < 1 || threads > MAX_T || msgs < threads * 10L) {
		fprintf(stderr, "chan_suite: bad threads or msgs\n");
		return 2;
	}
	if (!strcmp(cap_arg, "N"))
		cap = (size_t)msgs;
	else if (!strcmp(cap_arg, "unbounded"))
		cap = CHAN_UNBOUNDED;
	else
		cap = strtoul(cap_arg, NULL, 10);

	printf("impl=%s scenario=%s cap=%s threads=%d msgs=%ld ", goroutines ? "chan_go" : "chan",
	       scenario, cap_arg, threads, msgs);
	if (!strcmp(scenario, "seq") && cap != CHAN_UNBOUNDED && cap < (size_t)msgs) {
		printf("secs=n/a\n");
		return 0;
	}
	if (!known(scenario)) {
		printf("secs=n/a\n");
		return 0;
	}
	if (goroutines) {
		struct crew crew = { 0 };

		crew_go(&crew, run_scenario, NULL);
		crew_wait(&crew);
	} else {
		run_scenario(NULL);
	}
	printf("secs=%.6f", (double)(chan_now() - t_start) / 1e9);
	if (ns >= 0)
		printf(" ns_per_op=%.1f", ns);
	printf("\n");
	return 0;
}
