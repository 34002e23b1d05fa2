/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/net_proc_test.c - chan/net.h across processes: this process
 * sends, receivers are net_peer processes (tests/unit/net_peer.c) that
 * write every value they receive to a pipe, which this process reads.
 * Conservation and per-sender order of 1,000,000 values over ipc:// and
 * tcp://127.0.0.1; two receivers sharing a stream (three processes); a
 * receiver killed with SIGKILL mid-stream and restarted; a receiver stopped
 * with SIGSTOP for a second (the sender blocks within its window, the
 * input backs up, then everything resumes).
 *
 * Every read has a deadline (poll, READ_TIMEOUT_MS); the only sleep is the
 * second the scenario keeps a receiver stopped.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chan/chan.h>
#include <chan/net.h>

#ifndef NET_PEER_PATH
#error "NET_PEER_PATH: the net_peer helper (tests/CMakeLists.txt)"
#endif

#define READ_TIMEOUT_MS 30000

extern char **environ;

static char *ipc_url(const char *tag)
{
	static char urls[8][128]; /* a test uses a few; no free needed */
	static int next_url;
	char *u = urls[next_url++ % 8];

	snprintf(u, sizeof(urls[0]), "ipc:///tmp/chan_net_proc_%d_%s.ipc", (int)getpid(), tag);
	return u;
}

