/* SPDX-License-Identifier: MIT */
/*
 * bench/net_bench.c - the network bridge (chan/net.h) against raw NNG, in
 * one process, over inproc://, ipc:// and tcp://127.0.0.1:
 *
 *   throughput  values/s from a local channel through chan_net_send_to()
 *               and chan_net_recv_from() into a local channel (8-byte and
 *               1 KiB values, ack window 1, 64 and 1024), against raw NNG
 *               push/pull with one value per message (what a user of NNG
 *               alone would write);
 *   round trip  a value there and back through two bridges (each hop a
 *               frame and its ack), against a raw NNG req/rep echo.
 *
 * Prints a Markdown table: medians of --repeats runs (default 3).
 * Usage: net_bench [--quick] [--repeats R]
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include <chan/chan.h>
#include <chan/net.h>

#include "bench_util.h"

#define MAX_ESZ 1024

static int repeats = 3;
static double scale = 1.0; /* --quick: a tenth of the values */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what, int rv)
{
	fprintf(stderr, "net_bench: %s: %s\n", what, rv ? nng_strerror(rv) : strerror(errno));
	exit(1);
}

/* A fresh URL of @transport ("inproc", "ipc", "tcp"). */
static void make_url(char *u, size_t n, const char *transport)
{
	static int k;

	if (strcmp(transport, "tcp") == 0) {
		struct sockaddr_in a = {.sin_family = AF_INET,
					.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		socklen_t len = sizeof(a);
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
		    getsockname(fd, (struct sockaddr *)&a, &len) != 0)
			die("a free port", 0);
		close(fd);
		snprintf(u, n, "tcp://127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
	} else if (strcmp(transport, "ipc") == 0) {
		snprintf(u, n, "ipc:///tmp/chan_net_bench_%d_%d.ipc", (int)getpid(), k++);
	} else {
		snprintf(u, n, "inproc://chan_net_bench_%d", k++);
	}
}

/* ---- the bridge ---- */

struct feed {
	chan_t *in;
	size_t n;
};

/* Send n values (their first 8 bytes numbered) into in, then close it. */
static void *feed_main(void *arg)
{
	struct feed *f = arg;
	unsigned char v[MAX_ESZ] = {0};

	for (uint64_t i = 0; i < f->n; i++) {
		memcpy(v, &i, sizeof(i));
		if (chan_send(f->in, v) != 0)
			die("chan_send", 0);
	}
	chan_close(f->in);
	return NULL;
}

static double bridge_throughput(const char *transport, size_t esz, size_t window, size_t n)
{
	char url[128];
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_t *in = chan_new(esz, 1024);
	unsigned char v[MAX_ESZ];
	struct feed f = {.in = in, .n = n};
	pthread_t t;
	size_t got = 0;
	int r;

	make_url(url, sizeof(url), transport);
	if (!g || !in || chan_net_send_to(g, in, url, &(chan_net_opts_t){.window = window}) != 0)
		die("chan_net_send_to", 0);
	chan_t *out = chan_net_recv_from(g, url,
					 &(chan_net_opts_t){.out = {.elem_size = esz, .capacity = 1024}});

	if (!out)
		die("chan_net_recv_from", 0);
	double t0 = now_s();

	pthread_create(&t, NULL, feed_main, &f);
	while ((r = chan_recv(out, v)) == 0)
		got++;
	double dt = now_s() - t0;

	pthread_join(t, NULL);
	if (got != n || chan_group_wait(g) != 0)
		die("the bridge lost values", 0);
	chan_release(in);
	chan_release(out);
	chan_group_destroy(g);
	return (double)n / dt;
}

struct echo {
	chan_t *from, *to;
};

static void *echo_main(void *arg)
{
	struct echo *e = arg;
	unsigned char v[MAX_ESZ];

	while (chan_recv(e->from, v) == 0)
		if (chan_send(e->to, v) != 0)
			break;
	chan_close(e->to);
	return NULL;
}

/* Mean round trip in microseconds over @n. */
static double bridge_rtt(const char *transport, size_t esz, size_t n)
{
	char u1[128], u2[128];
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_t *in1 = chan_new(esz, 1), *in2 = chan_new(esz, 1);
	const chan_net_opts_t ro = {.out = {.elem_size = esz, .capacity = 1}};
	unsigned char v[MAX_ESZ] = {0};
	pthread_t t;

	make_url(u1, sizeof(u1), transport);
	make_url(u2, sizeof(u2), transport);
	if (chan_net_send_to(g, in1, u1, NULL) != 0 || chan_net_send_to(g, in2, u2, NULL) != 0)
		die("chan_net_send_to", 0);
	struct echo e = {.from = chan_net_recv_from(g, u1, &ro), .to = in2};
	chan_t *out2 = chan_net_recv_from(g, u2, &ro);

	if (!e.from || !out2)
		die("chan_net_recv_from", 0);
	pthread_create(&t, NULL, echo_main, &e);
	/* One round first: the connections are up before the clock starts. */
	chan_send(in1, v);
	chan_recv(out2, v);
	double t0 = now_s();

	for (size_t i = 0; i < n; i++) {
		if (chan_send(in1, v) != 0 || chan_recv(out2, v) != 0)
			die("round trip", 0);
	}
	double dt = now_s() - t0;

	chan_close(in1);
	while (chan_recv(out2, v) == 0)
		;
	pthread_join(t, NULL);
	chan_group_wait(g);
	chan_release(in1);
	chan_release(in2);
	chan_release(e.from);
	chan_release(out2);
	chan_group_destroy(g);
	return dt / (double)n * 1e6;
}

/* ---- raw NNG ---- */

struct raw {
	nng_socket s;
	size_t esz, n;
};

static void *raw_push_main(void *arg)
{
	struct raw *p = arg;
	unsigned char v[MAX_ESZ] = {0};
	int rv;

	for (uint64_t i = 0; i < p->n; i++) {
		memcpy(v, &i, sizeof(i));
		if ((rv = nng_send(p->s, v, p->esz, 0)) != 0)
			die("nng_send", rv);
	}
	return NULL;
}

static double raw_throughput(const char *transport, size_t esz, size_t n)
{
	char url[128];
	nng_socket push, pull;
	unsigned char v[MAX_ESZ];
	pthread_t t;
	int rv;

	make_url(url, sizeof(url), transport);
	if ((rv = nng_push0_open(&push)) != 0 || (rv = nng_listen(push, url, NULL, 0)) != 0 ||
	    (rv = nng_pull0_open(&pull)) != 0 || (rv = nng_dial(pull, url, NULL, 0)) != 0)
		die("raw push/pull", rv);
	struct raw p = {.s = push, .esz = esz, .n = n};
	double t0 = now_s();

	pthread_create(&t, NULL, raw_push_main, &p);
	for (size_t i = 0; i < n; i++) {
		size_t sz = sizeof(v);

		if ((rv = nng_recv(pull, v, &sz, 0)) != 0)
			die("nng_recv", rv);
	}
	double dt = now_s() - t0;

	pthread_join(t, NULL);
	/* Both ends quiet now: the close cannot race an arriving message. */
	nng_close(pull);
	nng_close(push);
	return (double)n / dt;
}

static void *raw_echo_main(void *arg)
{
	struct raw *p = arg;
	unsigned char v[MAX_ESZ];

	for (size_t i = 0; i < p->n; i++) {
		size_t sz = sizeof(v);

		if (nng_recv(p->s, v, &sz, 0) != 0 || nng_send(p->s, v, sz, 0) != 0)
			break;
	}
	return NULL;
}

static double raw_rtt(const char *transport, size_t esz, size_t n)
{
	char url[128];
	nng_socket req, rep;
	unsigned char v[MAX_ESZ] = {0};
	pthread_t t;
	int rv;

	make_url(url, sizeof(url), transport);
	if ((rv = nng_rep0_open(&rep)) != 0 || (rv = nng_listen(rep, url, NULL, 0)) != 0 ||
	    (rv = nng_req0_open(&req)) != 0 || (rv = nng_dial(req, url, NULL, 0)) != 0)
		die("raw req/rep", rv);
	struct raw p = {.s = rep, .esz = esz, .n = n + 1};

	pthread_create(&t, NULL, raw_echo_main, &p);
	double t0 = 0;

	for (size_t i = 0; i <= n; i++) {
		size_t sz = sizeof(v);

		if (i == 1)
			t0 = now_s(); /* after one warm-up round */
		if ((rv = nng_send(req, v, esz, 0)) != 0 || (rv = nng_recv(req, v, &sz, 0)) != 0)
			die("raw round trip", rv);
	}
	double dt = now_s() - t0;

	pthread_join(t, NULL);
	nng_close(req);
	nng_close(rep);
	return dt / (double)n * 1e6;
}

/* ---- driver ---- */

static size_t count(size_t n)
{
	size_t k = (size_t)((double)n * scale);

	return k < 100 ? 100 : k;
}

static double median_of(double (*run)(const char *, size_t, size_t, size_t, int), const char *tr,
			size_t esz, size_t w, size_t n, int which)
{
	double v[16];

	for (int i = 0; i < repeats; i++)
		v[i] = run(tr, esz, w, n, which);
	return bench_median(v, (size_t)repeats);
}

/* which: 0 bridge throughput, 1 raw throughput, 2 bridge rtt, 3 raw rtt. */
static double one(const char *tr, size_t esz, size_t w, size_t n, int which)
{
	switch (which) {
	case 0:
		return bridge_throughput(tr, esz, w, n);
	case 1:
		return raw_throughput(tr, esz, n);
	case 2:
		return bridge_rtt(tr, esz, n);
	default:
		return raw_rtt(tr, esz, n);
	}
}

int main(int argc, char **argv)
{
	static const char *transports[] = {"inproc", "ipc", "tcp"};
	static const size_t sizes[] = {8, 1024};
	static const size_t windows[] = {1, 64, 1024};

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			scale = 0.1;
			repeats = 1;
		} else if (strcmp(argv[i], "--repeats") == 0 && i + 1 < argc) {
			repeats = atoi(argv[++i]);
		} else if (strncmp(argv[i], "--repeats=", 10) == 0) {
			repeats = atoi(argv[i] + 10);
		}
	}
	if (repeats < 1 || repeats > 16)
		repeats = 3;
	printf("net_bench: %d run(s) each, medians; %ld CPUs; NNG %s\n\n", repeats,
	       sysconf(_SC_NPROCESSORS_ONLN), nng_version());
	printf("| transport | value | raw NNG push/pull | bridge w=1 | bridge w=64 | bridge w=1024 "
	       "| bridge(1024)/raw | rtt raw req/rep | rtt bridge |\n");
	printf("|---|---|---|---|---|---|---|---|---|\n");
	for (size_t t = 0; t < 3; t++) {
		for (size_t s = 0; s < 2; s++) {
			size_t esz = sizes[s], n = count(esz == 8 ? 200000 : 50000);
			double raw = median_of(one, transports[t], esz, 0, n, 1), br[3];

			for (size_t w = 0; w < 3; w++)
				br[w] = median_of(one, transports[t], esz, windows[w],
						  windows[w] == 1 ? count(10000) : n, 0);
			double rr = median_of(one, transports[t], esz, 0, count(5000), 3);
			double brt = median_of(one, transports[t], esz, 0, count(5000), 2);

			printf("| %s | %zu B | %.2f M/s | %.3f M/s | %.2f M/s | %.2f M/s | %.0fx "
			       "| %.1f us | %.1f us |\n",
			       transports[t], esz, raw / 1e6, br[0] / 1e6, br[1] / 1e6, br[2] / 1e6,
			       br[2] / raw, rr, brt);
			fflush(stdout);
		}
	}
	printf("\nvalues/s: median of runs; rtt: mean round trip (the bridge's is two hops, "
	       "each a frame and its ack; raw req/rep's is one request and its reply).\n");
	return 0;
}
