/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/net_peer.c - the other process of net_test's multi-process
 * tests (a fresh process, started with posix_spawn: NNG does not survive a
 * fork of a threaded parent).
 *
 *	net_peer recv URL CAPACITY   receive uint64_t values from URL (dialing)
 *	                             into a channel of CAPACITY; write each one,
 *	                             as 8 raw bytes, to stdout as it is
 *	                             received; exit 0 at end of stream.
 *	net_peer send URL N WINDOW   send 0..N-1 to URL (listening); exit 0 once
 *	                             the end-of-stream was acked.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <chan/chan.h>
#include <chan/net.h>

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t k = write(fd, p, len);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		len -= (size_t)k;
	}
	return 0;
}

static int do_recv(const char *url, size_t cap)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_t *out = chan_net_recv_from(
		g, url, &(chan_net_opts_t){.out = {.elem_size = sizeof(uint64_t), .capacity = cap}});
	uint64_t v;
	int r;

	if (!out) {
		fprintf(stderr, "net_peer: recv_from: %s\n", strerror(errno));
		return 2;
	}
	while ((r = chan_recv(out, &v)) == 0)
		if (write_all(STDOUT_FILENO, &v, sizeof(v)) != 0)
			return 3;
	chan_release(out);
	r = chan_group_wait(g);
	chan_group_destroy(g);
	return r == 0 ? 0 : 4;
}

struct gen {
	uint64_t next, n;
};

static int gen_next(void *elem, void *arg)
{
	struct gen *s = arg;

	if (s->next == s->n)
		return -EPIPE;
	*(uint64_t *)elem = s->next++;
	return 0;
}

static int do_send(const char *url, uint64_t n, size_t window)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());
	struct gen s = {.n = n};
	chan_t *in = chan_generate_fn(g, gen_next, &s,
				      &(chan_opts_t){.elem_size = sizeof(uint64_t), .capacity = 256});
	int r;

	if (!in)
		return 2;
	r = chan_net_send_to(g, in, url, &(chan_net_opts_t){.window = window});
	chan_release(in);
	if (r != 0) {
		fprintf(stderr, "net_peer: send_to: %s\n", strerror(-r));
		return 2;
	}
	r = chan_group_wait(g);
	chan_group_destroy(g);
	return r == 0 ? 0 : 4;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "recv") == 0)
		return do_recv(argv[2], strtoull(argv[3], NULL, 10));
	if (argc == 5 && strcmp(argv[1], "send") == 0)
		return do_send(argv[2], strtoull(argv[3], NULL, 10), strtoull(argv[4], NULL, 10));
	fprintf(stderr, "usage: net_peer recv URL CAP | send URL N WINDOW\n");
	return 1;
}