static char *tcp_url(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	static char urls[4][64];
	static int next_url;
	char *u = urls[next_url++ % 4];

	cr_assert(fd >= 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	snprintf(u, sizeof(urls[0]), "tcp://127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
	return u;
}

/* A receiver process and the read end of its stdout. */
struct peer {
	pid_t pid;
	int fd;
	unsigned char part[8];
	size_t have;
};

static void peer_start(struct peer *p, const char *url, size_t cap)
{
	posix_spawn_file_actions_t fa;
	char capbuf[32];
	int fds[2];

	snprintf(capbuf, sizeof(capbuf), "%zu", cap);
	cr_assert_eq(pipe(fds), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	posix_spawn_file_actions_addclose(&fa, fds[1]);
	char *argv[] = {(char *)NET_PEER_PATH, (char *)"recv", (char *)url, capbuf, NULL};

	cr_assert_eq(posix_spawn(&p->pid, NET_PEER_PATH, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	p->fd = fds[0];
	p->have = 0;
}

/* Read one value: 1, or 0 at end of file (the process closed its stdout). */
static int peer_next(struct peer *p, uint64_t *v)
{
	while (p->have < 8) {
		struct pollfd pf = {.fd = p->fd, .events = POLLIN};

		cr_assert_eq(poll(&pf, 1, READ_TIMEOUT_MS), 1, "no value from pid %d in %d ms",
			     (int)p->pid, READ_TIMEOUT_MS);
		ssize_t k = read(p->fd, p->part + p->have, 8 - p->have);

		if (k < 0 && errno == EINTR)
			continue;
		cr_assert_geq(k, 0);
		if (k == 0) {
			cr_assert_eq(p->have, 0, "a torn value");
			return 0;
		}
		p->have += (size_t)k;
	}
	memcpy(v, p->part, 8);
	p->have = 0;
	return 1;
}

static int peer_wait(struct peer *p)
{
	int st;

	cr_assert_eq(waitpid(p->pid, &st, 0), p->pid);
	close(p->fd);
	return st;
}

/* Wait (up to 30 s) until @pid is stopped ('T' in /proc/PID/stat). */
static bool wait_stopped(pid_t pid)
{
	int64_t end = chan_now() + 30 * INT64_C(1000000000);
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	while (chan_now() < end) {
		FILE *f = fopen(path, "r");
		char state = 0;

		if (f) {
			/* pid (comm) state: comm is ours, without spaces. */
			if (fscanf(f, "%*d %*s %c", &state) != 1)
				state = 0;
			fclose(f);
		}
		if (state == 'T')
			return true;
		nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
	}
	return false;
}

struct gen {
	uint64_t next, n;
};

static int gen_next(void *elem, void *arg)
{
	struct gen *g = arg;

	if (g->next == g->n)
		return -EPIPE;
	*(uint64_t *)elem = g->next++;
	return 0;
}

static chan_t *numbers(chan_group_t *g, struct gen *st, uint64_t n, size_t cap)
{
	*st = (struct gen){.n = n};
	chan_t *c = chan_generate_fn(g, gen_next, st,
				     &(chan_opts_t){.elem_size = sizeof(uint64_t), .capacity = cap});
	cr_assert_not_null(c);
	return c;
}

static chan_net_stats_t stats(const chan_net_counters_t *c)
{
	chan_net_stats_t st;

	chan_net_counters_read(c, &st);
	return st;
}

/* ---- 1,000,000 values to another process, in order ---- */

#define MILLION 1000000

static void million(const char *url)
{
	chan_net_counters_t *sc = chan_net_counters_new();
	chan_group_t *g = chan_group_new(chan_ctx_background());
	struct gen st;
	chan_t *in = numbers(g, &st, MILLION, 1024);
	struct peer p;
	uint64_t v, want = 0;

	cr_assert_eq(chan_net_send_to(g, in, url, &(chan_net_opts_t){.counters = sc}), 0);
	chan_release(in);
	peer_start(&p, url, 1024);
	while (peer_next(&p, &v)) {
		cr_assert_eq(v, want, "got %llu, want %llu", (unsigned long long)v,
			     (unsigned long long)want);
		want++;
	}
	cr_assert_eq(want, MILLION, "lost");
	cr_assert_eq(peer_wait(&p), 0, "the receiver ended cleanly at the end of stream");
	cr_assert_eq(chan_group_wait(g), 0);
	cr_assert_eq(stats(sc).acked, MILLION);
	cr_assert_eq(stats(sc).lost, 0);
	chan_group_destroy(g);
	chan_net_counters_destroy(sc);
}

Test(net_proc, ipc_million, .timeout = 240)
{
	million(ipc_url("million"));
}

Test(net_proc, tcp_million, .timeout = 240)
{
	million(tcp_url());
}

/* ---- three processes: two receivers share the stream ---- */

Test(net_proc, two_receivers, .timeout = 240)
{
	const char *url = ipc_url("two");
	enum { N = 200000 };
	chan_group_t *g = chan_group_new(chan_ctx_background());
	struct gen st;
	chan_t *in = numbers(g, &st, N, 1024);
	unsigned char *seen = calloc(N, 1);
	struct peer p[2];
	uint64_t count[2] = {0, 0};

	cr_assert_eq(chan_net_send_to(g, in, url,
				      &(chan_net_opts_t){.window = 64, .receivers = 2}),
		     0);
	chan_release(in);
	peer_start(&p[0], url, 64);
	peer_start(&p[1], url, 64);
	uint64_t last[2] = {0, 0};
	bool open[2] = {true, true};

	/* Both pipes at once: a receiver whose pipe is not read stops
	 * consuming, and with it the stream. */
	while (open[0] || open[1]) {
		struct pollfd pf[2] = {{.fd = open[0] ? p[0].fd : -1, .events = POLLIN},
				       {.fd = open[1] ? p[1].fd : -1, .events = POLLIN}};

		cr_assert_gt(poll(pf, 2, READ_TIMEOUT_MS), 0, "no value in %d ms", READ_TIMEOUT_MS);
		for (int i = 0; i < 2; i++) {
			uint64_t v;

			if (!open[i] || !(pf[i].revents & (POLLIN | POLLHUP)))
				continue;
			if (!peer_next(&p[i], &v)) { /* readable: does not block */
				open[i] = false;
				continue;
			}
			cr_assert_lt(v, N);
			cr_assert_eq(seen[v], 0, "value %llu delivered twice", (unsigned long long)v);
			cr_assert(count[i] == 0 || v > last[i], "receiver %d out of order", i);
			seen[v] = 1;
			last[i] = v;
			count[i]++;
		}
	}
	cr_assert_eq(count[0] + count[1], N, "lost");
	cr_assert(count[0] > 0 && count[1] > 0, "both used: %llu / %llu",
		  (unsigned long long)count[0], (unsigned long long)count[1]);
	cr_assert_eq(peer_wait(&p[0]), 0);
	cr_assert_eq(peer_wait(&p[1]), 0);
	cr_assert_eq(chan_group_wait(g), 0);
	chan_group_destroy(g);
	free(seen);
}

/* ---- SIGKILL mid-stream, restart ---- */

#define KILL_N	    200000
#define KILL_AT	    20000
#define KILL_WINDOW 64

static void sigkill_restart(const char *url)
{
	chan_net_counters_t *sc = chan_net_counters_new();
	chan_group_t *g = chan_group_new(chan_ctx_background());
	struct gen st;
	chan_t *in = numbers(g, &st, KILL_N, 256);
	unsigned char *seen1 = calloc(KILL_N, 1), *seen2 = calloc(KILL_N, 1);
	struct peer p;
	uint64_t v, last = 0, n1 = 0, n2 = 0;

	cr_assert_eq(chan_net_send_to(g, in, url,
				      &(chan_net_opts_t){.window = KILL_WINDOW, .counters = sc}),
		     0);
	chan_release(in);
	/* Capacity 0: a value is acked once the receiver's consumer took it,
	 * so only the one in the consumer's hands can die with the process. */
	peer_start(&p, url, 0);
	while (n1 < KILL_AT && peer_next(&p, &v)) {
		cr_assert(n1 == 0 || v > last, "first receiver: doubled or out of order");
		seen1[v] = 1;
		last = v;
		n1++;
	}
	cr_assert_eq(kill(p.pid, SIGKILL), 0);
	while (peer_next(&p, &v)) { /* what it wrote before it died */
		cr_assert(v > last, "first receiver: doubled or out of order");
		seen1[v] = 1;
		last = v;
		n1++;
	}
	int ws = peer_wait(&p);

	cr_assert(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);
	uint64_t acked_at_kill = stats(sc).acked;

	peer_start(&p, url, 0);
	while (peer_next(&p, &v)) {
		cr_assert(n2 == 0 || v > last, "second receiver: doubled or out of order");
		cr_assert_eq(seen2[v], 0);
		seen2[v] = 1;
		last = v;
		n2++;
	}
	cr_assert_eq(peer_wait(&p), 0);
	cr_assert_eq(chan_group_wait(g), 0);

	uint64_t doubled = 0, missing = 0;

	for (uint64_t i = 0; i < KILL_N; i++) {
		doubled += seen1[i] && seen2[i];
		missing += !seen1[i] && !seen2[i];
	}
	fprintf(stderr,
		"SIGKILL over %s: sent %d, first receiver %llu (acked at kill %llu), second %llu, "
		"doubled %llu, lost %llu\n",
		url, KILL_N, (unsigned long long)n1, (unsigned long long)acked_at_kill,
		(unsigned long long)n2, (unsigned long long)doubled, (unsigned long long)missing);
	cr_assert_leq(missing, 1, "%llu acknowledged values lost", (unsigned long long)missing);
	cr_assert_leq(doubled, KILL_WINDOW, "%llu values reached both", (unsigned long long)doubled);
	cr_assert_eq(stats(sc).acked, KILL_N);
	cr_assert_eq(stats(sc).lost, 0);
	chan_group_destroy(g);
	chan_net_counters_destroy(sc);
	free(seen1);
	free(seen2);
}

Test(net_proc, ipc_sigkill_restart, .timeout = 240)
{
	sigkill_restart(ipc_url("kill"));
}

Test(net_proc, tcp_sigkill_restart, .timeout = 240)
{
	sigkill_restart(tcp_url());
}

/* ---- SIGSTOP: back-pressure within the window ---- */

Test(net_proc, sigstop_backpressure, .timeout = 240)
{
	const char *url = ipc_url("stop");
	enum { N = 100000, IN_CAP = 64, WINDOW = 32 };
	chan_net_counters_t *sc = chan_net_counters_new();
	chan_group_t *g = chan_group_new(chan_ctx_background());
	struct gen st;
	chan_t *in = numbers(g, &st, N, IN_CAP);
	struct peer p;
	uint64_t v, want = 0;

	cr_assert_eq(chan_net_send_to(g, in, url,
				      &(chan_net_opts_t){.window = WINDOW, .counters = sc}),
		     0);
	peer_start(&p, url, 16);
	while (want < 10000 && peer_next(&p, &v))
		cr_assert_eq(v, want++);
	cr_assert_eq(kill(p.pid, SIGSTOP), 0);
	cr_assert(wait_stopped(p.pid), "the receiver did not stop");

	/* The input backs up: the generator is held by the bridge's window. */
	int64_t end = chan_now() + 30 * INT64_C(1000000000);

	while (chan_len(in) < IN_CAP) {
		cr_assert_lt(chan_now(), end, "the input never filled up");
		nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
	}
	/* An ack the receiver sent just before it stopped may still free one
	 * more window; after that nothing moves for the second it is stopped. */
	uint64_t at_stop = stats(sc).acked;

	nanosleep(&(struct timespec){.tv_nsec = 500000000}, NULL);
	uint64_t mid = stats(sc).acked;

	nanosleep(&(struct timespec){.tv_nsec = 500000000}, NULL);
	cr_assert_eq(stats(sc).acked, mid, "acks while the receiver is stopped");
	cr_assert_leq(mid - at_stop, WINDOW, "more than one window after the stop");
	cr_assert_eq(chan_len(in), IN_CAP, "the input stays full: back-pressure");
	cr_assert_eq(kill(p.pid, SIGCONT), 0);
	while (peer_next(&p, &v))
		cr_assert_eq(v, want++, "after SIGCONT");
	cr_assert_eq(want, N);
	cr_assert_eq(peer_wait(&p), 0);
	cr_assert_eq(chan_group_wait(g), 0);
	chan_release(in);
	chan_group_destroy(g);
	chan_net_counters_destroy(sc);
}
